"""FactorVAE metric, beta-VAE metric and MIG: known answers on a full factor grid."""

import math

import numpy as np
import pytest

from gatedvae.evaluation.metrics import beta_vae_metric, factor_vae_metric, mig
from gatedvae.evaluation.metrics._common import RowsByClass
from gatedvae.evaluation.metrics.mig import discretise

SIZES = (3, 4, 5, 6)


def grid(sizes=SIZES) -> np.ndarray:
    """Every combination of factor classes, one row each (like dSprites' full grid)."""
    axes = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    return np.stack(axes, axis=-1).reshape(-1, len(sizes))


def standardised(classes: np.ndarray) -> np.ndarray:
    c = classes.astype(float)
    return (c - c.mean(axis=0)) / c.std(axis=0)


# --- the shared sampler ------------------------------------------------------------------------

def test_rows_drawn_share_the_anchor_class_and_vary_elsewhere():
    classes = grid()
    index = RowsByClass(classes)
    rng = np.random.default_rng(0)
    anchors = rng.integers(len(classes), size=50)
    for k in range(classes.shape[1]):
        rows = index.draw_sharing(k, anchors, 40, rng)
        assert rows.shape == (50, 40)
        assert (classes[rows, k] == classes[anchors, k][:, None]).all()
        others = [j for j in range(classes.shape[1]) if j != k]
        assert all(len(np.unique(classes[rows[0], j])) > 1 for j in others)
    # partners are spread over every row of the class, not a fixed few
    rows = index.draw_sharing(0, np.zeros(2000, dtype=int), 1, rng)
    assert set(rows[:, 0]) == set(np.flatnonzero(classes[:, 0] == classes[0, 0]))


# --- FactorVAE metric --------------------------------------------------------------------------

def test_factor_vae_perfect_codes_score_one():
    classes = grid()
    res = factor_vae_metric(standardised(classes), classes, n_train_votes=300, n_eval_votes=300, batch_size=32)
    assert res.train_accuracy == 1.0
    assert res.eval_accuracy == 1.0
    np.testing.assert_array_equal(res.dim_to_factor, [0, 1, 2, 3])
    assert res.to_dict() == {"train_accuracy": 1.0, "eval_accuracy": 1.0, "n_active_dims": 4}


def test_factor_vae_pruned_dim_keeps_original_indices():
    # dim 0 collapsed; dims 1-3 encode factors 0-2; factor 3 is ignored. Votes must land on the
    # ORIGINAL dims 1-3 (indexing all dims with a position among the active ones would put them
    # on dims 0-2), and the collapsed dim gets none.
    classes = grid()
    rng = np.random.default_rng(1)
    codes = np.column_stack([1e-3 * rng.standard_normal(len(classes)), standardised(classes)[:, :3]])
    res = factor_vae_metric(codes, classes, n_train_votes=800, n_eval_votes=800, batch_size=32, seed=2)
    np.testing.assert_array_equal(res.active_dims, [1, 2, 3])
    assert res.votes[0].sum() == 0
    np.testing.assert_array_equal(res.dim_to_factor, [-1, 0, 1, 2])
    # votes for the ignored factor fall on dims owned by other factors: accuracy ~ (K-1)/K
    assert res.eval_accuracy == pytest.approx(0.75, abs=0.05)


def test_factor_vae_is_invariant_to_rescaling_each_dim():
    # With factor 0 fixed, dim 0 varies only by noise; unnormalised, scaled by 100 it still has
    # a larger variance than dim 1 scaled by 0.1, and the argmin would pick the wrong dim.
    classes = grid()
    rng = np.random.default_rng(3)
    codes = standardised(classes) + 0.2 * rng.standard_normal((len(classes), 4))
    codes *= np.array([100.0, 0.1, 1.0, 10.0])
    res = factor_vae_metric(codes, classes, n_train_votes=400, n_eval_votes=400, batch_size=32, seed=4)
    assert res.eval_accuracy >= 0.99


def test_factor_vae_random_codes_score_chance():
    classes = grid()
    codes = np.random.default_rng(5).standard_normal((len(classes), 6))
    res = factor_vae_metric(codes, classes, n_train_votes=800, n_eval_votes=800, batch_size=32, seed=6)
    assert res.eval_accuracy == pytest.approx(1 / 4, abs=0.1)


def test_factor_vae_all_collapsed_scores_zero_and_seed_reproduces():
    classes = grid()
    res = factor_vae_metric(np.zeros((len(classes), 3)), classes, n_train_votes=10, n_eval_votes=10)
    assert (res.eval_accuracy, len(res.active_dims)) == (0.0, 0)
    codes = np.random.default_rng(7).standard_normal((len(classes), 5))
    a = factor_vae_metric(codes, classes, n_train_votes=100, n_eval_votes=100, seed=9)
    b = factor_vae_metric(codes, classes, n_train_votes=100, n_eval_votes=100, seed=9)
    np.testing.assert_array_equal(a.votes, b.votes)


