"""OpenFace 2.0 CSV output: read FeatureExtraction (sequence) and FaceLandmarkImg (image) files.

Header names are stripped (OpenFace before 2.2 wrote ", " between them). Pose rotations are
radians (Rx pitch, Ry yaw, Rz roll); AU intensities `AUxx_r` lie in 0..5. Rows with
success == 0 are failed detections whose values are zeros, not measurements.

OpenFace's angles are not the project's (geometry.py): its camera frame has x to the image's
right, y down and z away from the camera, and pose_R* compose as R = Rx Ry Rz
(Utilities::Euler2RotationMatrix, RotationHelpers.h; the wiki's Output-Format page). That frame is
the project's turned half a turn about x, so pitch keeps its sign (positive: looking down) while
yaw and roll flip: a positive pose_Ry turns the face to the subject's right, the nose tip to the
image's left, where the project's positive yaw moves it to the image's right. to_project_pose and
from_project_pose convert exactly (roll included), and every OpenFace value is converted on read.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.atomic import save_text
from gatedvae.errors import StageError
from gatedvae.faces import geometry
from gatedvae.faces.spec import AU_INTENSITIES, AU_PRESENCES  # noqa: F401 (re-exported)

POSE = ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz")
SEQUENCE_HEAD = ("frame", "face_id", "timestamp", "confidence", "success")
IMAGE_HEAD = ("face", "confidence")


class OpenFaceFormatError(StageError, ValueError):
    """An OpenFace CSV is malformed; the message names the file and line."""


# The project's frame (x right, y up, z towards the camera) from OpenFace's (x right, y down,
# z away): a half turn about x, its own inverse.
FLIP = np.diag([1.0, -1.0, -1.0])


def rotation_xyz(rx, ry, rz) -> np.ndarray:
    """OpenFace's rotation R = Rx(rx) Ry(ry) Rz(rz) in its camera frame, shape [..., 3, 3]."""
    zero = np.zeros_like(np.asarray(rx, dtype=np.float64))
    return (geometry.rotation(rx, zero, zero) @ geometry.rotation(zero, ry, zero)
            @ geometry.rotation(zero, zero, rz))


def to_project_pose(rx, ry, rz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenFace's pose_Rx, pose_Ry, pose_Rz -> the project's (pitch, yaw, roll), geometry.py's
    R = Rz(roll) Ry(yaw) Rx(pitch) of the same head rotation."""
    rx, ry, rz = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (rx, ry, rz)))
    return geometry.angles_from_rotation(FLIP @ rotation_xyz(rx, ry, rz) @ FLIP)


def from_project_pose(pitch, yaw, roll) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The project's (pitch, yaw, roll) -> OpenFace's pose_Rx, pose_Ry, pose_Rz (|Ry| <= pi / 2):
    R = Rx Ry Rz has R[0, 2] = sin Ry, R[1, 2] = -cos Ry sin Rx, R[0, 1] = -cos Ry sin Rz."""
    rot = FLIP @ geometry.rotation(pitch, yaw, roll) @ FLIP
    ry = np.arcsin(np.clip(rot[..., 0, 2], -1.0, 1.0))
    rx = np.arctan2(-rot[..., 1, 2], rot[..., 2, 2])
    rz = np.arctan2(-rot[..., 0, 1], rot[..., 0, 0])
    return rx, ry, rz


def read_csv(path: str | Path) -> pd.DataFrame:
    """Columns line (the row's line in the file), frame (1-based, or the face number in image
    mode), confidence, success, pose_R*, AU*_r, as floats. Image-mode files have no success
    column: a written row is a detection. A value written as nan or inf (OpenFace writes -nan
    when a fit diverges) is kept: the extractor treats such a row as a failed detection."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise OpenFaceFormatError(f"{path}: cannot read as UTF-8 text: {e}") from e
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise OpenFaceFormatError(f"{path}:1: empty file, expected an OpenFace header line")
    header = [name.strip() for name in rows[0]]
    if tuple(header[:5]) == SEQUENCE_HEAD:
        mode = "sequence"
    elif tuple(header[:2]) == IMAGE_HEAD:
        mode = "image"
    else:
        raise OpenFaceFormatError(f"{path}:1: expected a header starting with "
                                  f"{','.join(SEQUENCE_HEAD)} or {','.join(IMAGE_HEAD)}, "
                                  f"got {','.join(header[:5])!r}")
    needed = ["pose_Rx", "pose_Ry", "pose_Rz", *AU_INTENSITIES]
    missing = [name for name in needed if name not in header]
    if missing:
        raise OpenFaceFormatError(f"{path}:1: missing columns {missing}; run OpenFace with "
                                  "-pose -aus (or with no output flags)")
    if len(set(header)) != len(header):
        raise OpenFaceFormatError(f"{path}:1: repeated column names")
    keep = (["frame", "confidence", "success"] if mode == "sequence" else ["face", "confidence"]) + needed
    columns = [header.index(name) for name in keep]
    values = np.empty((len(rows) - 1, len(keep)), dtype=np.float64)
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise OpenFaceFormatError(f"{path}:{i + 2}: expected {len(header)} fields, got {len(row)}")
        try:
            values[i] = [float(row[c]) for c in columns]
        except ValueError:
            bad = next(keep[j] for j, c in enumerate(columns) if not _is_float(row[c]))
            raise OpenFaceFormatError(f"{path}:{i + 2}: column {bad}: expected a number, "
                                      f"got {row[header.index(bad)]!r}") from None
        if not np.isfinite(values[i, 0]) or values[i, 0] != round(values[i, 0]):
            raise OpenFaceFormatError(f"{path}:{i + 2}: column {keep[0]}: expected a whole "
                                      f"number, got {row[columns[0]]!r}")
    frame = pd.DataFrame(values, columns=keep)
    frame.insert(0, "line", np.arange(2, len(frame) + 2))
    if mode == "image":
        frame = frame.rename(columns={"face": "frame"})
        frame.insert(3, "success", 1.0)
    return frame


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def write_sequence_csv(path: str | Path, frame: pd.DataFrame) -> None:
    """Write FeatureExtraction's CSV as run with `-pose -aus` (OpenFace 2.2 header, no spaces).

    `frame` needs columns confidence, success and the POSE, AU_INTENSITIES and AU_PRESENCES
    columns; frame numbers are 1-based row numbers and timestamps 30 fps, as for `-fdir`.
    """
    n = len(frame)
    out = pd.DataFrame({"frame": np.arange(1, n + 1), "face_id": 0,
                        "timestamp": np.round(np.arange(n) / 30.0, 3)})
    out["confidence"] = frame["confidence"].map(lambda v: f"{v:.2f}")
    out["success"] = frame["success"].astype(int)
    for name in POSE:
        digits = 1 if name.startswith("pose_T") else 3
        out[name] = frame[name].map(lambda v, d=digits: f"{v:.{d}f}")
    for name in AU_INTENSITIES:
        out[name] = frame[name].map(lambda v: f"{v:.2f}")
    for name in AU_PRESENCES:
        out[name] = frame[name].astype(int)
    save_text(path, out.to_csv(index=False, lineterminator="\n"))
