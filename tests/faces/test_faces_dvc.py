"""End to end: the faces branch under `dvc repro` at tiny scale in a temporary git repo (a copy of
the tiny DAG that tests/conftest.py reproduces once a session)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dvc_project import dvc, stages_run  # noqa: E402

# its tests share one copy of the tiny DAG (conftest.tiny_dag, built once per run): one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_dag_faces")]

# configs/scales/tiny.yaml's faces.study.runs and faces.main_runs (one seed each), params.yaml's main runs
RUNS = ["gated-faithful", "gated-self_target_warmup", "ungated-faithful"]
MAIN = ["gated-self_target_warmup", "ungated-faithful"]
BASELINES = ["ada_gvae", "group_gvae"]  # params.yaml's faces.main_runs.baselines
FACES_STAGES = ({"faces_acquire", "faces_align", "faces_greyscale", "faces_features", "faces_cluster",
                 "faces_evaluate", "faces_sweeps"} | {f"faces_train@{r}-0" for r in RUNS}
                | {f"faces_main_train@{r}-0" for r in MAIN} | {f"faces_finetune@{r}" for r in MAIN}
                | {f"faces_baseline_train@{m}-0" for m in BASELINES})
# Outputs that another stage reads, the models and the metrics: the same bytes on every run.
REPRODUCIBLE = ["data/faces/raw", "data/faces/aligned", "data/faces/grey.npy", "data/faces/features.parquet",
                "data/faces/features_report.json", "data/faces/groups.parquet", "data/faces/cluster_stats.json",
                "models/faces", "reports/metrics/faces.json", "reports/faces/recipes.csv"]
TARGETS = ("faces_evaluate", "faces_greyscale", "faces_sweeps")


@pytest.fixture(scope="module")
def repo(tiny_dag, tmp_path_factory):
    """The tiny DAG reproduced once for the session (conftest.tiny_dag), copied for this module."""
    return tiny_dag(tmp_path_factory.mktemp("faces_pipeline") / "copy")


def test_repro_runs_every_faces_stage_and_writes_the_contracts(repo):
    repo, output = repo
    assert {s for s in stages_run(output) if s.startswith("faces_") and "cluster_" not in s} == FACES_STAGES
    grey = np.load(repo / "data/faces/grey.npy")
    index = pd.read_parquet(repo / "data/faces/aligned/index.parquet")
    assert grey.dtype == np.uint8 and grey.shape == (len(index), 64, 64) and len(index) == 128
    groups = pd.read_parquet(repo / "data/faces/groups.parquet")
    assert list(groups.columns) == ["pose", "expression"] and len(groups) == len(index)
    report = json.loads((repo / "data/faces/aligned/report.json").read_text())
    assert report["n_input"] == 128 and report["n_failed"] == 0
    for name in ("faces_contact_sheet", "faces_traversal_gated_pose", "faces_traversal_ungated_expression",
                 "faces_reconstructions_gated"):
        assert (repo / "reports/figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_have_the_issue_keys(repo):
    repo, _ = repo
    metrics = json.loads((repo / "reports/metrics/faces.json").read_text())
    assert metrics["main_runs"] == {"gated": MAIN[0], "ungated": MAIN[1]}
    assert set(metrics["recipes"]) == set(RUNS)
    for label in ("gated", "ungated", "faithful"):
        s = metrics[label]
        assert s["seeds"] == 1 and 0 <= s["collapsed_seeds"] <= 1
        mean = s["mean"]
        for part in ("pose", "expression"):
            assert 0.0 <= mean[f"rf_placement_{part}"] <= 1.0
            assert mean[f"kl_{part}"] >= 0 and 0 <= mean[f"active_{part}"] <= {"pose": 6, "expression": 18}[part]
        for name in ("disentanglement", "completeness", "informativeness"):
            assert np.isfinite(mean[f"rf_{name}"])
        assert mean["test_recon_bce"] > 0 and mean["test_kl"] >= 0 and mean["test_elbo"] < 0
        assert mean["recon_vs_mean_face"] > 0
    assert set(metrics["factor_variance_shares"]) == {"pose", "expression", "identity"}
    # the weak labels beside the truth, and variance explained
    assert metrics["labels"]["ground_truth"] is True and metrics["labels"]["extractor"] == "openface"
    assert "extractor_rf_placement_pose" in metrics["gated"]["mean"]
    assert "test_variance_explained" in metrics["gated"]["finetuned"]
    # what each partition's traversal changes, per main run and model
    effects = metrics["traversal_effects"]
    assert set(effects["estimator_r2_held_out"]) == {"yaw", "pitch", "smile", "mouth_open", "brow", "eye_closure"}
    for gating in ("gated", "ungated"):
        assert set(effects[gating]["models"]) == {"trained seed 0", "fine-tuned seed 0"}
        assert "pose_selectivity" in effects[gating]["models"]["trained seed 0"]
    assert "### Faces: what each partition's traversal changes" in (repo / "reports/report.md").read_text()
    table = pd.read_csv(repo / "reports/faces/recipes.csv")
    study = table[table["budget"] == "study"]
    assert sorted(study["run"]) == sorted(RUNS) and set(table["seed"]) == {0}
    assert sorted(table.loc[table["budget"] == "main", "run"]) == sorted(MAIN)
    # the main runs: trained for faces.main_runs.epochs, paired gated - un-gated by seed
    assert metrics["budget"]["main"] == {"epochs": 2, "seeds": [0]} and metrics["gated"]["epochs"] == 2
    paired = metrics["gated_minus_ungated"]["rf_placement_pose"]
    assert paired["n"] == 1 and paired["ci95_low"] is None and paired["mean"] == pytest.approx(
        metrics["gated"]["mean"]["rf_placement_pose"] - metrics["ungated"]["mean"]["rf_placement_pose"], abs=2e-4)
    assert (repo / "models/faces/main/gated-self_target_warmup-0/finetuned.pt").exists()
    # the pair methods beside the main runs, at their budget, paired with the gated main run
    assert set(metrics["baselines"]) == set(BASELINES)
    for method, s in metrics["baselines"].items():
        assert s["run"] == f"pairs-{method}" and s["epochs"] == 2 and s["seeds"] == 1
        assert 0.0 <= s["mean"]["rf_placement_pose"] <= 1.0 and s["mean"]["test_kl"] >= 0
        versus = s["minus_gated"]["rf_placement_pose"]
        assert versus["n"] == 1 and versus["mean"] == pytest.approx(
            s["mean"]["rf_placement_pose"] - metrics["gated"]["mean"]["rf_placement_pose"], abs=2e-4)
    assert sorted(set(table.loc[table["budget"] == "baseline", "run"])) == [f"pairs-{m}" for m in BASELINES]
    assert "### Faces: the field's pair methods beside the gated main run" in (repo / "reports/report.md").read_text()
    assert "Where the faces budget went" in (repo / "reports/report.md").read_text()
    # the per-epoch collapse diagnostics are in each run's dvclive log
    logged = repo / "reports/faces/runs/gated-faithful-0/train/plots/metrics"
    assert {"kl_pose.tsv", "active_expression.tsv", "recon_vs_mean_face.tsv"} <= {p.name for p in logged.iterdir()}
    shown = dvc(repo, "metrics", "show", "--json").stdout
    assert "rf_placement_pose" in shown


def test_same_commit_same_bytes(repo):
    """Forcing the whole faces branch to run again reproduces every output another stage reads,
    every model and the metrics, byte for byte (timings live in uncached records; the dvclive
    logs, which no stage reads, carry timestamps)."""
    repo, _ = repo
    before = {path: _tree_md5(repo / path) for path in REPRODUCIBLE}
    dvc(repo, "repro", "-f", *TARGETS)
    after = {path: _tree_md5(repo / path) for path in REPRODUCIBLE}
    changed = [path for path in REPRODUCIBLE if before[path] != after[path]]
    assert not changed, f"these outputs changed on a second run of the same commit: {changed}"


def _tree_md5(path: Path) -> dict[str, str]:
    import hashlib
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p.relative_to(path) if path.is_dir() else p.name): hashlib.md5(p.read_bytes()).hexdigest()
            for p in files}


def test_second_repro_does_nothing_and_params_rerun_downstream_only(repo):
    repo, _ = repo
    again = dvc(repo, "repro", *TARGETS)
    assert stages_run(again.stdout) == set()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["faces"]["evaluate"]["traversal_range"] = 1.5
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun = dvc(repo, "repro", *TARGETS)
    assert stages_run(rerun.stdout) == {"check_params", "faces_evaluate"}
    status = dvc(repo, "status", "faces_train@gated-faithful-0", "faces_cluster").stdout
    assert "up to date" in status


def test_cluster_study_member_without_ground_truth_and_with_a_bad_count(repo, tmp_path):
    """Real CelebA has no factors.parquet: a study member still trains and records what needs no
    ground truth. A count under 2 stops before any work, naming the params key."""
    repo, _ = repo
    work = tmp_path / "celeba_like"
    shutil.copytree(repo / "data/faces", work / "data/faces", ignore=shutil.ignore_patterns("factors.parquet"))
    shutil.copy(repo / "params.yaml", work / "params.yaml")

    def member(*args):
        return subprocess.run([sys.executable, str(repo / "stages/faces_cluster_study.py"), "--seed", "0",
                               "--images", "data/faces/grey.npy", "--features", "data/faces/features.parquet",
                               "--raw", "data/faces/raw", "--aligned", "data/faces/aligned",
                               "--out", "member.json", *args], cwd=work, capture_output=True, text=True)

    done = member("--gating", "gated", "--clusters", "4")
    assert done.returncode == 0, done.stderr
    assert "no ground-truth factors" in done.stderr
    result = json.loads((work / "member.json").read_text())
    assert not any(key.startswith(("rf_", "lasso_")) for key in result)
    assert 2 <= result["pose_clusters"] <= 4 and 0.0 < result["pose_pair_variance_explained"] < 1.0
    assert result["test_kl"] >= 0 and result["test_elbo"] <= -result["test_kl"]

    bad = member("--gating", "gated", "--clusters", "1")
    assert bad.returncode == 2 and "studies.faces_clusters.counts" in bad.stderr
    assert member("--gating", "ungated", "--clusters", "4").returncode != 0  # no clusters without pairs
