"""The faces main runs are summarised by the code dSprites' Table I uses (gatedvae.seeds): mean and
std per run, gated - un-gated paired by seed with Student's t intervals; and the traversal
figures show the dims that measurably move their own factor group first."""

import math

import pandas as pd
import pytest

from gatedvae.faces.evaluate import paired_differences, shown_dims, summarise

T_975_DOF1 = 12.706204736174707


def _rows():
    # gated beats un-gated by 0.3 on seed 0 and 0.1 on seed 1: mean 0.2, sd sqrt(0.02)
    return pd.DataFrame([
        {"budget": "main", "run": "gated-x", "gating": "gated", "recipe": "x", "seed": 0, "score": 0.8, "collapsed": 0},
        {"budget": "main", "run": "gated-x", "gating": "gated", "recipe": "x", "seed": 1, "score": 0.6, "collapsed": 1},
        {"budget": "main", "run": "ungated-y", "gating": "ungated", "recipe": "y", "seed": 0, "score": 0.5, "collapsed": 0},
        {"budget": "main", "run": "ungated-y", "gating": "ungated", "recipe": "y", "seed": 1, "score": 0.5, "collapsed": 0},
    ])


def test_summarise_known_answer():
    rows = _rows()
    s = summarise(rows[rows["gating"] == "gated"])
    assert s["mean"]["score"] == pytest.approx(0.7) and s["std"]["score"] == pytest.approx(math.sqrt(0.02), abs=1e-4)
    assert s["seeds"] == 2 and s["collapsed_seeds"] == 1 and "seed" not in s["mean"] and "budget" not in s["mean"]


def test_paired_differences_known_answer():
    d = paired_differences(_rows())["score"]
    half = T_975_DOF1 * 0.1 * math.sqrt(2) / math.sqrt(2)   # t * sd(diffs) / sqrt(n), sd = 0.1 * sqrt(2)
    assert d["mean"] == pytest.approx(0.2) and d["n"] == 2
    assert d["ci95_low"] == pytest.approx(0.2 - half, abs=1e-4) and d["ci95_high"] == pytest.approx(0.2 + half, abs=1e-4)
    assert d["excludes_zero"] is False                       # 2 seeds: t(1) makes the interval wide


def test_paired_differences_use_only_common_seeds():
    rows = _rows()
    rows = rows[~((rows["gating"] == "ungated") & (rows["seed"] == 1))]
    d = paired_differences(rows)["score"]
    assert d["n"] == 1 and d["mean"] == pytest.approx(0.3) and d["ci95_low"] is None


def test_shown_dims_put_the_partitions_own_factor_first():
    per_dim = [{"dim": 0, "pose_change": 1.0, "expression_change": 0.30},
               {"dim": 3, "pose_change": 9.5, "expression_change": 0.01},
               {"dim": 5, "pose_change": 4.0, "expression_change": 0.20}]
    dims, labels = shown_dims(per_dim, "pose", 2)
    assert dims == [3, 5] and labels[0] == "z3: pose 9.5\u00b0, expr 0.01"
    assert shown_dims(per_dim, "expression", 8)[0] == [0, 5, 3]
    assert shown_dims([], "pose", 8) == ([], [])
