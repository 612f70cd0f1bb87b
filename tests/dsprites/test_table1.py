import json
import math
from pathlib import Path

import pytest

from gatedvae.dsprites.table1 import (
    agreement_counts,
    direction_agreement,
    paper_informativeness_per_factor,
    paper_table,
    side_by_side_markdown,
)
from gatedvae.seeds import aggregate_runs, flatten, nest

REFERENCE = Path(__file__).resolve().parents[2] / "reference"
T_975_DOF1 = 12.706204736174707  # Student's t, 97.5% quantile, 1 degree of freedom


def run(model, gating, seed, metrics):
    return {"model": model, "gating": gating, "seed": seed, "metrics": metrics}


def test_flatten_and_nest_round_trip():
    nested = {"lasso": {"disentanglement": {"avg": 0.3, "per_code": [0.1, 0.5]}}, "mig": 0.2}
    flat = flatten(nested)
    assert flat == {
        "lasso.disentanglement.avg": 0.3,
        "lasso.disentanglement.per_code.0": 0.1,
        "lasso.disentanglement.per_code.1": 0.5,
        "mig": 0.2,
    }
    assert nest(flat) == {"lasso": {"disentanglement": {"avg": 0.3, "per_code": {"0": 0.1, "1": 0.5}}}, "mig": 0.2}
    with pytest.raises(ValueError, match="contains the separator"):
        flatten({"a.b": 1})
    with pytest.raises(ValueError, match="both a value and a group"):
        nest({"a": 1, "a.b": 2})


def test_two_seeds_give_known_mean_std_and_paired_interval():
    runs = [
        run("beta_vae", "gated", 0, {"rf": {"disentanglement": 0.5}}),
        run("beta_vae", "gated", 1, {"rf": {"disentanglement": 0.7}}),
        run("beta_vae", "ungated", 0, {"rf": {"disentanglement": 0.1}}),
        run("beta_vae", "ungated", 1, {"rf": {"disentanglement": 0.2}}),
    ]
    out = aggregate_runs(runs)
    assert out["n_seeds"] == 2
    gated = out["beta_vae"]["gated"]["rf"]["disentanglement"]
    assert gated == {"mean": pytest.approx(0.6), "std": pytest.approx(math.sqrt(0.02)), "n": 2}
    diff = out["beta_vae"]["gated_minus_ungated"]["rf"]["disentanglement"]
    # differences 0.4 and 0.5: mean 0.45, sd 0.0707..., standard error 0.05
    half = T_975_DOF1 * 0.05
    assert diff == {
        "mean": pytest.approx(0.45),
        "ci95_low": pytest.approx(0.45 - half),
        "ci95_high": pytest.approx(0.45 + half),
        "excludes_zero": False,  # t(1) is 12.7: [-0.19, 1.09] with two seeds
        "n": 2,
    }
    json.dumps(out)  # plain JSON


def test_single_seed_has_zero_std_and_no_interval():
    out = aggregate_runs([run("m", "gated", 3, {"x": 1.0}), run("m", "ungated", 3, {"x": 0.25})])
    assert out["m"]["gated"]["x"] == {"mean": 1.0, "std": 0.0, "n": 1}
    assert out["m"]["gated_minus_ungated"]["x"] == {"mean": 0.75, "ci95_low": None, "ci95_high": None,
                                                   "excludes_zero": None, "n": 1}


def test_paired_difference_uses_only_common_seeds():
    runs = [run("m", "gated", s, {"x": float(s)}) for s in (0, 1, 2)]
    runs += [run("m", "ungated", s, {"x": 10.0 * s}) for s in (1, 2, 3)]
    runs.append(run("m", "gated", 4, {"only_gated": 1.0}))
    out = aggregate_runs(runs)
    assert out["n_seeds"] == 5
    assert out["m"]["gated"]["x"]["n"] == 3
    diff = out["m"]["gated_minus_ungated"]
    assert diff["x"]["n"] == 2  # seeds 1 and 2: differences -9 and -18
    assert diff["x"]["mean"] == pytest.approx(-13.5)
    assert "only_gated" not in diff
    assert out["m"]["gated"]["only_gated"] == {"mean": 1.0, "std": 0.0, "n": 1}


def test_dci_layout_with_lists_aggregates_per_position():
    metrics = [{"lasso": {"disentanglement": {"avg": a, "per_code": [a, 2 * a]}}} for a in (0.2, 0.4)]
    out = aggregate_runs([run("m", "gated", s, m) for s, m in enumerate(metrics)])
    per_code = out["m"]["gated"]["lasso"]["disentanglement"]["per_code"]
    assert per_code["1"]["mean"] == pytest.approx(0.6)
    assert "gated_minus_ungated" not in out["m"]


