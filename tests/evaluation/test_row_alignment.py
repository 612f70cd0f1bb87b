"""Codes and factors stay row for row.

evaluate_model: a tiny real VAE whose posterior mean is exactly the factor values written into
each image's pixels, so every metric is near perfect when codes and factors are aligned and near
chance when any rows are mixed up. Faces: load_ground_truth returns factors in the aligned
index's order, with real parquet files whose orders differ.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from gatedvae.training.infer import encode_mean
from gatedvae.evaluation.evaluate import EvalSettings, evaluate_model, split_rows
from gatedvae.faces.scoring import FACTOR_NAMES, load_ground_truth
from gatedvae.training.models.base import VAE

SIZE, PIXEL_MAX, STEP = 4, 255, 10  # factor class c is written as pixel value STEP * c
CLASSES = (6, 5)


class _ReadFactorsVAE(VAE):
    """Linear encoder reading pixel k as code k (mu_k = factor class k), logvar 0."""

    def __init__(self):
        super().__init__(latent_dim=2, image_size=SIZE)
        pixels = SIZE * SIZE
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 4))
        self.decoder = nn.Sequential(nn.Linear(2, pixels), nn.Unflatten(1, (1, SIZE, SIZE)))
        with torch.no_grad():
            self.encoder[1].weight.zero_()
            self.encoder[1].bias.zero_()
            self.encoder[1].weight[0, 0] = PIXEL_MAX / STEP
            self.encoder[1].weight[1, 1] = PIXEL_MAX / STEP


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, c, n) for c in CLASSES], axis=1)
    images = rng.integers(0, 2, (n, SIZE, SIZE)).astype(np.uint8) * 200
    images[:, 0, 0] = STEP * factors[:, 0]
    images[:, 0, 1] = STEP * factors[:, 1]
    return images, factors


SETTINGS = EvalSettings(n_train=180, n_test=90, seed=3, rf_trees=10, rf_depth=6, gbt_n_train=120, gbt_n_test=60)


def test_the_net_reads_the_factors():
    images, factors = _data()
    codes = encode_mean(_ReadFactorsVAE(), images, pixel_max=PIXEL_MAX, device="cpu")
    np.testing.assert_allclose(codes, factors, atol=1e-4)


def test_evaluate_model_keeps_codes_and_factors_aligned():
    images, factors = _data()
    train_rows, test_rows = split_rows(len(images), SETTINGS)
    assert not np.array_equal(train_rows, np.arange(len(train_rows)))  # a real subset, not a prefix
    metrics, importance = evaluate_model(
        _ReadFactorsVAE(), images, factors, pixel_max=PIXEL_MAX, partition_sizes=[1, 1],
        intended=[0, 1], factor_names=["a", "b"], settings=SETTINGS)
    for reg in ("lasso", "rf"):
        assert metrics[reg]["informativeness"]["avg"] < 0.1, reg
        assert metrics[reg]["disentanglement"]["avg"] > 0.9, reg
        assert metrics[reg]["placement"]["mean"] > 0.95, reg
        assert np.argmax(importance[reg][:, 0]) == 0 and np.argmax(importance[reg][:, 1]) == 1
    assert metrics["factor_vae_metric"]["eval_accuracy"] == 1.0
    assert metrics["beta_vae_metric"]["eval_accuracy"] > 0.95
    assert metrics["mig"]["mig"] > 0.8
    # the train rows train SAP's SVMs and explicitness' regressions, the test rows score them
    assert metrics["sap"]["sap"] > 0.3 and metrics["modularity_explicitness"]["modularity"] > 0.9
    assert metrics["modularity_explicitness"]["explicitness_test"] > 0.95
    gbt = metrics["dci_gbt"]  # on a subset of the train and test rows, still aligned
    assert (gbt["n_train"], gbt["n_test"]) == (120, 60)
    assert gbt["informativeness_test"] == 1.0 and gbt["disentanglement"] > 0.9
    without, _ = evaluate_model(
        _ReadFactorsVAE(), images, factors, pixel_max=PIXEL_MAX, partition_sizes=[1, 1],
        intended=[0, 1], factor_names=["a", "b"], settings=SETTINGS, gbt_dci=False)
    assert "dci_gbt" not in without


# --- faces ---------------------------------------------------------------------------------------

def _write(tmp_path, aligned_ids, factor_ids):
    raw, aligned = tmp_path / "raw", tmp_path / "aligned"
    raw.mkdir()
    aligned.mkdir()
    pd.DataFrame({"image_id": aligned_ids}).to_parquet(aligned / "index.parquet")
    # each factor value names its image: image "000123.jpg", factor j -> 123 + j / 10
    table = pd.DataFrame({"image_id": factor_ids})
    for j, name in enumerate(FACTOR_NAMES):
        table[name] = [int(i[:6]) + j / 10 for i in factor_ids]
    table.insert(1, "identity", 7)  # an extra column that is not a factor
    table.to_parquet(raw / "factors.parquet")
    return raw, aligned


def _expected(ids):
    return np.array([[int(i[:6]) + j / 10 for j in range(len(FACTOR_NAMES))] for i in ids])


def test_faces_ground_truth_follows_the_aligned_index_order(tmp_path):
    factor_ids = [f"{i:06d}.jpg" for i in range(1, 9)]
    aligned_ids = [factor_ids[i] for i in (5, 0, 7, 2, 3)]  # shuffled, and some faces dropped
    raw, aligned = _write(tmp_path, aligned_ids, factor_ids)
    truth = load_ground_truth(raw, aligned)
    assert truth.shape == (5, len(FACTOR_NAMES)) and truth.dtype == np.float64
    np.testing.assert_array_equal(truth, _expected(aligned_ids))


def test_faces_ground_truth_missing_image_is_named(tmp_path):
    raw, aligned = _write(tmp_path, ["000002.jpg", "000009.jpg"], ["000001.jpg", "000002.jpg"])
    with pytest.raises(ValueError, match="000009.jpg"):
        load_ground_truth(raw, aligned)
    assert load_ground_truth(tmp_path / "nowhere", aligned) is None
