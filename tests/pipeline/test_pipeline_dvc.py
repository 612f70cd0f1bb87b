"""End to end: `dvc repro` of the whole DAG (dSprites, studies, faces, report) at tiny scale in a
temporary git repo; tests/faces/test_faces_dvc.py looks closer at the faces branch."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from dvc_project import copy_project, dvc, run, stages_run

# its tests share one copy of the tiny DAG (conftest.tiny_dag, built once per run): one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_dag_pipeline")]

MODELS = ("beta_vae", "info_vae", "dip_vae_ii", "factor_vae")
REGRESSORS = ("lasso", "rf")
METRICS = ("disentanglement", "completeness", "informativeness")
# configs/scales/tiny.yaml's faces.study.runs and faces.main_runs (one seed each), params.yaml's main runs
FACES_STAGES = ({"faces_acquire", "faces_align", "faces_greyscale", "faces_features", "faces_cluster",
                 "faces_evaluate", "faces_sweeps"}
                | {f"faces_train@{r}-0" for r in ("gated-faithful", "gated-self_target_warmup", "ungated-faithful")}
                | {f"faces_main_train@{r}-0" for r in ("gated-self_target_warmup", "ungated-faithful")}
                | {f"faces_finetune@{r}" for r in ("gated-self_target_warmup", "ungated-faithful")}
                | {f"faces_baseline_train@{m}-0" for m in ("ada_gvae", "group_gvae")})
# params.yaml's dsprites.baselines.methods (tiny: seed 0): the pair methods beside the sweep
BASELINES = tuple(f"{m}-pairs-0" for m in ("ada_gvae", "group_gvae"))


@pytest.fixture(scope="module")
def repo(tiny_dag, tmp_path_factory):
    # the whole tiny DAG, reproduced once (conftest.tiny_dag), in a copy this module may change;
    # every stage wrote the params keys it read to params_read/ beside it
    return tiny_dag(tmp_path_factory.mktemp("pipeline") / "copy")


def test_repro_builds_every_output(repo):
    repo, output = repo
    names = {f"{m}-{g}-0" for m in MODELS for g in ("gated", "ungated")}
    assert stages_run(output) == {"check_params", "dsprites_acquire", "dsprites_pairs", "dsprites_aggregate", "report",
                                  "study_summary"} | {
        f"dsprites_{stage}@{n}" for stage in ("train", "finetune", "evaluate") for n in names} | {
        f"dsprites_baseline_{stage}@{n}" for stage in ("train", "finetune", "evaluate") for n in BASELINES} | {
        f"dsprites_beta_sweep@{b}-{g}-0" for b in ("0.0", "4.0") for g in ("gated", "ungated")} | {
        "dsprites_noise_study@0.0-0", "dsprites_noise_study@0.5-0"} | FACES_STAGES | {
        "faces_cluster_study@2-0", "faces_cluster_study@8-0", "faces_cluster_baseline@0",
        "dsprites_curve@gated-0", "dsprites_curve@ungated-0"}
    images = np.load(repo / "data/dsprites/images.npy", mmap_mode="r")
    assert images.dtype == np.uint8 and images.shape == (1536, 64, 64)
    groups = pd.read_parquet(repo / "data/dsprites/groups.parquet")
    assert list(groups.columns) == ["shape", "scale", "orientation", "position"] and len(groups) == 1536
    for n in names:
        run_dir = repo / "reports/dsprites/runs" / n
        for figure in ("hinton_lasso.png", "hinton_rf.png", "reconstructions.png", "traversals.png"):
            assert (run_dir / "eval" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (run_dir / "train/plots/metrics/loss.tsv").exists()
        assert (repo / "models/dsprites" / n / "finetuned.pt").exists()


def test_metrics_file_has_the_summary_keys(repo):
    repo, _ = repo
    metrics = json.loads((repo / "reports/metrics/dsprites.json").read_text())
    assert metrics["n_seeds"] == 1
    for model in MODELS:
        for gating in ("gated", "ungated"):
            for reg in REGRESSORS:
                for metric in METRICS:
                    leaf = metrics[model][gating][reg][metric]
                    assert 0.0 <= leaf["mean"] <= 1.5 and leaf["std"] == 0.0 and leaf["n"] == 1
            for when in ("test", "test_before_finetune"):  # held-out nats per image
                test = {k: v["mean"] for k, v in metrics[model][gating][when].items()}
                assert test["recon_bce"] > 0 and test["kl"] >= 0
                assert test["elbo"] <= -test["kl"]  # the sampled reconstruction NLL is >= 0
    shown = dvc(repo, "metrics", "show", "--json").stdout
    assert "beta_vae" in shown and "disentanglement" in shown
    table = (repo / "reports/dsprites/table1.md").read_text()
    assert "0.631" in table  # the paper's gated beta-VAE RF disentanglement, beside ours
    assert "training_curves.csv" in dvc(repo, "plots", "show", "--json").stdout
    curves = pd.read_csv(repo / "reports/dsprites/training_curves.csv")
    assert set(curves["run"]) == {f"{m}-{g}-0" for m in MODELS for g in ("gated", "ungated")} | set(BASELINES)
    metrics = json.loads((repo / "reports/metrics/dsprites.json").read_text())
    for run in BASELINES:  # one seed: a paired difference without an interval
        paired = metrics[run.split("-")[0]]["pairs_minus_gated"]["rf"]["disentanglement"]
        assert paired["n"] == 1 and paired["ci95_low"] is None
    assert "Pair methods beside the gated beta-VAE" in table


def test_studies_tabulate_and_plot(repo):
    repo, _ = repo
    sweep = pd.read_csv(repo / "reports/studies/beta_sweep.csv")
    assert sorted(zip(sweep["beta"], sweep["gating"])) == [
        (0.0, "gated"), (0.0, "ungated"), (4.0, "gated"), (4.0, "ungated")]
    noise = pd.read_csv(repo / "reports/studies/noise.csv")
    assert noise["noise_fraction"].tolist() == [0.0, 0.5] and set(noise["gating"]) == {"gated"}
    faces = pd.read_csv(repo / "reports/studies/faces_clusters.csv")
    assert sorted(zip(faces["clusters"], faces["gating"])) == [(0, "ungated"), (2, "gated"), (8, "gated")]
    gated = faces[faces["gating"] == "gated"].set_index("clusters")
    assert (gated["pose_clusters_mean"] <= gated.index).all() and gated.loc[8, "pose_clusters_mean"] > 2
    for column in ("rf_placement_pose_mean", "rf_placement_expression_mean", "test_kl_mean"):
        assert faces[column].notna().all()
    assert ((0.0 <= faces["rf_placement_pose_mean"]) & (faces["rf_placement_pose_mean"] <= 1.0)).all()
    for name in ("beta_sweep_disentanglement", "noise_placement", "beta_sweep_reconstruction",
                 "faces_clusters_placement", "faces_clusters_pair_variance", "faces_clusters_kl"):
        assert (repo / "reports/figures/studies" / f"{name}.png").stat().st_size > 1000
    curve = pd.read_csv(repo / "reports/studies/curve.csv")  # tiny: 1536 images, epochs [1, 2]
    assert curve[["gating", "images_seen"]].values.tolist() == [
        ["gated", 1536], ["gated", 3072], ["ungated", 1536], ["ungated", 3072]]
    assert curve["rf_nrmse_shape_mean"].between(0, 2).all() and curve["rf_disentanglement_mean"].between(0, 1).all()
    for name in ("curve_nrmse_gated", "curve_nrmse_ungated", "curve_dci"):
        assert (repo / "reports/figures/studies" / f"{name}.png").stat().st_size > 1000
    plots = dvc(repo, "plots", "show", "--json").stdout
    assert "beta_sweep.csv" in plots and "noise.csv" in plots and "faces_clusters.csv" in plots
    assert "curve.csv" in plots
    report = (repo / "reports/report.md").read_text()
    assert "number of k-means clusters" in report and "Held-out reconstruction error and ELBO" in report
    assert "learning curve" in report and "36,864,000" in report


def test_second_repro_does_nothing(repo):
    repo, _ = repo
    model = repo / "models/dsprites/beta_vae-gated-0/model.pt"
    before = model.stat().st_mtime_ns
    again = dvc(repo, "repro")
    assert stages_run(again.stdout) == set()
    assert model.stat().st_mtime_ns == before
    assert "up to date" in dvc(repo, "status").stdout


def test_changing_one_training_param_reruns_only_downstream(repo):
    repo, _ = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["dsprites"]["objectives"]["dip_vae_ii"]["lambda_d"] = 125.0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun = dvc(repo, "repro")
    runs = {f"dip_vae_ii-{g}-0" for g in ("gated", "ungated")}
    assert stages_run(rerun.stdout) == {"check_params", "dsprites_aggregate", "report"} | {
        f"dsprites_{stage}@{n}" for stage in ("train", "finetune", "evaluate") for n in runs}
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "lambda_d 125")
    diff = dvc(repo, "metrics", "diff", "HEAD~1", "--json").stdout
    assert "dip_vae_ii.gated.rf.disentanglement.mean" in diff


def test_invalid_param_fails_the_first_stage_naming_the_key(tmp_path):
    repo = copy_project(tmp_path)
    text = (repo / "params.yaml").read_text().replace("latent_dim: 8", "latent_dim: 9")
    (repo / "params.yaml").write_text(text)
    failed = dvc(repo, "repro", check=False)
    assert failed.returncode != 0
    assert "dsprites.net.partition_sizes" in failed.stdout + failed.stderr
    assert not (repo / "data/dsprites/images.npy").exists()


def test_report_links_resolve_and_html_is_self_contained(repo):
    repo, _ = repo
    report = (repo / "reports/report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(links) >= 4 * 2 * 4  # Hinton x2, reconstructions, traversals per model and gating
    for link in links:
        assert (repo / "reports" / link).is_file(), link
    assert "Table I" in report and "dip_vae_ii" in report and "n_images" in report
    page = (repo / "reports/report.html").read_text()
    assert page.count("data:image/png;base64,") == len(links)
    assert "src='http" not in page and 'src="http' not in page


def test_each_stage_reads_only_params_it_declares(repo):
    """What each stage read from params.yaml (recorded during the first repro) is covered by the
    `params` its dvc.yaml entry declares, so that changing any value it uses reruns it."""
    from dvc.repo import Repo

    repo, _ = repo
    with Repo(str(repo)) as dvc_repo:
        declared = {stage.name: [key for dep in stage.deps if hasattr(dep, "params")
                                       for key in (dep.params or ["*"])]  # no keys: the whole file
                    for stage in dvc_repo.index.stages}
    records = [json.loads(p.read_text()) for p in (repo.parent / "params_read").glob("*.json")]
    assert {r["stage"] for r in records} == set(declared)  # every stage ran and recorded
    gaps = {r["stage"]: [k for k in r["keys"] if not any(
        d == "*" or k == d or k.startswith(d + ".") for d in declared[r["stage"]])] for r in records}
    assert {stage: keys for stage, keys in gaps.items() if keys} == {}


def test_study_values_reach_training(repo):
    """beta and the noise fraction change what is trained, not only the rows' labels: members
    differ only in that value and training is deterministic, so equal results would mean the
    value never reached training."""
    repo, _ = repo
    member = {path.stem: json.loads(path.read_text())
              for study in ("beta_sweep", "noise") for path in (repo / "reports/studies" / study).glob("*.json")}
    for gating in ("gated", "ungated"):
        assert member[f"0.0-{gating}-0"]["test_recon_bce"] != member[f"4.0-{gating}-0"]["test_recon_bce"]
    assert member["0.0-0"]["test_recon_bce"] != member["0.5-0"]["test_recon_bce"]


def test_run_folders_are_dvc_matrix_keys(repo):
    """dsprites.spec.run_key names each run as DVC's ${key} does (the aggregate relies on it)."""
    from gatedvae.dsprites.spec import run_key

    repo, _ = repo
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    keys = {name.split("@", 1)[1] for name in stages if name.startswith("dsprites_train@")}
    assert keys == {run_key(m, g, 0) for m in MODELS for g in ("gated", "ungated")}
