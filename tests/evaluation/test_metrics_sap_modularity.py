"""SAP, modularity and explicitness (disentanglement_lib's definitions and settings): known
answers on a full factor grid and on hand-made mutual-information matrices."""

import numpy as np
import pytest

from gatedvae.evaluation.metrics.modularity_explicitness import (macro_auc, modularity_explicitness,
                                                                 modularity_per_code)
from gatedvae.evaluation.metrics.sap import sap, top_two_gap

SIZES = (2, 3, 4)


def grid(sizes=SIZES, repeat=20) -> np.ndarray:
    axes = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    return np.tile(np.stack(axes, axis=-1).reshape(-1, len(sizes)), (repeat, 1))


def split(codes, classes, seed=0):
    order = np.random.default_rng(seed).permutation(len(codes))
    half = len(codes) // 2
    return codes[order[:half]], classes[order[:half]], codes[order[half:]], classes[order[half:]]


def one_code_per_factor(classes, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    return classes.astype(float) + noise * rng.normal(size=classes.shape)


# --- SAP ---------------------------------------------------------------------------------------

def test_sap_gap_is_the_top_two_difference_per_factor():
    matrix = np.array([[0.9, 0.1], [0.3, 0.6], [0.2, 0.5]])
    assert top_two_gap(matrix) == pytest.approx([0.6, 0.1])


def test_sap_one_code_per_factor_scores_high_and_codes_read_off_the_right_factor():
    classes = grid()
    result = sap(*split(one_code_per_factor(classes), classes))
    # each factor is best read from its own code; a 1-D linear SVM (C = 0.01, one-vs-rest) splits
    # a binary factor perfectly but not 3 or 4 ordered classes (disentanglement_lib's SAP, as is)
    assert np.argmax(result.score_matrix, axis=0).tolist() == [0, 1, 2]
    assert result.score_matrix[0, 0] == pytest.approx(1.0, abs=0.01)
    assert (np.diag(result.score_matrix) > 1.0 / np.array(SIZES) + 0.2).all()
    assert result.sap > 0.3 and set(result.to_dict()["per_factor"]) == {"factor0", "factor1", "factor2"}


def test_sap_a_factor_copied_into_two_codes_has_no_gap():
    classes = grid()
    codes = one_code_per_factor(classes)
    codes = np.concatenate([codes, codes[:, :1] + 0.01], axis=1)   # factor 0 in codes 0 and 3
    result = sap(*split(codes, classes))
    assert result.gap[0] == pytest.approx(0.0, abs=0.02) and result.gap[1] > 0.3


def test_sap_continuous_is_the_squared_correlation():
    rng = np.random.default_rng(1)
    factor = rng.normal(size=(500, 1))
    codes = np.concatenate([2 * factor + 1, rng.normal(size=(500, 1)), np.zeros((500, 1))], axis=1)
    result = sap(codes, factor, continuous=True)
    r2 = np.corrcoef(codes[:, 1], factor[:, 0])[0, 1] ** 2
    assert result.score_matrix[:, 0] == pytest.approx([1.0, r2, 0.0])   # a constant code scores 0
    assert result.sap == pytest.approx(1.0 - r2)


def test_sap_bad_inputs():
    classes = grid()
    codes = one_code_per_factor(classes)
    with pytest.raises(ValueError, match="held-out"):
        sap(codes, classes)
    with pytest.raises(ValueError, match="must match"):
        sap(codes, classes, codes[:, :2], classes)
    with pytest.raises(ValueError, match="fractional"):
        sap(codes, classes + 0.5, codes, classes)


# --- modularity --------------------------------------------------------------------------------

def test_modularity_known_answers():
    mi = np.array([[1.0, 0.0, 0.0],     # one factor only: 1
                   [1.0, 1.0, 1.0],     # all factors equally: 1 - (2 / 2) = 0
                   [2.0, 1.0, 0.0],     # 1 - (1 / (4 * 2)) = 0.875
                   [0.0, 0.0, 0.0]])    # carries nothing: 0
    assert modularity_per_code(mi) == pytest.approx([1.0, 0.0, 0.875, 0.0])


def test_modularity_and_explicitness_of_one_code_per_factor():
    classes = grid()
    result = modularity_explicitness(*split(one_code_per_factor(classes), classes))
    assert result.modularity > 0.95
    assert result.explicitness_test == pytest.approx(1.0, abs=0.01)
    assert result.to_dict()["explicitness_test"] == pytest.approx(1.0, abs=0.01)


def test_mixed_codes_lose_modularity_and_noise_loses_explicitness():
    classes = grid()
    clean = one_code_per_factor(classes)
    mixed = clean @ np.array([[3.0, 1.0, 1.0], [1.0, -3.0, 1.0], [1.0, 1.0, -3.0]])  # every code mixes all
    mixed_result = modularity_explicitness(*split(mixed, classes))
    assert modularity_explicitness(*split(clean, classes)).modularity > 0.95
    assert mixed_result.modularity < 0.75
    assert mixed_result.explicitness_test == pytest.approx(1.0, abs=0.05)
    noise = np.random.default_rng(2).normal(size=clean.shape)
    noise_result = modularity_explicitness(*split(noise, classes))
    assert noise_result.explicitness_test == pytest.approx(0.5, abs=0.08)


def test_macro_auc_leaves_out_classes_missing_from_the_set():
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.2, 0.8, 0.0], [0.1, 0.9, 0.0]])
    assert macro_auc(np.array([0, 1, 2]), probabilities, labels) == pytest.approx(1.0)


def test_modularity_bad_inputs():
    classes = grid()
    codes = one_code_per_factor(classes)
    with pytest.raises(ValueError, match="at least 2 factors"):
        modularity_per_code(np.ones((3, 1)))
    with pytest.raises(ValueError, match="rows"):
        modularity_explicitness(codes, classes[:-1], codes, classes)
