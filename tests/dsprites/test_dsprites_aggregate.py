"""Unit tests of gatedvae.dsprites.aggregate: one run's summary, and the sweep over seeds into
the metrics JSON, the table and the training curves (hand-made run folders, known answers)."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gatedvae import params as P
from gatedvae.dsprites.aggregate import aggregate, run_summary
from gatedvae.errors import StageError

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "reference" / "paper_table1.csv"

# Every leaf of one run's eval/metrics.json (the layout gatedvae.dsprites.evaluate writes), each
# with its own value; the ones run_summary must skip are there too, with values of their own.
LEAVES = {
    "lasso.disentanglement.avg": 0.11, "lasso.disentanglement.per_code": [0.911, 0.912],
    "lasso.disentanglement.code_weight": [0.913, 0.914],
    "lasso.completeness.avg": 0.12, "lasso.completeness.per_factor.shape": 0.915,
    "lasso.informativeness.avg": 0.13, "lasso.informativeness.per_factor.shape": 0.916,
    "lasso.importance": [[0.917, 0.918]],
    "lasso.placement.mean": 0.14, "lasso.placement.per_factor.shape": 0.919, "lasso.placement.n_scored": 5,
    "rf.disentanglement.avg": 0.21, "rf.disentanglement.per_code": [0.921, 0.922],
    "rf.disentanglement.code_weight": [0.923, 0.924],
    "rf.completeness.avg": 0.22, "rf.completeness.per_factor.shape": 0.925,
    "rf.informativeness.avg": 0.23, "rf.informativeness.per_factor.shape": 0.926,
    "rf.importance": [[0.927, 0.928]],
    "rf.placement.mean": 0.24, "rf.placement.per_factor.shape": 0.929, "rf.placement.n_scored": 6,
    "factor_vae_metric.eval_accuracy": 0.31, "factor_vae_metric.train_accuracy": 0.931,
    "beta_vae_metric.eval_accuracy": 0.32, "beta_vae_metric.train_accuracy": 0.932,
    "mig.mig": 0.33, "mig.per_factor.shape": 0.933,
    "sap.sap": 0.34, "sap.per_factor.shape": 0.934,
    "modularity_explicitness.modularity": 0.35, "modularity_explicitness.explicitness_train": 0.935,
    "modularity_explicitness.explicitness_test": 0.36,
    "dci_gbt.disentanglement": 0.37, "dci_gbt.completeness": 0.38, "dci_gbt.informativeness_train": 0.939,
    "dci_gbt.informativeness_test": 0.39, "dci_gbt.accuracy_test.shape": 0.9391, "dci_gbt.n_train": 1000,
    "test.recon_bce": 41.0, "test.recon_sampled": 941.0, "test.kl": 42.0, "test.elbo": -43.0,
    "test_before_finetune.recon_bce": 51.0, "test_before_finetune.recon_sampled": 951.0,
    "test_before_finetune.kl": 52.0, "test_before_finetune.elbo": -53.0,
}

# run_summary's answer for LEAVES, written out by hand
SUMMARY = {
    "lasso": {"disentanglement": 0.11, "completeness": 0.12, "informativeness": 0.13, "placement": 0.14},
    "rf": {"disentanglement": 0.21, "completeness": 0.22, "informativeness": 0.23, "placement": 0.24},
    "factor_vae_metric": 0.31,
    "beta_vae_metric": 0.32,
    "mig": 0.33,
    "sap": 0.34,
    "modularity": 0.35,
    "explicitness": 0.36,
    "dci_gbt": {"disentanglement": 0.37, "completeness": 0.38, "informativeness_test": 0.39},
    "test": {"recon_bce": 41.0, "kl": 42.0, "elbo": -43.0},
    "test_before_finetune": {"recon_bce": 51.0, "kl": 52.0, "elbo": -53.0},
}


def eval_metrics(offset: float = 0.0) -> dict:
    """LEAVES nested, every number shifted by offset."""
    def shift(v):
        return [shift(x) for x in v] if isinstance(v, list) else v + offset

    nested: dict = {}
    for path, value in LEAVES.items():
        node = nested
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = shift(value)
    return nested


def test_run_summary_picks_each_number_from_its_place():
    assert run_summary(eval_metrics()) == SUMMARY


def test_run_summary_follows_the_values():
    summary = run_summary(eval_metrics(offset=1.0))
    assert summary["rf"]["placement"] == pytest.approx(1.24)
    assert summary["test_before_finetune"]["elbo"] == pytest.approx(-52.0)


def test_run_summary_missing_metric_names_it():
    metrics = eval_metrics()
    del metrics["mig"]
    with pytest.raises(KeyError, match="mig"):
        run_summary(metrics)


# --- aggregate -----------------------------------------------------------------------------------

# (gating, seed) -> the shift of every leaf of that run (pairs: the baseline ada_gvae's runs)
OFFSETS = {("gated", 0): 0.0, ("gated", 1): 0.1, ("ungated", 0): 0.02, ("ungated", 1): 0.5,
           ("pairs", 0): 0.3, ("pairs", 1): 0.35}
SPEEDS = {("gated", 0): 1500.0, ("gated", 1): 1620.0, ("ungated", 0): 2010.0, ("ungated", 1): 1990.0,
          ("pairs", 0): 1400.0, ("pairs", 1): 1450.0}


def sweep_params() -> P.Params:
    """params.yaml's dsprites section, with the sweep cut to beta_vae and seeds 0 and 1, and the
    baselines to ada_gvae on the same seeds."""
    with open(ROOT / "params.yaml") as f:
        dsprites = copy.deepcopy(yaml.safe_load(f)["dsprites"])
    dsprites["sweep"] = {"models": ["beta_vae"], "seeds": [0, 1]}
    dsprites["baselines"] = {**dsprites["baselines"], "methods": ["ada_gvae"], "seeds": [0, 1]}
    return P.Params({"dsprites": dsprites})


def write_tsv(folder: Path, key: str, values: list[float]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.tsv").write_text(
        "step\t" + key + "\n" + "".join(f"{i}\t{v}\n" for i, v in enumerate(values)))


def make_runs(root: Path) -> Path:
    runs = root / "runs"
    for (gating, seed), offset in OFFSETS.items():
        run = runs / (f"ada_gvae-pairs-{seed}" if gating == "pairs" else f"beta_vae-{gating}-{seed}")
        (run / "eval").mkdir(parents=True)
        (run / "eval" / "metrics.json").write_text(json.dumps(eval_metrics(offset)))
        (run / "train").mkdir()
        (run / "train" / "summary.json").write_text(json.dumps(
            {"images_per_second": SPEEDS[(gating, seed)], "seconds": 1.0}))
        for k, key in enumerate(("loss", "recon", "regulariser")):
            write_tsv(run / "train" / "plots" / "metrics", key, [100 * k + offset, 100 * k + offset - 1])
    return runs


def outputs(root: Path) -> dict:
    return {"metrics": str(root / "out" / "metrics.json"), "table": str(root / "out" / "table1.md"),
            "curves": str(root / "out" / "curves.csv")}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One aggregate over the four hand-made runs, shared by the tests that only read its output."""
    root = tmp_path_factory.mktemp("aggregate")
    runs = make_runs(root)
    params = sweep_params()
    aggregate(params, runs=str(runs), paper=str(PAPER), **outputs(root))
    return root, params


