"""OpenFace output as it comes: bad cells are failed rows, a CSV for other images is an error
naming the file and line, and images are matched by name whatever else sits in the folder."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from gatedvae.errors import StageError
from gatedvae.faces import align, extractors, features
from gatedvae.faces.openface import OpenFaceFormatError
from gatedvae.params import ParamError



def _csv_lines(tiny_celeba):
    root, _, _ = tiny_celeba
    return (root / "openface" / "img_celeba.csv").read_text().splitlines()


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
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
    # each failed image is named with its reason and the file and line it came from
    non_finite = [f for f in counts["failures"] if f["reason"] == "non-finite pose or AU value"]
    assert non_finite == [{"image_id": ids[nan_pose - 1], "reason": "non-finite pose or AU value",
                           "row": f"{tmp_path / 'of.csv'}:{nan_pose + 1}"},
                          {"image_id": ids[inf_au - 1], "reason": "non-finite pose or AU value",
                           "row": f"{tmp_path / 'of.csv'}:{inf_au + 1}"}]
    assert len(counts["failures"]) == int((~frame["success"]).sum())
    clean = extractors.from_openface(tiny_celeba[0] / "openface" / "img_celeba.csv", ids)
    others = np.setdiff1d(np.arange(len(ids)), [nan_pose - 1, inf_au - 1])
    pd.testing.assert_frame_equal(frame.iloc[others], clean.iloc[others])


@pytest.mark.parametrize("case, match", [
    ("header_only", r"of.csv: 0 rows but 48 images: 48 images have no row"),
    ("missing_row", r"of.csv: 47 rows but 48 images: 1 images have no row; by frame number: "
                    r"000048.jpg \(frame 48\)\. .*an image added or removed after OpenFace ran"),
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
    elif case == "missing_row":
        lines = lines[:-1]
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
    with pytest.raises(OpenFaceFormatError, match=r"also held 1 hidden image-like files \(exactly the "
                                                   r"extra rows\), e.g. ._000001.jpg"):
        extractors.from_openface(_write(tmp_path / "of.csv", lines), _ids(tiny_celeba),
                                 hidden_images=["._000001.jpg"])


def test_the_hidden_file_hint_looks_where_openface_looked(tmp_path, tiny_celeba):
    """OpenFace ran on the researcher's folder, which held a macOS ._ file; acquisition leaves it
    out of the raw folder, so the features stage must learn of it from acquisition's report."""
    from gatedvae.faces.acquire import from_path
    from gatedvae.faces.images import list_images
    from gatedvae.faces.spec import Needs

    source = tmp_path / "celeba"
    shutil.copytree(tiny_celeba[0] / "img_celeba", source / "img_celeba")
    shutil.copy2(tiny_celeba[0] / "list_landmarks_celeba.txt", source)
    (source / "img_celeba" / "._000001.jpg").write_bytes(b"\0\5\26\7 resource fork")
    lines = _csv_lines(tiny_celeba)
    lines.append(_set_cell(lines[-1], lines[0].split(","), "frame", "49"))  # the ._ file's row
    _write(source / "openface" / "img_celeba.csv", lines)
    raw = tmp_path / "raw"
    from_path(source, raw, Needs(image_set="wild", openface_csv="openface/img_celeba.csv"), progress=False)
    listing = list_images(raw / "img_celeba")
    assert not listing.hidden  # cleaned: the raw folder alone cannot explain the extra row
    hidden = extractors.hidden_image_files(raw, listing)
    assert hidden == ["._000001.jpg"]
    with pytest.raises(OpenFaceFormatError, match=r"49 rows but 48 images.*hidden image-like files "
                                                   r"\(exactly the extra rows\), e.g. ._000001.jpg"):
        extractors.from_openface(raw / "openface" / "img_celeba.csv", listing.images, hidden_images=hidden)


def test_stray_files_in_the_image_folder_change_nothing(tmp_path, tiny_celeba, tiny_params):
    """The .DS_Store case: before, a non-image file shifted every OpenFace row onto the next image."""
    raw = tmp_path / "raw"
    shutil.copytree(tiny_celeba[0], raw)
    params = tiny_params
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


def test_an_image_set_the_raw_folder_lacks_is_an_error_naming_the_key(tmp_path, tiny_celeba, tiny_params):
    params = tiny_params
    params["faces"]["acquire"]["source"] = "path"
    params["faces"]["align"]["image_set"] = "aligned"    # the tiny set has img_celeba/ only
    with pytest.raises(ParamError, match=r"`faces.align.image_set` aligned reads .*img_align_celeba/ and .*"
                                         r"img_align_celeba, list_landmarks_align_celeba.txt is not in"):
        align.align_faces(params, raw=str(tiny_celeba[0]), out=str(tmp_path / "aligned"))
    params["faces"]["acquire"]["source"] = "synthetic"
    with pytest.raises(ParamError, match="`faces.align.image_set` must be `wild` with faces.acquire.source: synthetic"):
        align.align_faces(params, raw=str(tiny_celeba[0]), out=str(tmp_path / "aligned"))
    assert not (tmp_path / "aligned").exists()


def test_no_alignable_image_is_a_stage_error_naming_the_report(tmp_path, tiny_celeba, tiny_params):
    raw = tmp_path / "raw"
    shutil.copytree(tiny_celeba[0], raw)
    landmarks = raw / "list_landmarks_celeba.txt"
    lines = landmarks.read_text().splitlines()
    landmarks.write_text("\n".join(["0", lines[1]]) + "\n")  # the count line and the header, no rows
    params = tiny_params
    with pytest.raises(StageError, match=r"no image in .*img_celeba could be aligned; the reasons are in .*report.json"):
        align.align_faces(params, raw=str(raw), out=str(tmp_path / "aligned"))
    report = yaml.safe_load((tmp_path / "aligned" / "report.json").read_text())
    assert report["n_aligned"] == 0 and report["n_failed"] == 48
