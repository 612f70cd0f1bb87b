"""Real-format faces through real DVC, from faces_acquire to the report: a CelebA-layout subset
(aligned images, landmarks, attributes, an OpenFace CSV; no ground truth) at tiny scale, once with
`celeba_annotations` and once with `openface`. Every declared output must be written, the faces
metrics must be scored against the extractor's labels, and the report must say so.

Starts from a copy of the session's tiny DAG (conftest.tiny_dag), so only the faces stages (and
what reads them) rerun."""

from __future__ import annotations

import json

import pytest
import yaml

from celeba_subset import OPENFACE_CSV, celeba_subset
from dvc_project import dvc, run, stages_run

# its tests share one copy of the tiny DAG (conftest.tiny_dag, built once per run): one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny_dag_real_faces")]

REAL = {"source": "path", "path": "data/external/celeba"}


def _configure(repo, extractor: str) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    faces = params["faces"]
    faces["acquire"].update(REAL)
    faces["align"]["image_set"] = "aligned"
    faces["features"]["extractor"] = extractor
    faces["features"]["openface"]["csv"] = OPENFACE_CSV
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tiny_dag, tmp_path_factory):
    repo, _ = tiny_dag(tmp_path_factory.mktemp("real_faces") / "copy")
    celeba_subset(repo / "data/external/celeba")
    return repo


def _check_the_branch_went_to_the_report(repo, extractor: str, output: str) -> dict:
    ran = stages_run(output)
    assert {"faces_acquire", "faces_features", "faces_evaluate", "report"} <= ran, ran
    assert not any(s.startswith("dsprites_") for s in ran), ran
    status = dvc(repo, "status", "--json").stdout
    assert json.loads(status) == {}, status
    for gating in ("gated", "ungated"):
        hintons = sorted(p.name for p in (repo / f"reports/faces/runs/{gating}/eval").iterdir())
        assert hintons == ["hinton_extractor_lasso.png", "hinton_extractor_rf.png"]
    assert (repo / "reports/figures/faces_recipes.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((repo / "reports/metrics/faces.json").read_text())
    labels = metrics["labels"]
    assert labels["ground_truth"] is False and labels["extractor"] == extractor
    assert labels["ranked_by"] == f"{extractor} features (weak labels)"
    gated = metrics["gated"]["mean"]
    assert "rf_placement_pose" not in gated  # no truth, no truth-based key
    for key in ("extractor_rf_placement_pose", "extractor_rf_placement_expression", "test_variance_explained",
                "kl_pose", "active_expression"):
        assert key in gated, key
    assert 0 < gated["extractor_n_test"] <= 40
    assert "test_variance_explained" in metrics["gated"]["finetuned"]
    report = (repo / "reports/report.md").read_text()
    assert "**No ground truth** (real photographs)" in report
    assert f"Against {extractor}'s features (weak labels):" in report
    return metrics


def test_celeba_annotations_branch_goes_from_acquisition_to_the_report(repo):
    _configure(repo, "celeba_annotations")
    done = dvc(repo, "repro", "report")
    metrics = _check_the_branch_went_to_the_report(repo, "celeba_annotations", done.stdout)
    # 5 landmarks and the attribute file estimate 3 units; the others are left out, with why
    dropped = metrics["labels"]["extractor_labels_left_out"]
    assert metrics["labels"]["extractor_labels"]["expression"] == ["AU12_r", "AU25_r", "AU45_r"]
    assert dropped["AU01_r"] == "not estimated by this extractor"
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "real faces: celeba_annotations")


def test_openface_branch_goes_from_acquisition_to_the_report(repo):
    _configure(repo, "openface")
    done = dvc(repo, "repro", "report")
    metrics = _check_the_branch_went_to_the_report(repo, "openface", done.stdout)
    assert metrics["labels"]["extractor_labels"]["expression"] == [
        "AU01_r", "AU02_r", "AU04_r", "AU06_r", "AU12_r", "AU25_r", "AU26_r", "AU45_r"]
    features = json.loads((repo / "data/faces/features_report.json").read_text())
    # the generator's OpenFace CSV has failed and low-confidence rows: each named, with its reason
    assert features["failures"] and len(features["failures"]) == features["n_images"] - features["n_success"]
    assert {f["reason"].split(" (")[0] for f in features["failures"]} <= {
        "no face", "confidence below 0.75"}
