"""DCI informativeness is the RMSE divided by the spread of the factor on the test set, with a test
set whose spread differs from the training set's (and from 1), so that plain RMSE in train-z-scored
units, or a division by the training spread, gives a different number.

Exact design: the training codes and the unrelated factor are mutually orthogonal (exactly zero
sample correlations), so the Lasso fit is known in closed form: factor 0 = 2 * code 0 + 5 gets the
z-scored slope 1 - alpha on code 0 and nothing else; factor 1 gets no coefficient and predicts its
training mean. Test codes and factors are centred exactly on the training means, so
    NRMSE_0 = alpha       (plain RMSE: alpha * 3,   the test spread is 3 training stds)
    NRMSE_1 = 1           (plain RMSE: 1 / 3,       the test spread is 1/3 of the training one)
"""

import numpy as np
import pytest

from gatedvae.evaluation.metrics import dci

ALPHA = 0.02


def _orthogonal_columns(n, k, rng):
    """k exactly centred, exactly uncorrelated columns with population std 1."""
    a = rng.standard_normal((n, k))
    q, _ = np.linalg.qr(a - a.mean(axis=0))
    return q * np.sqrt(n)


def _centred(x, std):
    x = x - x.mean(axis=0)
    return x / x.std(axis=0) * std


def _data():
    rng = np.random.default_rng(0)
    cols = _orthogonal_columns(400, 3, rng)
    z_train = cols[:, :2]
    v_train = np.stack([2.0 * z_train[:, 0] + 5.0, 10.0 + 1.5 * cols[:, 2]], axis=1)
    z_test = _centred(rng.standard_normal((300, 2)), 3.0)
    v_test = np.stack([2.0 * z_test[:, 0] + 5.0, 10.0 + _centred(rng.standard_normal((300, 1)), 0.5)[:, 0]],
                      axis=1)
    return z_train, v_train, z_test, v_test


def test_data_have_the_spreads_the_known_answers_rely_on():
    z_train, v_train, z_test, v_test = _data()
    np.testing.assert_allclose(v_train.std(axis=0), [2.0, 1.5])
    np.testing.assert_allclose(v_test.std(axis=0), [6.0, 0.5])
    np.testing.assert_allclose(v_test.mean(axis=0), v_train.mean(axis=0))


def test_informativeness_is_rmse_over_the_test_spread_known_answer():
    res = dci(*_data(), regressor="lasso", lasso_alpha=ALPHA, factor_names=["linear", "unrelated"])
    np.testing.assert_allclose(res.importance, [[1 - ALPHA, 0.0], [0.0, 0.0]], atol=1e-9)
    assert res.informativeness[0] == pytest.approx(ALPHA, rel=1e-6)
    assert res.informativeness[1] == pytest.approx(1.0, rel=1e-6)
    assert res.informativeness_avg == pytest.approx((ALPHA + 1.0) / 2, rel=1e-6)
    d = res.to_dict()["informativeness"]
    assert d["per_factor"] == {"linear": pytest.approx(ALPHA, rel=1e-6), "unrelated": pytest.approx(1.0, rel=1e-6)}


def test_mean_predictor_scores_one_whatever_the_test_spread():
    # any spread of the test set: predicting the (shared) mean is NRMSE 1 exactly
    z_train, v_train, z_test, v_test = _data()
    for spread in (0.1, 4.0):
        v = v_test.copy()
        v[:, 1] = 10.0 + (v_test[:, 1] - 10.0) / 0.5 * spread
        res = dci(z_train, v_train, z_test, v, regressor="lasso", lasso_alpha=ALPHA)
        assert res.informativeness[1] == pytest.approx(1.0, rel=1e-6)