def leaf(node, path):
    for part in path.split("."):
        node = node[part]
    return node


def hand_stats(path: str, gating: str) -> dict:
    values = [leaf(SUMMARY, path) + OFFSETS[(gating, s)] for s in (0, 1)]
    mean = (values[0] + values[1]) / 2
    std = abs(values[0] - values[1]) / math.sqrt(2)  # ddof 1 over two values
    return {"mean": mean, "std": std, "n": 2}


@pytest.mark.parametrize("gating", ["gated", "ungated"])
@pytest.mark.parametrize("reg", ["rf", "lasso"])
@pytest.mark.parametrize("metric", ["disentanglement", "completeness", "informativeness", "placement"])
def test_metrics_json_has_mean_std_n_over_the_two_seeds(done, gating, reg, metric):
    root, _ = done
    got = json.loads((root / "out" / "metrics.json").read_text())
    stats = got["beta_vae"][gating][reg][metric]
    expected = hand_stats(f"{reg}.{metric}", gating)
    assert set(stats) == {"mean", "std", "n"}
    assert stats["n"] == 2
    assert stats["mean"] == pytest.approx(expected["mean"], abs=1e-12)
    assert stats["std"] == pytest.approx(expected["std"], abs=1e-12)


def test_metrics_json_other_leaves_and_nothing_else(done):
    root, _ = done
    got = json.loads((root / "out" / "metrics.json").read_text())
    assert set(got) == {"n_seeds", "beta_vae", "ada_gvae"}
    assert set(got["ada_gvae"]) == {"pairs", "pairs_minus_gated"}
    assert got["n_seeds"] == 2
    assert set(got["beta_vae"]) == {"gated", "ungated", "gated_minus_ungated"}
    gated = got["beta_vae"]["gated"]
    # exactly the run_summary leaves: nothing skipped by run_summary leaks in
    assert set(gated) == set(SUMMARY)
    assert set(gated["test"]) == {"recon_bce", "kl", "elbo"}
    for path in ("mig", "beta_vae_metric", "factor_vae_metric", "test.elbo", "test_before_finetune.kl"):
        expected = hand_stats(path, "gated")
        assert leaf(gated, path)["mean"] == pytest.approx(expected["mean"], abs=1e-12)
        assert leaf(gated, path)["std"] == pytest.approx(expected["std"], abs=1e-12)


