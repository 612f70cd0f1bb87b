"""OpenFace CSVs: both headers (2.2 and the older ", " style), image mode, and malformed rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatedvae.faces import openface


def full_header(sep: str = ",") -> list[str]:
    """FeatureExtraction's full column list (OpenFace 2.x with every output on)."""
    cols = ["frame", "face_id", "timestamp", "confidence", "success"]
    cols += [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
    cols += [f"eye_lmk_{a}_{i}" for a in ("x", "y") for i in range(56)]
    cols += [f"eye_lmk_{a}_{i}" for a in ("X", "Y", "Z") for i in range(56)]
    cols += list(openface.POSE)
    cols += [f"{a}_{i}" for a in ("x", "y") for i in range(68)]
    cols += [f"{a}_{i}" for a in ("X", "Y", "Z") for i in range(68)]
    cols += ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"] + [f"p_{i}" for i in range(34)]
    cols += list(openface.AU_INTENSITIES) + list(openface.AU_PRESENCES)
    return cols


def sample_rows(cols, rows):
    """rows: list of dicts of the values that matter; everything else 0.5 (or 0 when failed)."""
    out = []
    for i, values in enumerate(rows):
        line = []
        for c in cols:
            if c == "frame":
                line.append(str(i + 1))
            elif c in values:
                line.append(str(values[c]))
            elif c == "face_id":
                line.append("0")
            else:
                line.append("0" if values.get("success", 1) == 0 else "0.5")
        out.append(line)
    return out


ROWS = [
    {"confidence": 0.98, "success": 1, "pose_Rx": 0.123, "pose_Ry": -0.3, "pose_Rz": 0.05, "AU12_r": 2.31},
    {"confidence": 0, "success": 0},
    {"confidence": 0.93, "success": 1, "pose_Rx": -0.2, "pose_Ry": 0.41, "pose_Rz": 0.0, "AU45_r": 4.8},
]


@pytest.mark.parametrize("sep", [",", ", "])
def test_feature_extraction_csv_both_header_styles(tmp_path, sep):
    cols = full_header()
    text = sep.join(cols) + "\n" + "\n".join(sep.join(r) for r in sample_rows(cols, ROWS)) + "\n"
    path = tmp_path / "frames.csv"
    path.write_text(text)
    frame = openface.read_csv(path)
    assert frame["frame"].tolist() == [1, 2, 3]
    assert frame["success"].tolist() == [1, 0, 1]
    assert frame.loc[0, "pose_Rx"] == pytest.approx(0.123) and frame.loc[2, "pose_Ry"] == pytest.approx(0.41)
    assert frame.loc[0, "AU12_r"] == pytest.approx(2.31) and frame.loc[2, "AU45_r"] == pytest.approx(4.8)
    assert frame.loc[1, "AU12_r"] == 0


def test_image_mode_csv(tmp_path):
    cols = ["face", "confidence"] + list(openface.POSE) + list(openface.AU_INTENSITIES) + list(openface.AU_PRESENCES)
    rows = [["0", "0.9"] + ["0.1"] * (len(cols) - 2), ["1", "0.4"] + ["0.2"] * (len(cols) - 2)]
    path = tmp_path / "000001.csv"
    path.write_text(",".join(cols) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    frame = openface.read_csv(path)
    assert frame["frame"].tolist() == [0, 1] and frame["success"].tolist() == [1, 1]
    assert frame["pose_Ry"].tolist() == [0.1, 0.2]


def test_missing_au_columns_say_how_to_run_openface(tmp_path):
    path = tmp_path / "pose_only.csv"
    path.write_text("frame,face_id,timestamp,confidence,success,pose_Rx,pose_Ry,pose_Rz\n1,0,0,0.9,1,0,0,0\n")
    with pytest.raises(openface.OpenFaceFormatError, match=r"pose_only.csv:1: missing columns \['AU01_r'"):
        openface.read_csv(path)


def test_not_an_openface_header(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(openface.OpenFaceFormatError, match=r"x.csv:1: expected a header starting with frame"):
        openface.read_csv(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 2), how=st.sampled_from(["short", "long", "word", "empty"]),
       column=st.sampled_from(["confidence", "success", "pose_Rx", "pose_Ry", "AU12_r", "AU45_r"]))
def test_fuzzed_malformed_row_names_file_and_line(tmp_path, row, how, column):
    cols = ["frame", "face_id", "timestamp", "confidence", "success"] + list(openface.POSE) + \
        list(openface.AU_INTENSITIES)
    rows = sample_rows(cols, ROWS)
    j = cols.index(column)
    if how == "short":
        rows[row] = rows[row][:-1]
    elif how == "long":
        rows[row] = rows[row] + ["1"]
    elif how == "word":
        rows[row][j] = "abc"
    else:
        rows[row][j] = ""
    path = tmp_path / "run.csv"
    path.write_text(",".join(cols) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(openface.OpenFaceFormatError) as err:
        openface.read_csv(path)
    message = str(err.value)
    assert f"run.csv:{row + 2}: " in message, message
    if how in ("word", "empty"):
        assert column in message


@pytest.mark.parametrize("token", ["nan", "-nan", "inf", "-inf"])
def test_non_finite_values_are_read_for_the_extractor_to_fail_the_row(tmp_path, token):
    """OpenFace writes -nan when a fit diverges; one such cell must not abort the file
    (extractors.from_openface marks the row failed, see test_openface_ingest.py)."""
    cols = ["frame", "face_id", "timestamp", "confidence", "success"] + list(openface.POSE) + \
        list(openface.AU_INTENSITIES)
    rows = sample_rows(cols, ROWS)
    rows[1][cols.index("pose_Ry")] = token
    path = tmp_path / "run.csv"
    path.write_text(",".join(cols) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    table = openface.read_csv(path)
    assert not np.isfinite(table.loc[1, "pose_Ry"]) and table.loc[1, "line"] == 3
    assert np.isfinite(table.drop(index=1)[["pose_Ry"]].to_numpy()).all()


def test_written_csv_reads_back(tmp_path, tiny_celeba):
    root, factors, _ = tiny_celeba
    frame = openface.read_csv(root / "openface" / "img_celeba.csv")
    assert len(frame) == len(factors)
    header = (root / "openface" / "img_celeba.csv").read_text().split("\n")[0]
    assert header.startswith("frame,face_id,timestamp,confidence,success,pose_Tx")
    ok = frame["success"].to_numpy() == 1
    assert (~ok).any(), "the tiny set is configured with failed rows"
    assert (frame.loc[~ok, ["pose_Ry", "AU12_r"]].to_numpy() == 0).all()
    good = ok & (frame["confidence"].to_numpy() > 0.75)
    # written in OpenFace's convention: the project's yaw is minus pose_Ry (roll aside)
    pitch, yaw, _ = openface.to_project_pose(*(frame.loc[good, c].to_numpy() for c in ("pose_Rx", "pose_Ry", "pose_Rz")))
    assert np.abs(yaw - factors.loc[good, "yaw"].to_numpy()).max() < np.radians(10)
    assert np.abs(pitch - factors.loc[good, "pitch"].to_numpy()).max() < np.radians(10)
    big = good & (np.abs(factors["yaw"].to_numpy()) > np.radians(10))
    assert (np.sign(frame.loc[big, "pose_Ry"]) == -np.sign(factors.loc[big, "yaw"])).all()
