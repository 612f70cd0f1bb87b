"""Real DVC on the tiny DAG: a refused params value costs nothing once reverted, a corrupt
intermediate names the file and the stage that makes it, and `gatedvae prune` removes the ghosts
of matrix members that params no longer ask for (the report leaves their timings out)."""

import json

import pytest
import yaml

from dvc_project import BIN, dvc, run, stages_run

# its tests share one copy of the tiny DAG (conftest.tiny_dag, built once per run): one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_dag_refusals")]

TRAIN = "dsprites_train@beta_vae-gated-0"


@pytest.fixture(scope="module")
def repo(tiny_dag, tmp_path_factory):
    repo, _ = tiny_dag(tmp_path_factory.mktemp("refusals") / "copy")
    return repo


def _edit(repo, change) -> str:
    """Apply change(params dict) to params.yaml; returns the original text."""
    original = (repo / "params.yaml").read_text()
    params = yaml.safe_load(original)
    change(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return original


@pytest.mark.parametrize("change,key", [
    (lambda p: p["dsprites"]["train"].update(lr="fast"), "dsprites.train.lr"),
    (lambda p: p["dsprites"]["train"].update(learning_rate=0.5), "dsprites.train.learning_rate"),
    (lambda p: p["dsprites"]["train"].update(gate_regulariser="false"), "dsprites.train.gate_regulariser"),
])
def test_a_refused_value_and_its_revert_cost_no_retrain(repo, change, key):
    model = repo / "models/dsprites/beta_vae-gated-0/model.pt"
    timing = repo / f"reports/timings/{TRAIN}.json"
    before = model.read_bytes(), timing.read_bytes()
    original = _edit(repo, change)
    failed = dvc(repo, "repro", TRAIN, check=False)
    assert failed.returncode != 0 and f"`{key}`" in failed.stderr
    assert stages_run(failed.stdout) == {"check_params"}  # stopped before DVC touched the stage
    assert (model.read_bytes(), timing.read_bytes()) == before
    (repo / "params.yaml").write_text(original)
    assert "up to date" in dvc(repo, "status").stdout  # no checkout needed: nothing was deleted
    again = dvc(repo, "repro", TRAIN)
    assert stages_run(again.stdout) == set() and model.read_bytes() == before[0]


def test_main_runs_outside_the_study_is_refused_before_any_stage(repo):
    original = _edit(repo, lambda p: p["faces"]["main_runs"].update(runs=["gated-kl_warmup", "ungated-faithful"]))
    failed = dvc(repo, "repro", check=False)
    (repo / "params.yaml").write_text(original)
    assert failed.returncode != 0 and "`faces.main_runs.runs`" in failed.stderr
    assert stages_run(failed.stdout) == {"check_params"}
    assert "up to date" in dvc(repo, "status").stdout


@pytest.mark.parametrize("stage,path,maker", [
    (TRAIN, "data/dsprites/images.npy", "dsprites_acquire"),
    (TRAIN, "data/dsprites/groups.parquet", "dsprites_pairs"),
    ("dsprites_finetune@beta_vae-gated-0", "models/dsprites/beta_vae-gated-0/model.pt", TRAIN),
])
def test_a_corrupt_intermediate_names_the_file_and_its_stage(repo, stage, path, maker):
    target = repo / path
    good = target.read_bytes()
    target.unlink()  # a new file: never write through a link into DVC's cache
    target.write_bytes(good[: len(good) // 2])
    failed = dvc(repo, "repro", "-s", stage, check=False)
    assert failed.returncode != 0
    assert f"error: {path}: not a readable" in failed.stderr and f"made by stage `{maker}`" in failed.stderr
    assert "Traceback" not in failed.stderr
    dvc(repo, "checkout", "--force")
    assert target.read_bytes() == good
    dvc(repo, "repro", "-s", stage)  # puts the stage's outputs back for the tests after this one


def test_prune_removes_ghosts_of_removed_matrix_members(repo):
    ghost = "dsprites_noise_study@0.5-0"
    _edit(repo, lambda p: p["studies"]["noise"].update(fractions=[0.0]))
    dvc(repo, "repro", "report")
    # (the copy also holds the committed default-scale records: ghosts in the tiny DAG too)
    assert "timing record(s) of stages no longer in dvc.yaml" in (repo / "reports/report.md").read_text()

    listed = run(repo, str(BIN / "gatedvae"), "prune", "--dry-run").stdout
    assert f"lock entry  {ghost}" in listed and "output      reports/studies/noise/0.5-0.json" in listed
    assert f"timing      reports/timings/{ghost}.json" in listed
    assert (repo / "reports/studies/noise/0.5-0.json").exists()  # a dry run removes nothing

    run(repo, str(BIN / "gatedvae"), "prune")
    assert ghost not in yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert not (repo / "reports/studies/noise/0.5-0.json").exists()
    assert not (repo / f"reports/timings/{ghost}.json").exists()
    assert (repo / "reports/studies/noise/0.0-0.json").exists()  # the current member stays
    assert "nothing to prune" in run(repo, str(BIN / "gatedvae"), "prune").stdout
    dvc(repo, "repro", "report")
    assert "Left out" not in (repo / "reports/report.md").read_text()
    assert "up to date" in dvc(repo, "status").stdout
    summary = json.loads((repo / "reports/timings/study_summary.json").read_text())
    assert summary["stage"] == "study_summary"
