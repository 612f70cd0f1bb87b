"""Every (model, gating, regressor, metric) lands under its own key and in its own labelled cell:
in aggregate_runs, in side_by_side_markdown's Table I and in the report built from it.

Each combination gets a distinct value: 0.101 + 0.2 model + 0.05 regressor + 0.007 metric, plus
0.025 for the gated arm with Lasso and for the un-gated arm with the random forest (so gated is
higher with Lasso and lower with the forest; the directions differ by regressor too). Seeds add
-0.001 and +0.001, so means are exact and the std is sqrt(2) * 0.001.
"""

import math

import pandas as pd
import pytest

from gatedvae.dsprites.table1 import direction_agreement, paper_table, side_by_side_markdown
from gatedvae.seeds import aggregate_runs
from gatedvae.report.document import Report

MODELS = ("beta_vae", "info_vae", "dip_vae_ii")
GATINGS = ("gated", "ungated")
OURS = ("lasso", "rf")  # our keys; the paper's names are lasso and random_forest
PAPER_NAME = {"lasso": "lasso", "rf": "random_forest"}
METRICS = ("disentanglement", "completeness", "informativeness")
STEMS = {"disentanglement": "disentanglement", "completeness": "completeness",
         "informativeness": "informativeness_nrmse"}
SEEDS = {0: -0.001, 1: 0.001}


def value(model, gating, reg, metric):
    up = (gating == "gated") == (reg == "lasso")
    return round(0.101 + 0.2 * MODELS.index(model) + 0.05 * OURS.index(reg)
                 + 0.025 * up + 0.007 * METRICS.index(metric), 6)


def paper_value(model, gating, reg, metric, stat):
    """Distinct paper numbers too: 0.5 + the same code scaled, std = mean / 10."""
    mean = round(0.5 + 0.4 * (value(model, gating, reg, metric) - 0.1), 3)
    return mean if stat == "mean" else round(mean / 10, 3)


def _runs(layout="flat"):
    runs = []
    for model in MODELS:
        for gating in GATINGS:
            for seed, delta in SEEDS.items():
                metrics = {}
                for reg in OURS:
                    leaf = {m: value(model, gating, reg, m) + delta for m in METRICS}
                    if layout == "dci":  # DCIResult.to_dict's layout: <metric>.avg
                        leaf = {m: {"avg": v} for m, v in leaf.items()}
                    metrics[reg] = leaf
                runs.append({"model": model, "gating": gating, "seed": seed, "metrics": metrics})
    return runs[::-1]  # order of the runs must not matter


def _paper(tmp_path):
    rows = []
    for reg in ("rf", "lasso"):  # not the reference file's order: rows are found by their labels
        for model in MODELS[::-1]:
            for gating in GATINGS:
                row = {"regressor": PAPER_NAME[reg], "model": model,
                       "gated": "true" if gating == "gated" else "false"}
                for metric in METRICS:
                    for stat in ("mean", "std"):
                        row[f"{STEMS[metric]}_{stat}"] = paper_value(model, gating, reg, metric, stat)
                rows.append(row)
    path = tmp_path / "paper.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return paper_table(path)


def test_values_are_distinct():
    values = [value(m, g, r, k) for m in MODELS for g in GATINGS for r in OURS for k in METRICS]
    assert len({f"{v:.3f}" for v in values}) == len(values)


@pytest.mark.parametrize("layout", ["flat", "dci"])
def test_aggregate_runs_keeps_every_label(layout):
    out = aggregate_runs(_runs(layout))
    assert out["n_seeds"] == 2
    for model in MODELS:
        for reg in OURS:
            for metric in METRICS:
                path = [reg, metric] + (["avg"] if layout == "dci" else [])
                for gating in GATINGS:
                    node = out[model][gating]
                    for key in path:
                        node = node[key]
                    assert node["mean"] == pytest.approx(value(model, gating, reg, metric), abs=1e-12)
                    assert node["std"] == pytest.approx(math.sqrt(2) * 0.001, rel=1e-6)
                    assert node["n"] == 2
                diff = out[model]["gated_minus_ungated"]
                for key in path:
                    diff = diff[key]
                expected = value(model, "gated", reg, metric) - value(model, "ungated", reg, metric)
                assert diff["mean"] == pytest.approx(expected, abs=1e-12)
                assert diff["mean"] == pytest.approx(0.025 if reg == "lasso" else -0.025, abs=1e-12)


def _first_table(lines):
    header = [c.strip() for c in lines[0].strip().strip("|").split("|")]
    return header, [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[2:]]


def _check_table_one(header, rows):
    assert header == ["Regressor", "Model", "Gated", "D ours", "D paper", "C ours", "C paper",
                      "I (NRMSE) ours", "I (NRMSE) paper"]
    assert len(rows) == len(MODELS) * len(OURS) * len(GATINGS)
    seen = set()
    short = {"disentanglement": "D", "completeness": "C", "informativeness": "I (NRMSE)"}
    for row in rows:
        cells = dict(zip(header, row))
        reg = {"lasso": "lasso", "random_forest": "rf"}[cells["Regressor"]]
        model = cells["Model"]
        gating = {"yes": "gated", "no": "ungated"}[cells["Gated"]]
        seen.add((reg, model, gating))
        for metric in METRICS:
            ours = cells[f"{short[metric]} ours"]
            assert ours == f"{value(model, gating, reg, metric):.3f} ± 0.001 (n=2)", (reg, model, gating, metric)
            mean, std = (paper_value(model, gating, reg, metric, s) for s in ("mean", "std"))
            assert cells[f"{short[metric]} paper"] == f"{mean:.3f} ± {std:.3f}", (reg, model, gating, metric)
    assert len(seen) == len(rows)


@pytest.mark.parametrize("layout", ["flat", "dci"])
def test_side_by_side_table_one_cells_match_their_labels(tmp_path, layout):
    text = side_by_side_markdown(aggregate_runs(_runs(layout)), _paper(tmp_path))
    _check_table_one(*_first_table(text.split("\n\n")[0].splitlines()))


def test_report_table_one_cells_match_their_labels(tmp_path):
    text = side_by_side_markdown(aggregate_runs(_runs("dci")), _paper(tmp_path))
    report = Report("t")
    report.markdown(text)
    kind, (header, rows) = report.blocks[0]
    assert kind == "table"
    _check_table_one(header, rows)
    md = report.to_markdown(tmp_path)
    _check_table_one(*_first_table(md.split("\n\n")[1].splitlines()))


def test_directions_follow_regressor_and_gating(tmp_path):
    # ours: gated higher with Lasso (better D, C; worse NRMSE), lower with the forest
    agreement = direction_agreement(aggregate_runs(_runs("dci")), _paper(tmp_path))
    assert len(agreement) == 18
    for r in agreement.itertuples():
        higher = r.regressor == "lasso"
        better = higher if r.metric != "informativeness" else not higher
        assert r.ours == ("gated better" if better else "gated worse"), r
        # the paper values use the same code, so its directions are the same
        assert r.paper == r.ours and r.agree is True