def test_metrics_json_paired_difference(done):
    root, _ = done
    got = json.loads((root / "out" / "metrics.json").read_text())
    paired = got["beta_vae"]["gated_minus_ungated"]["rf"]["disentanglement"]
    # per seed, gated - ungated = -0.02 and -0.4 (the values' own parts cancel)
    assert paired["n"] == 2
    assert paired["mean"] == pytest.approx(-0.21, abs=1e-12)
    assert paired["ci95_low"] < -0.21 < paired["ci95_high"]


def test_pair_method_is_paired_with_the_gated_run_seed_by_seed(done):
    root, _ = done
    got = json.loads((root / "out" / "metrics.json").read_text())
    assert got["ada_gvae"]["pairs"]["rf"]["disentanglement"]["mean"] == pytest.approx(0.21 + 0.325, abs=1e-12)
    paired = got["ada_gvae"]["pairs_minus_gated"]["rf"]["disentanglement"]
    # per seed, ada_gvae - gated = 0.3 and 0.25
    assert paired["n"] == 2 and paired["mean"] == pytest.approx(0.275, abs=1e-12)
    assert paired["ci95_low"] < 0.275 < paired["ci95_high"]
    table = (root / "out" / "table1.md").read_text()
    assert "| random_forest | ada_gvae | 0.535 ± 0.035 (n=2)<br>Δ +0.275 [" in table
    assert "- ada_gvae: lasso D:" in table


def test_a_missing_baseline_run_names_its_stage(tmp_path):
    runs = make_runs(tmp_path)
    (runs / "ada_gvae-pairs-1" / "eval" / "metrics.json").unlink()
    with pytest.raises(StageError, match="dsprites_baseline_evaluate@ada_gvae-pairs-1"):
        aggregate(sweep_params(), runs=str(runs), paper=str(PAPER), **outputs(tmp_path))


def test_curves_csv_has_every_run_and_epoch(done):
    root, _ = done
    curves = pd.read_csv(root / "out" / "curves.csv")
    assert list(curves.columns) == ["run", "epoch", "loss", "recon", "regulariser"]
    assert len(curves) == 12
    assert sorted(set(curves["run"])) == ["ada_gvae-pairs-0", "ada_gvae-pairs-1", "beta_vae-gated-0",
                                           "beta_vae-gated-1", "beta_vae-ungated-0", "beta_vae-ungated-1"]
    one = curves[curves["run"] == "beta_vae-ungated-1"].sort_values("epoch")
    assert one["epoch"].tolist() == [1, 2]
    assert one["loss"].tolist() == pytest.approx([0.5, -0.5])
    assert one["recon"].tolist() == pytest.approx([100.5, 99.5])
    assert one["regulariser"].tolist() == pytest.approx([200.5, 199.5])