@pytest.mark.parametrize(
    "bad, message",
    [
        (run("m", "both", 0, {"x": 1.0}), "gating must be one of"),
        (run("m", "gated", True, {"x": 1.0}), "seed must be an integer"),
        (run("m.v2", "gated", 0, {"x": 1.0}), "model must be a non-empty name without dots"),
        (run("m", "gated", 0, {"x": "0.3"}), r"runs\[1\] \(m, gated, seed 0\): metrics.x is '0.3'"),
        (run("m", "gated", 0, {"x": float("nan")}), "metrics.x is nan; expected a finite number"),
        (run("m", "gated", 0, {"x": None}), "metrics.x is None"),
        (run("m", "gated", 0, {"x": {}}), "x: empty dict"),
        ({"model": "m"}, "expected a dict with model, gating, seed and metrics"),
    ],
)
def test_bad_runs_are_rejected_with_the_run_named(bad, message):
    good = run("m", "ungated", 0, {"x": 1.0})
    with pytest.raises(ValueError, match=message):
        aggregate_runs([good, bad])


def test_duplicate_runs_are_rejected():
    with pytest.raises(ValueError, match=r"runs\[1\] \(m, gated, seed 2\): duplicates runs\[0\]"):
        aggregate_runs([run("m", "gated", 2, {"x": 1.0}), run("m", "gated", 2, {"x": 2.0})])
    with pytest.raises(ValueError, match="nothing to aggregate"):
        aggregate_runs([])


# --- the paper's tables ------------------------------------------------------------------------

def test_paper_table_reads_the_reference_csv():
    paper = paper_table(REFERENCE / "paper_table1.csv")
    assert len(paper) == 12
    assert paper["gated"].dtype == bool
    row = paper[(paper.regressor == "lasso") & (paper.model == "beta_vae") & paper.gated].iloc[0]
    assert (row.disentanglement_mean, row.disentanglement_std) == (0.609, 0.136)
    per_factor = paper_informativeness_per_factor(REFERENCE / "paper_table2_informativeness_per_factor.csv")
    assert len(per_factor) == 12
    # the supplement's weighted average equals Table I's informativeness
    merged = per_factor.merge(paper, on=["regressor", "model", "gated"])
    assert (merged.weighted_avg == merged.informativeness_nrmse_mean).all()


def test_paper_table_errors_name_file_and_line(tmp_path):
    text = (REFERENCE / "paper_table1.csv").read_text().splitlines()
    bad = tmp_path / "t1.csv"
    bad.write_text("\n".join([text[0], text[1], text[2].replace(",true,", ",yes,")]) + "\n")
    with pytest.raises(ValueError, match=r"t1.csv, line 3: gated 'yes', expected true or false"):
        paper_table(bad)
    bad.write_text("\n".join([text[0], text[1].replace("0.237", "n/a")]) + "\n")
    with pytest.raises(ValueError, match=r"line 2: disentanglement_mean 'n/a' is not a finite number"):
        paper_table(bad)
    bad.write_text("regressor,model,gated\nlasso,beta_vae,true\n")
    with pytest.raises(ValueError, match="missing column"):
        paper_table(bad)
    with pytest.raises(FileNotFoundError, match="nope.csv: not found"):
        paper_table(tmp_path / "nope.csv")


def _hand_made_runs():
    """beta_vae: both regressors, flat layout; dip_vae_ii: Lasso only, DCIResult.to_dict layout."""
    values = {
        ("beta_vae", "gated", "lasso"): (0.6, 0.5, 0.4),
        ("beta_vae", "ungated", "lasso"): (0.2, 0.3, 0.7),
        ("beta_vae", "gated", "rf"): (0.1, 0.7, 0.3),  # D: gated worse -> disagrees
        ("beta_vae", "ungated", "rf"): (0.3, 0.2, 0.5),
        ("dip_vae_ii", "gated", "lasso"): (0.5, 0.4, 0.6),  # C: gated better, the paper's is worse
        ("dip_vae_ii", "ungated", "lasso"): (0.3, 0.3, 0.6),  # I: equal, the paper's is better
    }
    runs = []
    for seed, delta in ((0, -0.01), (1, 0.01)):
        metrics = {}
        for (model, gating, reg), (d, c, i) in values.items():
            if model == "beta_vae":
                leaf = {"disentanglement": d + delta, "completeness": c + delta, "informativeness": i + delta}
            else:
                leaf = {"disentanglement": {"avg": d + delta}, "completeness": {"avg": c + delta},
                        "informativeness": {"avg": i + delta}}
            metrics.setdefault((model, gating), {})[reg] = leaf
        runs += [run(m, g, seed, met) for (m, g), met in metrics.items()]
    return runs


