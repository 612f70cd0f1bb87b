"""The FactorVAE and beta-VAE metrics report held-out accuracy, not the accuracy on the points
their classifier was fit to.

Codes that carry nothing about the factors, with very few training points: the classifier fits
its training points (training accuracy near 1) but cannot beat chance on held-out points. The
held-out accuracy has a known expected value, far from the training one.
"""

import numpy as np
import pytest

from gatedvae.evaluation.metrics import beta_vae_metric, factor_vae_metric

SIZES = (3, 4, 5, 6)  # four factors: chance is 1/4


def grid(sizes=SIZES) -> np.ndarray:
    axes = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    return np.stack(axes, axis=-1).reshape(-1, len(sizes))


def test_factor_vae_metric_eval_accuracy_is_held_out():
    classes = grid()
    n_dims = 12
    codes = np.random.default_rng(0).standard_normal((len(classes), n_dims))
    res = factor_vae_metric(codes, classes, n_train_votes=3, n_eval_votes=4000, batch_size=16, seed=0)
    assert res.votes.sum() == 3
    covered = int((res.dim_to_factor >= 0).sum())
    assert 1 <= covered <= 3
    # on its own votes the majority vote is right (nearly) always
    assert res.train_accuracy == pytest.approx(res.votes.max(axis=1).sum() / 3)
    assert res.train_accuracy >= 2 / 3
    # held out: the argmin dim of a vote is (nearly) uniform over the 12 dims and independent of
    # its factor; a dim without training votes predicts nothing, a covered one is right 1/4 of the time
    expected = covered / n_dims * (1 / len(SIZES))
    assert res.eval_accuracy == pytest.approx(expected, abs=0.04)
    assert res.train_accuracy - res.eval_accuracy > 0.5
    assert res.to_dict()["eval_accuracy"] == res.eval_accuracy


def test_beta_vae_metric_eval_accuracy_is_held_out():
    classes = grid()
    codes = np.random.default_rng(1).standard_normal((len(classes), 30))
    res = beta_vae_metric(codes, classes, n_train_points=12, n_eval_points=3000, batch_size=8, seed=0)
    # 12 points in 30 dims are separable: the classifier fits them all
    assert res.train_accuracy == 1.0
    # held out, the features carry nothing about the factor: chance, 1/4
    assert res.eval_accuracy == pytest.approx(1 / len(SIZES), abs=0.05)
    assert res.to_dict() == {"train_accuracy": 1.0, "eval_accuracy": res.eval_accuracy}