def test_factor_vae_bad_inputs():
    classes = grid()
    codes = standardised(classes)
    with pytest.raises(ValueError, match="batch_size: expected at least 2"):
        factor_vae_metric(codes, classes, batch_size=1)
    with pytest.raises(ValueError, match="codes has 360 rows but factor_classes has 359"):
        factor_vae_metric(codes, classes[:-1])
    one_class = classes.copy()
    one_class[:, 2] = 0
    with pytest.raises(ValueError, match=r"factor column\(s\) \[2\] have a single class"):
        factor_vae_metric(codes, one_class)
    with pytest.raises(ValueError, match="integer class labels"):
        factor_vae_metric(codes, classes + 0.5)


# --- beta-VAE metric ---------------------------------------------------------------------------

def test_beta_vae_perfect_codes_score_one():
    classes = grid()
    res = beta_vae_metric(standardised(classes), classes, n_train_points=400, n_eval_points=200, batch_size=16)
    assert res.eval_accuracy >= 0.99
    assert set(res.to_dict()) == {"train_accuracy", "eval_accuracy"}


def test_beta_vae_failure_mode_ignored_factor_still_scores_high():
    # The FactorVAE paper's point: a representation that ignores one factor can still get ~100%
    # (the classifier learns "no dim is zero" means the ignored factor), while the FactorVAE
    # metric drops to ~(K-1)/K on the same codes.
    classes = grid()
    codes = standardised(classes)[:, :3]
    beta = beta_vae_metric(codes, classes, n_train_points=800, n_eval_points=400, batch_size=32, seed=1)
    factor = factor_vae_metric(codes, classes, n_train_votes=800, n_eval_votes=800, batch_size=32, seed=1)
    assert beta.eval_accuracy >= 0.95
    assert factor.eval_accuracy == pytest.approx(0.75, abs=0.05)


def test_beta_vae_random_codes_score_chance():
    classes = grid()
    codes = np.random.default_rng(2).standard_normal((len(classes), 6))
    res = beta_vae_metric(codes, classes, n_train_points=800, n_eval_points=800, batch_size=16, seed=3)
    assert res.eval_accuracy == pytest.approx(1 / 4, abs=0.1)


def test_beta_vae_bad_inputs():
    classes = grid()
    with pytest.raises(ValueError, match="batch_size, n_train_points"):
        beta_vae_metric(standardised(classes), classes, batch_size=0)
    with pytest.raises(ValueError, match="codes: expected a 2-D array"):
        beta_vae_metric(np.zeros(len(classes)), classes)


# --- MIG ---------------------------------------------------------------------------------------

def test_mig_one_to_one_codes_score_one():
    classes = grid()
    res = mig(standardised(classes), classes, factor_names=["a", "b", "c", "d"])
    assert res.mig == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(res.factor_entropy, np.log(SIZES))
    assert res.to_dict()["per_factor"]["c"] == pytest.approx(1.0)


def test_mig_codes_duplicated_in_two_dims_score_zero():
    classes = grid()
    z = standardised(classes)
    assert mig(np.hstack([z, 2.0 * z]), classes).mig == pytest.approx(0.0, abs=1e-12)


def test_mig_hand_made_gap():
    # factor 0 (4 classes) is in dim 0 exactly and coarsely (class // 2) in dim 1; factor 1
    # (3 classes) is in dim 2. Gap 0: (log 4 - log 2) / log 4 = 0.5. Gap 1: 1. MIG 0.75.
    classes = grid((4, 3))
    codes = np.column_stack([classes[:, 0], classes[:, 0] // 2, classes[:, 1]]).astype(float)
    res = mig(codes, classes)
    np.testing.assert_allclose(res.gap, [0.5, 1.0], atol=1e-12)
    assert res.mig == pytest.approx(0.75)
    assert res.mutual_information[1, 0] == pytest.approx(math.log(2))


def test_mig_bins_each_dim_over_its_own_range():
    # one shared range would squash the dim scaled by 1e-3 into a single bin (MI 0)
    classes = grid()
    z = standardised(classes) * np.array([1e-3, 1.0, 1e3, 5.0])
    assert mig(z, classes).mig == pytest.approx(1.0, abs=1e-12)


def test_discretise_uses_all_bins_in_range():
    values = np.linspace(-3, 7, 101)[:, None]
    binned = discretise(values, n_bins=20)
    assert binned.min() == 0 and binned.max() == 19
    assert len(np.unique(binned)) == 20


def test_mig_bad_inputs():
    classes = grid()
    z = standardised(classes)
    constant = classes.copy()
    constant[:, 1] = 3
    with pytest.raises(ValueError, match=r"\['factor1'\] are constant"):
        mig(z, constant)
    with pytest.raises(ValueError, match="n_bins"):
        mig(z, classes, n_bins=1)
    with pytest.raises(ValueError, match="at least 2 columns"):
        mig(z[:, :1], classes)
