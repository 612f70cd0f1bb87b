"""DCI with gradient-boosted trees, as disentanglement_lib computes it: its own known answers for
the aggregation (dci_test.py), scipy's entropy as an independent check, and the classifier on
codes whose answer is known."""

import numpy as np
import pytest
from scipy.stats import entropy

from gatedvae.evaluation.metrics.dci_gbt import completeness, dci_gbt, disentanglement
from gatedvae.evaluation.settings import EvalSettings, gbt_rows
from gatedvae.params import ParamError

DIAGONAL = np.diag(5.0 * np.ones(5))


# --- the aggregation: disentanglement_lib's dci_test.py cases ------------------------------------

@pytest.mark.parametrize("matrix, d, c", [
    (DIAGONAL, 1.0, 1.0),
    (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 1.0, 1.0),  # an empty code
    (np.vstack([DIAGONAL, DIAGONAL]), 1.0, 1 - np.log(2) / np.log(10)),  # redundant codes
    (DIAGONAL[:2, :], 1.0, 1.0),  # missed factors
    (np.hstack([DIAGONAL, DIAGONAL]), 1 - np.log(2) / np.log(10), 1.0),  # one code, two factors
])
def test_aggregation_matches_disentanglement_libs_known_answers(matrix, d, c):
    assert disentanglement(matrix) == pytest.approx(d, abs=1e-7)
    assert completeness(matrix) == pytest.approx(c, abs=1e-7)


def test_all_zero_importance_scores_zero():
    zero = np.zeros((10, 10))
    assert disentanglement(zero) == pytest.approx(0.0, abs=1e-7)
    assert completeness(zero) == pytest.approx(0.0, abs=1e-7)


def test_completeness_is_weighted_by_factor_importance_not_averaged():
    # factor 0 is read from one code (C = 1) and carries 9x the importance of factor 1, spread
    # evenly over two codes (C = 1 - log 2 / log 3); the weighted mean differs from the plain mean
    r = np.array([[9.0, 0.5], [0.0, 0.5], [0.0, 0.0]])
    c1 = 1 - np.log(2) / np.log(3)
    assert completeness(r) == pytest.approx(0.9 * 1.0 + 0.1 * c1, abs=1e-7)
    assert completeness(r) != pytest.approx((1.0 + c1) / 2, abs=1e-3)


def test_aggregation_equals_scipy_entropy_written_as_disentanglement_lib_does():
    rng = np.random.default_rng(3)
    for _ in range(5):
        r = rng.random((7, 4)) * (rng.random((7, 4)) > 0.3)
        per_code = 1.0 - entropy(r.T + 1e-11, base=r.shape[1])
        per_factor = 1.0 - entropy(r + 1e-11, base=r.shape[0])
        assert disentanglement(r) == pytest.approx(np.sum(per_code * r.sum(1) / r.sum()), rel=1e-12)
        assert completeness(r) == pytest.approx(np.sum(per_factor * r.sum(0) / r.sum()), rel=1e-12)


# --- the classifier --------------------------------------------------------------------------------

SIZES = (2, 3, 4)


def classes(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)


def split(codes, y):
    half = len(codes) // 2
    return codes[:half], y[:half], codes[half:], y[half:]


def test_one_code_per_factor_is_disentangled_complete_and_read_perfectly():
    y = classes()
    codes = y + 0.05 * np.random.default_rng(1).normal(size=y.shape)
    result = dci_gbt(*split(codes, y), factor_names=["a", "b", "c"])
    assert result.disentanglement > 0.9 and result.completeness > 0.9
    assert result.to_dict()["informativeness_test"] == pytest.approx(1.0)
    assert result.to_dict()["accuracy_test"] == {"a": 1.0, "b": 1.0, "c": 1.0}
    assert np.argmax(result.importance, axis=0).tolist() == [0, 1, 2]
    assert (result.n_train, result.n_test) == (150, 150)


def test_codes_shuffled_across_factors_score_low():
    # each row's codes are a random permutation of its factor classes, as in disentanglement_lib's
    # test_bad_metric: every code carries every factor a little
    y = classes(n=600)
    rng = np.random.default_rng(2)
    codes = np.stack([rng.permutation(row) for row in y]).astype(float)
    result = dci_gbt(*split(codes, y))
    assert result.disentanglement < 0.2 and result.completeness < 0.2


def test_duplicated_codes_halve_completeness_but_not_disentanglement():
    y = classes()
    codes = y + 0.05 * np.random.default_rng(1).normal(size=y.shape)
    result = dci_gbt(*split(np.hstack([codes, codes]), y))
    assert result.disentanglement > 0.9
    assert result.completeness == pytest.approx(1 - np.log(2) / np.log(6), abs=0.1)


def test_same_bytes_at_any_thread_count():
    y = classes()
    codes = y + 0.3 * np.random.default_rng(1).normal(size=y.shape)
    one = dci_gbt(*split(codes, y), n_jobs=1).to_dict()
    two = dci_gbt(*split(codes, y), n_jobs=2).to_dict()
    assert one == two


def test_a_factor_with_one_class_on_the_train_rows_is_named():
    y = classes()
    y[:150, 1] = 0
    with pytest.raises(ValueError, match=r"factor\(s\) \['b'\] take a single class"):
        dci_gbt(*split(y.astype(float), y), factor_names=["a", "b", "c"])


def test_rows_must_match():
    y = classes()
    with pytest.raises(ValueError, match="codes_train has 150 rows but classes_train has 149"):
        dci_gbt(y[:150].astype(float), y[:149], y[150:].astype(float), y[150:])


# --- the settings that choose its rows -------------------------------------------------------------

def params(**evaluate):
    section = {"n_train": 100, "n_test": 50, "seed": 0, "lasso_alpha": 0.02, "rf_trees": 10,
               "rf_depth": 12, **evaluate}
    return {"dsprites": {"evaluate": section}}


def test_gbt_rows_are_read_checked_and_off_when_absent():
    settings = EvalSettings.from_params(params(gbt_n_train=40, gbt_n_test=20), "dsprites.evaluate")
    assert (settings.gbt_n_train, settings.gbt_n_test) == (40, 20)
    assert EvalSettings.from_params(params(), "dsprites.evaluate").gbt_n_train == 0
    with pytest.raises(ParamError, match=r"`dsprites.evaluate.gbt_n_train` must not exceed dsprites.evaluate.n_train \(100\)"):
        EvalSettings.from_params(params(gbt_n_train=101, gbt_n_test=20), "dsprites.evaluate")
    with pytest.raises(ParamError, match="both be 0"):
        EvalSettings.from_params(params(gbt_n_train=40, gbt_n_test=0), "dsprites.evaluate")


def test_gbt_rows_are_a_random_sorted_subset_not_the_first_rows():
    rows = gbt_rows(1000, 100, seed=0)
    assert len(set(rows.tolist())) == 100 and rows.tolist() == sorted(rows.tolist())
    assert rows.max() > 500  # rows may be ordered by factor: the first 100 would be biased
    assert np.array_equal(rows, gbt_rows(1000, 100, seed=0))
