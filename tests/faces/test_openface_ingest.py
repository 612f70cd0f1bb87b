"""OpenFace output as it comes: bad cells are failed rows, a CSV for other images is an error
naming the file and line, and images are matched by name whatever else sits in the folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gatedvae.errors import StageError
from gatedvae.faces import align, extractors, features
from gatedvae.faces.openface import OpenFaceFormatError
from gatedvae.params import ParamError, load as load_params
from gatedvae.scales import apply_scale

ROOT = Path(__file__).resolve().parents[2]


def _csv_lines(tiny_celeba):
    root, _, _ = tiny_celeba
    return (root / "openface" / "img_celeba.csv").read_text().splitlines()


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def _ids(tiny_celeba):
    return tiny_celeba[1]["image_id"].tolist()


def _set_cell(line: str, header: list[str], column: str, value: str) -> str:
    cells = line.split(",")
    cells[header.index(column)] = value
    return ",".join(cells)


def test_non_finite_cells_are_failed_rows_counted_and_listed(tmp_path, tiny_celeba):
    lines = _csv_lines(tiny_celeba)
    header = lines[0].split(",")
    success = [i for i in range(1, len(lines)) if lines[i].split(",")[header.index("success")] == "1"]
    nan_pose, inf_au = success[0], success[1]
    lines[nan_pose] = _set_cell(lines[nan_pose], header, "pose_Rx", "-nan")
    lines[inf_au] = _set_cell(lines[inf_au], header, "AU12_r", "inf")
    counts = {}
    frame = extractors.from_openface(_write(tmp_path / "of.csv", lines), _ids(tiny_celeba), counts=counts)
    features.validate(frame)
    ids = _ids(tiny_celeba)
    assert not frame.loc[[nan_pose - 1, inf_au - 1], "success"].any()
    assert counts["non_finite"] == 2
    assert counts["non_finite_rows"] == [{"line": nan_pose + 1, "image_id": ids[nan_pose - 1]},
                                         {"line": inf_au + 1, "image_id": ids[inf_au - 1]}]
    clean = extractors.from_openface(tiny_celeba[0] / "openface" / "img_celeba.csv", ids)
    others = np.setdiff1d(np.arange(len(ids)), [nan_pose - 1, inf_au - 1])
    pd.testing.assert_frame_equal(frame.iloc[others], clean.iloc[others])


@pytest.mark.parametrize("case, match", [
    ("header_only", r"of.csv: no usable row for 48 images \(0 rows"),
    ("all_failed", r"no usable row for 48 images \(48 rows: 48 failed"),
    ("extra_row", r"of.csv: 49 rows but 48 images: the CSV was made from another folder"),
    ("repeated_frame", r"of.csv:4: frame 2 again \(first on line 3\)"),
    ("frame_outside", r"of.csv:3: frame 60 is outside 1..48"),
    ("fractional_frame", r"of.csv:3: column frame: expected a whole number, got '2.5'"),
])
def test_a_csv_that_cannot_belong_to_these_images_is_an_error_naming_file_and_line(tmp_path, tiny_celeba, case, match):
    lines = _csv_lines(tiny_celeba)
    header = lines[0].split(",")
    if case == "header_only":
        lines = lines[:1]
    elif case == "all_failed":
        lines = lines[:1] + [_set_cell(line, header, "success", "0") for line in lines[1:]]
    elif case == "extra_row":
        lines = lines + [_set_cell(lines[-1], header, "frame", "49")]
    elif case == "repeated_frame":
        lines[3] = _set_cell(lines[3], header, "frame", "2")
    elif case == "frame_outside":
        lines[2] = _set_cell(lines[2], header, "frame", "60")
    else:
        lines[2] = _set_cell(lines[2], header, "frame", "2.5")
    with pytest.raises(OpenFaceFormatError, match=match):
        extractors.from_openface(_write(tmp_path / "of.csv", lines), _ids(tiny_celeba))


def test_hidden_image_files_are_named_when_the_frame_count_is_off(tmp_path, tiny_celeba):
    lines = _csv_lines(tiny_celeba)
    header = lines[0].split(",")
    lines.append(_set_cell(lines[-1], header, "frame", "49"))
    with pytest.raises(OpenFaceFormatError, match=r"1 hidden image-like files \(e.g. macOS ._ files\)"):
        extractors.from_openface(_write(tmp_path / "of.csv", lines), _ids(tiny_celeba), hidden_images=1)


def test_stray_files_in_the_image_folder_change_nothing(tmp_path, tiny_celeba):
    """The .DS_Store case: before, a non-image file shifted every OpenFace row onto the next image."""
    raw = tmp_path / "raw"
    shutil.copytree(tiny_celeba[0], raw)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_scale("tiny", tmp_path / "params.yaml", ROOT / "configs" / "scales")
    params = load_params(tmp_path / "params.yaml")
    params["faces"]["features"]["extractor"] = "openface"
    params["faces"]["features"]["openface"]["csv"] = "openface/img_celeba.csv"
    params["faces"]["align"]["image_set"] = "wild"
    extractors.extract_features(params, raw=str(raw), out=str(tmp_path / "a.parquet"), report=str(tmp_path / "a.json"))
    (raw / "img_celeba" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (raw / "img_celeba" / "000000_notes.txt").write_text("mine")
    (raw / "img_celeba" / "Thumbs.db").write_bytes(b"x")
    extractors.extract_features(params, raw=str(raw), out=str(tmp_path / "b.parquet"), report=str(tmp_path / "b.json"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet"))
    report = yaml.safe_load((tmp_path / "b.json").read_text())
    assert report["counts"]["ignored_files"]["hidden"] == 1
    assert report["counts"]["ignored_files"]["not_images"] == 2


def test_an_image_set_the_raw_folder_lacks_is_an_error_naming_the_key(tmp_path, tiny_celeba):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_scale("tiny", tmp_path / "params.yaml", ROOT / "configs" / "scales")
    params = load_params(tmp_path / "params.yaml")
    params["faces"]["acquire"]["source"] = "path"
    params["faces"]["align"]["image_set"] = "aligned"    # the tiny set has img_celeba/ only
    with pytest.raises(ParamError, match=r"`faces.align.image_set` aligned reads .*img_align_celeba/ and .*"
                                         r"img_align_celeba, list_landmarks_align_celeba.txt is not in"):
        align.align_faces(params, raw=str(tiny_celeba[0]), out=str(tmp_path / "aligned"))
    params["faces"]["acquire"]["source"] = "synthetic"
    with pytest.raises(ParamError, match="`faces.align.image_set` must be `wild` with faces.acquire.source: synthetic"):
        align.align_faces(params, raw=str(tiny_celeba[0]), out=str(tmp_path / "aligned"))
    assert not (tmp_path / "aligned").exists()


def test_no_alignable_image_is_a_stage_error_naming_the_report(tmp_path, tiny_celeba):
    raw = tmp_path / "raw"
    shutil.copytree(tiny_celeba[0], raw)
    landmarks = raw / "list_landmarks_celeba.txt"
    lines = landmarks.read_text().splitlines()
    landmarks.write_text("\n".join(["0", lines[1]]) + "\n")  # the count line and the header, no rows
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_scale("tiny", tmp_path / "params.yaml", ROOT / "configs" / "scales")
    params = load_params(tmp_path / "params.yaml")
    with pytest.raises(StageError, match=r"no image in .*img_celeba could be aligned; the reasons are in .*report.json"):
        align.align_faces(params, raw=str(raw), out=str(tmp_path / "aligned"))
    report = yaml.safe_load((tmp_path / "aligned" / "report.json").read_text())
    assert report["n_aligned"] == 0 and report["n_failed"] == 48
