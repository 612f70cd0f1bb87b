import json
import math

import numpy as np
import pytest

from gatedvae.evaluation.metrics import dci, dci_from_importance


# --- known answers from the importance matrix alone ---------------------------------------------

def test_diagonal_importance_is_perfectly_disentangled_and_complete():
    s = dci_from_importance(np.diag([0.5, 2.0, 1.0, 3.0]))
    np.testing.assert_allclose(s.disentanglement, 1.0)
    np.testing.assert_allclose(s.completeness, 1.0)
    assert s.disentanglement_avg == pytest.approx(1.0)
    assert s.completeness_avg == pytest.approx(1.0)
    np.testing.assert_allclose(s.code_weight, np.array([0.5, 2.0, 1.0, 3.0]) / 6.5)


def test_uniform_importance_scores_zero():
    s = dci_from_importance(np.full((6, 4), 0.7))
    np.testing.assert_allclose(s.disentanglement, 0.0, atol=1e-12)
    np.testing.assert_allclose(s.completeness, 0.0, atol=1e-12)
    assert s.disentanglement_avg == pytest.approx(0.0, abs=1e-12)


def test_one_code_for_two_factors_loses_log2_over_logK():
    # K = 4 factors: code 0 predicts factors 0 and 1 equally, codes 1 and 2 one factor each,
    # code 3 predicts factor 3.
    r = np.array([[1.0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    s = dci_from_importance(r)
    expected_d0 = 1 - math.log(2) / math.log(4)
    np.testing.assert_allclose(s.disentanglement, [expected_d0, 1.0, 1.0])
    np.testing.assert_allclose(s.completeness, 1.0)  # each factor has a single code
    np.testing.assert_allclose(s.code_weight, [0.5, 0.25, 0.25])
    assert s.disentanglement_avg == pytest.approx(0.5 * expected_d0 + 0.5)


def test_factor_split_over_two_of_three_codes_loses_log2_over_logM():
    r = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    s = dci_from_importance(r)
    np.testing.assert_allclose(s.completeness, [1 - math.log(2) / math.log(3), 1.0])
    np.testing.assert_allclose(s.disentanglement, 1.0)
    assert s.completeness_avg == pytest.approx((1 - math.log(2) / math.log(3) + 1.0) / 2)


def test_code_with_tiny_importance_barely_moves_the_weighted_average():
    r = np.vstack([np.eye(3), np.full((1, 3), 1e-6)])
    s = dci_from_importance(r)
    assert s.disentanglement[3] == pytest.approx(0.0, abs=1e-9)  # uniform over factors
    assert s.disentanglement_avg == pytest.approx(1.0, abs=1e-5)
    assert s.disentanglement_avg < 1.0
    # an unweighted mean would be 0.75: the weighting is what keeps the average near 1
    assert s.disentanglement.mean() == pytest.approx(0.75, abs=1e-6)


def test_all_zero_code_row_gets_weight_zero_and_all_zero_factor_column_completeness_zero():
    r = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    s = dci_from_importance(r)
    assert s.code_weight[2] == 0.0
    assert s.disentanglement[2] == 0.0
    assert s.disentanglement_avg == pytest.approx(1.0)
    np.testing.assert_allclose(s.completeness, [1.0, 1.0, 0.0])
    assert not np.isnan(s.completeness).any()


def test_all_zero_importance_gives_zeros_not_nan():
    s = dci_from_importance(np.zeros((3, 2)))
    assert s.disentanglement_avg == 0.0
    assert s.completeness_avg == 0.0


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[1.0, -0.1], [0.0, 1.0]]), "non-negative"),
        (np.ones(4), "2-D"),
        (np.ones((3, 1)), "at least 2 columns"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "non-finite"),
    ],
)
def test_bad_importance_is_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        dci_from_importance(bad)


# --- regressors on synthetic codes -------------------------------------------------------------

def _permuted_codes(n, perm, noise, rng, extra_noise_codes=0):
    """Factors as integer classes (dSprites-like); codes = factors permuted, rescaled, plus noise."""
    sizes = np.array([3, 6, 10, 16, 16][: len(perm)])
    factors = np.stack([rng.integers(0, s, n) for s in sizes], axis=1).astype(float)
    k = factors.shape[1]
    codes = np.empty((n, k + extra_noise_codes))
    scales = np.array([0.5, 3.0, 1.0, 2.0, 1.5])[:k]
    for j in range(k):
        codes[:, perm[j]] = scales[j] * (factors[:, j] - sizes[j] / 2) / sizes[j]
    codes[:, :k] += noise * rng.standard_normal((n, k))
    codes[:, k:] = rng.standard_normal((n, extra_noise_codes))
    return codes, factors


