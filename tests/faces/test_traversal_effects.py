"""Known answers for the traversal-effect measure (faces/traversal_effects.py): a fake VAE whose
decoder draws faces from known factor patterns, so each latent dim moves a known factor by a
known amount per unit of z, read back by the estimator fitted on faces drawn the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gatedvae.faces import traversal_effects as T
from gatedvae.faces.spec import FACTOR_NAMES
from gatedvae.training.config import TrainConfig

SIZE = 16
RNG = np.random.default_rng(0)
PATTERNS = RNG.normal(0, 1, (len(FACTOR_NAMES), SIZE * SIZE)) * 0.02   # pixels per factor unit
BASE = 0.5


def draw(factors_in_degrees: np.ndarray) -> np.ndarray:
    """Faces [N, SIZE, SIZE] in [0, 1]: the base plus each factor times its pattern."""
    return (BASE + factors_in_degrees @ PATTERNS).reshape(-1, SIZE, SIZE)


class FakeVAE(torch.nn.Module):
    """encode: every image to mu 0; decode: z_d moves factor effects[d] = (factor, amount) per
    unit, drawn with the same patterns (logits, so the traversal's sigmoid gives the drawing)."""

    def __init__(self, effects: dict[int, list[tuple[str, float]]], latent_dim: int = 8):
        super().__init__()
        self.effects, self.latent_dim = effects, latent_dim

    def encode(self, x):
        n = len(x)
        return torch.zeros(n, self.latent_dim), torch.zeros(n, self.latent_dim)

    def decode(self, z):
        factors = np.zeros((len(z), len(FACTOR_NAMES)))
        for d, moves in self.effects.items():
            for name, amount in moves:
                factors[:, FACTOR_NAMES.index(name)] += amount * z[:, d].numpy()
        image = np.clip(draw(factors), 1e-6, 1 - 1e-6)
        return torch.from_numpy(np.log(image / (1 - image))).float()[:, None]


@pytest.fixture(scope="module")
def estimator():
    truth = RNG.uniform(-1, 1, (800, len(FACTOR_NAMES)))
    truth_degrees = truth.copy()
    truth[:, :2] /= T.DEGREES   # the estimator takes yaw and pitch in radians, as factors.parquet has them
    return T.FactorEstimator(alpha=1e-6).fit(draw(truth_degrees), truth)


def test_the_estimator_reads_the_drawn_factors(estimator):
    truth = RNG.uniform(-1, 1, (200, len(FACTOR_NAMES)))
    degrees = truth.copy()
    truth[:, :2] /= T.DEGREES
    assert min(estimator.r2(draw(degrees), truth).values()) > 0.999


def test_slopes_per_unit_of_z_are_the_known_ones(estimator):
    cfg = TrainConfig(latent_dim=8, partitions=[2, 6], pixel_max=255)
    # pose dims: z0 turns yaw 3 degrees per unit, z1 pitch 2; expression dims: z2 smile 0.2, z3 brow 0.1
    model = FakeVAE({0: [("yaw", 3.0)], 1: [("pitch", 2.0)], 2: [("smile", 0.2)], 3: [("brow", 0.1)]})
    images = np.zeros((5, SIZE, SIZE), np.uint8)
    out = T.partition_effects(model, cfg, images, {"pose": [0, 1], "expression": [2, 3]},
                              np.linspace(-2, 2, 5), estimator)
    assert out["pose"]["pose_change"] == pytest.approx((3.0 + 2.0) / 2, abs=1e-3)
    assert out["pose"]["expression_change"] == pytest.approx(0.0, abs=1e-3)
    assert out["expression"]["expression_change"] == pytest.approx((0.2 + 0.1) / 2, abs=1e-4)
    assert out["expression"]["pose_change"] == pytest.approx(0.0, abs=1e-3)
    assert out["pose"]["per_dim"][0]["yaw_per_unit"] == pytest.approx(3.0, abs=1e-3)
    assert out["pose_selectivity"] > 100 and out["expression_selectivity"] > 100


def test_a_model_that_mixes_the_factors_shows_no_split(estimator):
    """Every dim moves pose and expression alike: both selectivities are 1 (the un-gated case)."""
    cfg = TrainConfig(latent_dim=8, partitions=[2, 6], pixel_max=255)
    mixed = [("yaw", 2.0), ("smile", 0.1)]
    model = FakeVAE({d: mixed for d in range(4)})
    out = T.partition_effects(model, cfg, np.zeros((3, SIZE, SIZE), np.uint8),
                              {"pose": [0, 1], "expression": [2, 3]}, np.linspace(-2, 2, 5), estimator)
    assert out["pose_selectivity"] == pytest.approx(1.0, abs=1e-3)
    assert out["expression_selectivity"] == pytest.approx(1.0, abs=1e-3)
    # swapped partitions: selectivity below 1
    swapped = FakeVAE({0: [("smile", 0.2)], 1: [("brow", 0.1)], 2: [("yaw", 3.0)], 3: [("pitch", 2.0)]})
    out = T.partition_effects(swapped, cfg, np.zeros((3, SIZE, SIZE), np.uint8),
                              {"pose": [0, 1], "expression": [2, 3]}, np.linspace(-2, 2, 5), estimator)
    assert out["pose_selectivity"] < 0.01 and out["expression_selectivity"] < 0.01


def test_a_partition_without_active_dims_has_no_selectivity(estimator):
    cfg = TrainConfig(latent_dim=8, partitions=[2, 6], pixel_max=255)
    out = T.partition_effects(FakeVAE({2: [("smile", 0.2)]}), cfg, np.zeros((2, SIZE, SIZE), np.uint8),
                              {"pose": [], "expression": [2]}, np.linspace(-2, 2, 5), estimator)
    assert np.isnan(out["pose"]["pose_change"]) and np.isnan(out["pose_selectivity"])


def test_active_dims_use_the_collapse_threshold():
    codes = np.zeros((100, 8))
    codes[:, 1] = np.linspace(-1, 1, 100)      # varies
    codes[:, 5] = np.linspace(-0.05, 0.05, 100)  # variance under 0.01
    assert T.active_dims(codes, [2, 6]) == {"pose": [1], "expression": []}
