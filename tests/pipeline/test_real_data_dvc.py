"""Real data through real DVC: the files a `path` source reads are dependencies (replace one and
what reads it reruns), and switching scale on a params file set up for real data leaves every
data choice alone."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from celeba_subset import celeba_subset
from dsprites_npz import write_official_npz
from dvc_project import BIN, copy_project, dvc, run, stages_run
from gatedvae.dsprites import data as D

pytestmark = pytest.mark.slow

DATA_KEYS = {
    "dsprites.acquire.source": "path", "dsprites.acquire.path": "data/external/dsprites",
    "faces.acquire.source": "path", "faces.acquire.path": "data/external/celeba",
    "faces.align.image_set": "aligned", "faces.features.extractor": "celeba_annotations",
}


def _dotted(params: dict, key: str):
    for part in key.split("."):
        params = params[part]
    return params


def _set(text: str, key: str, value: str) -> str:
    """Replace one nested value in params.yaml's text (keys are unique enough at their depth)."""
    section, leaf = key.rsplit(".", 1)
    start = 0
    for part in section.split("."):
        start = text.index(f"{part}:", start)
    line_start = text.index(f" {leaf}:", start) + 1
    line_end = text.index("\n", line_start)
    indent = text[:line_start].rsplit("\n", 1)[1]
    return text[:line_start - len(indent)] + f"{indent}{leaf}: {value}" + text[line_end:]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("real") / "project", scale="tiny")
    write_official_npz(root / "data/external/dsprites/mine.npz", D.sample_classes(1000, seed=3))
    celeba_subset(root / "data/external/celeba", stray_file=True)
    text = (root / "params.yaml").read_text()
    for key, value in DATA_KEYS.items():
        text = _set(text, key, value)
    (root / "params.yaml").write_text(text)
    run(root, "git", "add", "-A", "-f")
    run(root, "git", "commit", "-q", "-m", "real data")
    return root


def test_switching_scale_keeps_every_data_choice(project):
    for scale in ("paper", "default", "tiny"):
        done = run(project, str(BIN / "gatedvae"), "scale", scale)
        params = yaml.safe_load((project / "params.yaml").read_text())
        for key, value in DATA_KEYS.items():
            assert _dotted(params, key) == value, (scale, key)
        assert "data sources untouched" in done.stdout
    # tiny asks for 1,536 dSprites images; the file holds 1,000: the scale takes them all
    assert "dsprites.acquire.n_images: the scale asks for 1,536" in done.stdout
    assert _dotted(params, "dsprites.acquire.n_images") == 0
    changed = json.loads(dvc(project, "params", "diff", "--json").stdout)["params.yaml"]
    assert "dsprites.acquire.n_images" in changed and "dsprites.train.epochs" not in changed
    assert not set(DATA_KEYS) & set(changed)


def test_replacing_a_source_file_reruns_what_reads_it(project):
    first = dvc(project, "repro", "-s", "dsprites_acquire", "faces_acquire")
    assert stages_run(first.stdout) == {"dsprites_acquire", "faces_acquire"}
    factors = pd.read_parquet(project / "data/dsprites/factors.parquet")
    assert len(factors) == 1000
    report = json.loads((project / "data/faces/raw/acquire_report.json").read_text())
    assert report["images"] == 128 and report["ignored_files"]["hidden"] == 1
    again = dvc(project, "repro", "-s", "dsprites_acquire", "faces_acquire")
    assert stages_run(again.stdout) == set()

    # the same path, other contents: before, DVC restored the old images from its cache
    write_official_npz(project / "data/external/dsprites/mine.npz", D.sample_classes(1000, seed=4))
    shutil.copy2(project / "data/external/celeba/img_align_celeba/000001.jpg",
                 project / "data/external/celeba/img_align_celeba/000001.png")
    status = dvc(project, "status", "dsprites_acquire", "faces_acquire").stdout
    assert "data/external/dsprites" in status and "data/external/celeba" in status
    rerun = dvc(project, "repro", "-s", "dsprites_acquire", "faces_acquire")
    assert stages_run(rerun.stdout) == {"dsprites_acquire", "faces_acquire"}
    changed = pd.read_parquet(project / "data/dsprites/factors.parquet")
    assert not np.array_equal(changed["grid_index"], factors["grid_index"])
    report = json.loads((project / "data/faces/raw/acquire_report.json").read_text())
    assert report["images"] == 129
    assert report["annotations"]["list_landmarks_align_celeba.txt"]["images_without_row_examples"] == ["000001.png"]


def test_a_size_the_data_cannot_meet_fails_at_the_first_stage(project):
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(_set(text, "faces.evaluate.n_train", "500"))
    try:
        done = dvc(project, "repro", "-f", "-s", "faces_acquire", check=False)  # it reads no faces.evaluate key
    finally:
        (project / "params.yaml").write_text(text)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    # counted as what alignment will keep: 000001.png (added above) has no landmark row
    assert "`faces.evaluate.n_train` + faces.evaluate.n_test (500 + 40) exceed the data (128 images)" in output
    assert "129 images, 1 without a row in data/external/celeba/list_landmarks_align_celeba.txt" in output
    assert "Traceback" not in output