def test_direction_flags_on_a_hand_made_case():
    paper = paper_table(REFERENCE / "paper_table1.csv")
    agreement = direction_agreement(aggregate_runs(_hand_made_runs()), paper)
    assert len(agreement) == 18
    flags = {(r.regressor, r.model, r.metric): (r.ours, r.agree) for r in agreement.itertuples()}
    assert flags[("lasso", "beta_vae", "disentanglement")] == ("gated better", True)
    assert flags[("lasso", "beta_vae", "informativeness")] == ("gated better", True)
    assert flags[("random_forest", "beta_vae", "disentanglement")] == ("gated worse", False)
    assert flags[("random_forest", "beta_vae", "completeness")] == ("gated better", True)
    assert flags[("lasso", "dip_vae_ii", "completeness")] == ("gated better", False)
    assert flags[("lasso", "dip_vae_ii", "informativeness")] == ("equal", False)
    assert flags[("random_forest", "info_vae", "disentanglement")] == (None, None)
    paper_dirs = agreement.set_index(["regressor", "model", "metric"])["paper"]
    assert paper_dirs[("lasso", "dip_vae_ii", "completeness")] == "gated worse"
    assert (paper_dirs.drop(("lasso", "dip_vae_ii", "completeness")) == "gated better").all()
    counts = agreement_counts(agreement)
    # both seeds move both arms alike, so every paired difference has zero spread: each interval
    # is a point, and excludes zero wherever the arms differ
    assert counts["overall"] == {"agree": 6, "agree_excluding_zero": 6, "compared": 9, "in_table": 18}
    verdicts = agreement.set_index(["regressor", "model", "metric"])["interval"]
    assert verdicts[("lasso", "beta_vae", "disentanglement")] == "excludes 0"
    assert verdicts[("lasso", "dip_vae_ii", "informativeness")] == "includes 0"  # equal arms
    assert verdicts[("random_forest", "info_vae", "disentanglement")] is None
    for metric in ("disentanglement", "completeness", "informativeness"):
        assert counts[metric] == {"agree": 2, "agree_excluding_zero": 2, "compared": 3, "in_table": 6}


def test_side_by_side_markdown():
    paper = paper_table(REFERENCE / "paper_table1.csv")
    text = side_by_side_markdown(aggregate_runs(_hand_made_runs()), paper)
    assert "| lasso | beta_vae | yes | 0.600 ± 0.014 (n=2) | 0.609 ± 0.136 |" in text
    assert "| random_forest | info_vae | no | – | 0.113 ± 0.030 |" in text
    assert "gated worse / gated better (DISAGREES)" in text  # dip_vae_ii lasso completeness
    assert "6 of 9 compared, 6 of them with a 95% interval" in text
    assert "gated better / gated better (agrees); Δ +0.400 [+0.400, +0.400] **excludes 0**" in text
    assert "- completeness: 2 of 3 compared agree, 2 with the interval excluding zero (6 in the table)" in text
    assert "the paper itself does not report gated better for: dip_vae_ii lasso completeness" in text
    # one row per Table I row, plus header and rule, in the first table
    first_table = text.split("\n\n")[0].splitlines()
    assert len(first_table) == 14


def test_three_seeds_interval_excludes_zero_known_answer():
    # differences 0.10, 0.12, 0.14: mean 0.12, sd 0.02, standard error 0.02 / sqrt(3);
    # t(0.975, 2) = 4.3027: half-width 0.0497, interval [0.070, 0.170] excludes zero
    runs = [run("m", "gated", s, {"d": 0.5 + 0.02 * s}) for s in range(3)]
    runs += [run("m", "ungated", s, {"d": 0.4}) for s in range(3)]
    diff = aggregate_runs(runs)["m"]["gated_minus_ungated"]["d"]
    assert diff["ci95_low"] == pytest.approx(0.12 - 4.302653 * 0.02 / math.sqrt(3), abs=1e-6)
    assert diff["excludes_zero"] is True
    # the same mean with a wide spread does not
    runs = [run("m", "gated", s, {"d": v}) for s, v in enumerate([0.9, 0.4, 0.56])]
    runs += [run("m", "ungated", s, {"d": 0.5}) for s in range(3)]
    diff = aggregate_runs(runs)["m"]["gated_minus_ungated"]["d"]
    assert diff["mean"] == pytest.approx(0.12) and diff["excludes_zero"] is False
