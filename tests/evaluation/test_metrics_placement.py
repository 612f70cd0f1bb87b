import numpy as np
import pytest

from gatedvae.evaluation.metrics import partition_bounds, placement

DSPRITES = ["shape", "scale", "orientation", "pos_x", "pos_y"]
DSPRITES_INTENDED = [0, 1, 2, 3, 3]  # position shares the fourth partition


def test_factors_entirely_in_their_partitions_score_one():
    r = np.zeros((8, 5))
    for j, code in enumerate([0, 3, 5, 6, 7]):  # codes 0-1 | 2-3 | 4-5 | 6-7
        r[code, j] = 0.4 + j
    out = placement(r, [2, 2, 2, 2], DSPRITES_INTENDED, factor_names=DSPRITES)
    assert out == {"per_factor": {n: 1.0 for n in DSPRITES}, "mean": 1.0, "n_scored": 5}


def test_hand_made_shares():
    r = np.array(
        [
            [0.3, 0.0],
            [0.1, 0.5],
            [0.6, 0.25],
            [0.0, 0.25],
        ]
    )
    out = placement(r, [2, 2], [0, 1], factor_names=["a", "b"])
    assert out["per_factor"]["a"] == pytest.approx(0.4)
    assert out["per_factor"]["b"] == pytest.approx(0.5)
    assert out["mean"] == pytest.approx(0.45)


def test_unequal_partitions_and_a_factor_without_an_intended_partition():
    r = np.array([[1.0, 0.2, 5.0], [0.0, 0.8, 5.0], [3.0, 0.0, 5.0]])
    out = placement(r, [1, 2], [1, None, 0])
    assert out["per_factor"] == {"factor0": pytest.approx(0.75), "factor2": pytest.approx(1 / 3)}
    assert out["n_scored"] == 2
    assert out["mean"] == pytest.approx((0.75 + 1 / 3) / 2)


def test_factor_with_no_importance_anywhere_scores_zero():
    r = np.array([[1.0, 0.0], [0.0, 0.0]])
    out = placement(r, [1, 1], [0, 1])
    assert out["per_factor"] == {"factor0": 1.0, "factor1": 0.0}


def test_no_scored_factor_gives_mean_none():
    out = placement(np.ones((2, 2)), [1, 1], [None, None])
    assert out == {"per_factor": {}, "mean": None, "n_scored": 0}


def test_partition_bounds():
    assert partition_bounds([6, 18], 24) == [(0, 6), (6, 24)]
    with pytest.raises(ValueError, match="add up to 7, but there are 8 codes"):
        partition_bounds([3, 4], 8)
    with pytest.raises(ValueError, match="positive sizes"):
        partition_bounds([0, 8], 8)


def test_bad_intended_is_rejected_with_the_factor_named():
    r = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"intended\[1\] \(factor 'b'\).*0\.\.1 or None, got 2"):
        placement(r, [2, 2], [0, 2], factor_names=["a", "b"])
    with pytest.raises(ValueError, match="one partition index .* 2 in all, got 1"):
        placement(r, [2, 2], [0])
    with pytest.raises(ValueError, match="non-negative"):
        placement(-r, [2, 2], [0, 1])