@pytest.mark.parametrize("regressor", ["lasso", "random_forest"])
def test_permutation_of_factors_is_disentangled_and_complete(regressor):
    rng = np.random.default_rng(0)
    perm = [2, 0, 4, 1, 3]  # factor j lives in code perm[j]
    train = _permuted_codes(3000, perm, 0.01, rng, extra_noise_codes=1)
    test = _permuted_codes(1000, perm, 0.01, rng, extra_noise_codes=1)
    names = ["shape", "scale", "orientation", "pos_x", "pos_y"]
    res = dci(*train, *test, regressor=regressor, factor_names=names, seed=1)
    assert res.importance.shape == (6, 5)
    for j in range(5):  # orientation of R: rows are codes, columns factors
        assert np.argmax(res.importance[:, j]) == perm[j]
    assert res.disentanglement_avg > 0.9
    assert res.completeness_avg > 0.9
    assert res.code_weight[5] < 0.05  # the pure-noise code carries (almost) no importance
    assert res.informativeness_avg < 0.1
    assert res.regressor == regressor


def test_nrmse_near_zero_for_a_predictable_factor_and_near_one_for_an_unrelated_one():
    rng = np.random.default_rng(1)

    def make(n):
        codes = rng.standard_normal((n, 3))
        factors = np.stack([2.0 * codes[:, 0] + 5.0, rng.standard_normal(n)], axis=1)
        return codes, factors

    res = dci(*make(4000), *make(2000), regressor="lasso")
    # Lasso shrinks the z-scored slope by alpha = 0.02, so the error is about 0.02 of the spread
    assert res.informativeness[0] == pytest.approx(0.02, abs=0.01)
    assert res.informativeness[1] == pytest.approx(1.0, abs=0.05)
    assert res.informativeness_avg == pytest.approx(res.informativeness.mean())
    rf = dci(*make(4000), *make(2000), regressor="random_forest")
    assert rf.informativeness[0] < 0.05


def test_test_set_is_standardised_with_train_statistics():
    # The test factor is shifted by 3 train-stds relative to what the codes predict. With train
    # statistics the predictions miss by ~3 stds (NRMSE ~3); z-scoring the test set with its own
    # statistics would hide the shift and report ~0.
    rng = np.random.default_rng(2)
    z_train = rng.standard_normal((3000, 2))
    z_test = rng.standard_normal((1000, 2))
    v_train = np.stack([z_train[:, 0], z_train[:, 1]], axis=1)
    v_test = np.stack([z_test[:, 0] + 3.0, z_test[:, 1]], axis=1)
    res = dci(z_train, v_train, z_test, v_test, regressor="lasso")
    assert res.informativeness[0] == pytest.approx(3.0, abs=0.15)
    assert res.informativeness[1] < 0.05


def test_collapsed_code_gets_zero_importance_without_nan():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((500, 3))
    z[:, 1] = 0.25  # a code collapsed to a constant
    v = z[:, [0, 2]] * 2.0
    res = dci(z[:400], v[:400], z[400:], v[400:], regressor="lasso")
    assert np.isfinite(res.importance).all()
    np.testing.assert_array_equal(res.importance[1], 0.0)
    assert res.code_weight[1] == 0.0
    assert res.disentanglement_avg > 0.95


def test_to_dict_is_plain_nested_json():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((300, 3))
    v = np.stack([z[:, 1], z[:, 2] - z[:, 0]], axis=1)
    res = dci(z[:200], v[:200], z[200:], v[200:], regressor="random_forest", factor_names=["a", "b"])
    d = json.loads(json.dumps(res.to_dict()))
    assert set(d) == {"disentanglement", "completeness", "informativeness", "importance"}
    assert d["disentanglement"]["avg"] == pytest.approx(res.disentanglement_avg)
    assert len(d["disentanglement"]["per_code"]) == 3
    assert len(d["disentanglement"]["code_weight"]) == 3
    assert d["completeness"]["per_factor"]["b"] == pytest.approx(res.completeness[1])
    assert d["informativeness"]["per_factor"]["a"] == pytest.approx(res.informativeness[0])
    assert np.array(d["importance"]).shape == (3, 2)


def test_random_forest_is_reproducible_with_a_seed():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((400, 3))
    v = np.stack([np.sin(z[:, 0]), z[:, 1] * z[:, 2]], axis=1)
    a = dci(z[:300], v[:300], z[300:], v[300:], regressor="random_forest", seed=7)
    b = dci(z[:300], v[:300], z[300:], v[300:], regressor="random_forest", seed=7)
    np.testing.assert_array_equal(a.importance, b.importance)


def test_bad_inputs_name_the_argument():
    rng = np.random.default_rng(6)
    z, v = rng.standard_normal((50, 3)), rng.standard_normal((50, 2))
    with pytest.raises(ValueError, match="regressor"):
        dci(z, v, z, v, regressor="svm")
    with pytest.raises(ValueError, match="codes_train has 50 rows but factors_train has 49"):
        dci(z, v[:49], z, v)
    with pytest.raises(ValueError, match="codes_test has 2 columns"):
        dci(z, v, z[:, :2], v)
    with pytest.raises(ValueError, match="factor_names: expected 2 names"):
        dci(z, v, z, v, factor_names=["only_one"])
    v_const = v.copy()
    v_const[:, 1] = 4.0
    with pytest.raises(ValueError, match=r"\['pos_y'\] are constant on the test set"):
        dci(z, v, z, v_const, factor_names=["pos_x", "pos_y"])