def test_table_shows_our_numbers_beside_the_papers_and_the_throughput(done):
    root, _ = done
    table = (root / "out" / "table1.md").read_text()
    rf_gated_d = hand_stats("rf.disentanglement", "gated")
    assert f"{rf_gated_d['mean']:.3f} ± {rf_gated_d['std']:.3f} (n=2)" in table
    assert "0.631 ± 0.113" in table  # the paper's random forest, beta_vae, gated D
    assert "1400-2010 images/s over 6 runs" in table


def test_only_the_sweep_keys_are_recorded(done):
    _, params = done
    # dvc.yaml declares `dsprites.sweep` for this stage: validation is not recorded
    assert params.read == {"dsprites.sweep.models", "dsprites.sweep.seeds", "dsprites.baselines.methods",
                           "dsprites.baselines.seeds"}


def test_missing_run_raises_stage_error_naming_the_file(tmp_path):
    runs = make_runs(tmp_path)
    (runs / "beta_vae-ungated-1" / "eval" / "metrics.json").unlink()
    with pytest.raises(StageError) as info:
        aggregate(sweep_params(), runs=str(runs), paper=str(PAPER), **outputs(tmp_path))
    message = str(info.value)
    assert str(runs / "beta_vae-ungated-1" / "eval" / "metrics.json") in message
    assert "dsprites_evaluate@beta_vae-ungated-1" in message
    assert "beta_vae-gated-0" not in message
    assert not (tmp_path / "out").exists()


def test_missing_run_folder_names_each_missing_file(tmp_path):
    runs = make_runs(tmp_path)
    shutil.rmtree(runs / "beta_vae-gated-1")
    shutil.rmtree(runs / "beta_vae-ungated-0")
    with pytest.raises(StageError) as info:
        aggregate(sweep_params(), runs=str(runs), paper=str(PAPER), **outputs(tmp_path))
    message = str(info.value)
    assert str(runs / "beta_vae-gated-1" / "eval" / "metrics.json") in message
    assert str(runs / "beta_vae-ungated-0" / "eval" / "metrics.json") in message


def test_a_seed_outside_the_sweep_is_ignored(tmp_path):
    runs = make_runs(tmp_path)
    params = sweep_params()
    params["dsprites"]["sweep"]["seeds"] = [1]
    params["dsprites"]["baselines"]["seeds"] = [1]
    aggregate(params, runs=str(runs), paper=str(PAPER), **outputs(tmp_path))
    got = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert got["n_seeds"] == 1
    stats = got["beta_vae"]["gated"]["rf"]["disentanglement"]
    assert stats == {"mean": pytest.approx(0.21 + 0.1), "std": 0.0, "n": 1}


def test_baseline_seeds_outside_the_sweep_are_a_param_error(tmp_path):
    """A baseline is paired with the gated run of its seed: that run must exist."""
    params = sweep_params()
    params["dsprites"]["baselines"]["seeds"] = [0, 7]
    with pytest.raises(P.ParamError, match=r"dsprites.baselines.seeds.*\[7\]"):
        aggregate(params, runs=str(make_runs(tmp_path)), paper=str(PAPER), **outputs(tmp_path))


def test_bad_sweep_params_name_the_key(tmp_path):
    runs = make_runs(tmp_path)
    params = sweep_params()
    params["dsprites"]["sweep"]["models"] = ["no_such_model"]
    with pytest.raises(P.ParamError, match="dsprites.sweep.models"):
        aggregate(params, runs=str(runs), paper=str(PAPER), **outputs(tmp_path))


def test_a_duplicate_seed_is_a_param_error(tmp_path):
    """DVC runs a repeated matrix member once: a repeat is an error naming the key."""
    runs = make_runs(tmp_path)
    params = sweep_params()
    params["dsprites"]["sweep"]["seeds"] = [0, 0]
    with pytest.raises(P.ParamError, match="dsprites.sweep.seeds"):
        aggregate(params, runs=str(runs), paper=str(PAPER), **outputs(tmp_path))
