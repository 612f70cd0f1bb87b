"""The features.parquet contract: per image, head pose (radians) and AU intensities (0..5).

Columns: image_id (str, unique), extractor (str), success (bool), confidence (float), pitch, yaw
(float radians; finite where success), the 17 OpenFace AU intensity columns (float in 0..5, NaN
where this extractor does not estimate that unit or where success is false). Checked on write
and on read, so a bad file fails at the stage that made it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import inputs
from gatedvae.atomic import save_parquet
from gatedvae.faces.openface import AU_INTENSITIES
from gatedvae.errors import StageError

POSE_COLUMNS = ("pitch", "yaw")
COLUMNS = ("image_id", "extractor", "success", "confidence", *POSE_COLUMNS, *AU_INTENSITIES)


class FeaturesSchemaError(StageError, ValueError):
    """features.parquet breaks the contract; the message names the file, column and row."""


def validate(frame: pd.DataFrame, source: str = "features") -> pd.DataFrame:
    """Return the frame with columns in contract order and dtypes, or raise naming what is wrong."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in COLUMNS]
    if missing or extra:
        raise FeaturesSchemaError(f"{source}: columns missing {missing}, unexpected {extra}")
    frame = frame[list(COLUMNS)].reset_index(drop=True)
    ids = frame["image_id"]
    if not all(isinstance(v, str) and v for v in ids):
        raise FeaturesSchemaError(f"{source}: column image_id must hold non-empty strings")
    if not ids.is_unique:
        row = int(np.flatnonzero(ids.duplicated().to_numpy())[0])
        raise FeaturesSchemaError(f"{source}: row {row}: image_id {ids[row]} appears twice")
    if frame["success"].dtype != bool:
        raise FeaturesSchemaError(f"{source}: column success must be bool, got {frame['success'].dtype}")
    for name in ("confidence", *POSE_COLUMNS, *AU_INTENSITIES):
        if not pd.api.types.is_float_dtype(frame[name]):
            raise FeaturesSchemaError(f"{source}: column {name} must be float, got {frame[name].dtype}")
    ok = frame["success"].to_numpy()
    pose = frame[list(POSE_COLUMNS)].to_numpy()
    _fail_rows(source, ok & ~np.isfinite(pose).all(axis=1), "pitch and yaw must be finite where success")
    _fail_rows(source, np.isfinite(pose).any(axis=1) & (np.abs(np.nan_to_num(pose)) > np.pi).any(axis=1),
               "pitch and yaw must be radians within [-pi, pi]")
    aus = frame[list(AU_INTENSITIES)].to_numpy()
    _fail_rows(source, ((aus < 0) | (aus > 5)).any(axis=1), "AU intensities must lie in 0..5 (or NaN)")
    _fail_rows(source, ~ok & np.isfinite(np.c_[pose, aus]).any(axis=1),
               "rows without success must hold NaN, not values")
    return frame


def _fail_rows(source, bad, message):
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise FeaturesSchemaError(f"{source}: row {row}: {message} ({int(bad.sum())} rows)")


def empty(image_ids, extractor: str) -> pd.DataFrame:
    """A contract frame for these images with success False and NaN values, to fill in."""
    n = len(image_ids)
    frame = pd.DataFrame({"image_id": list(image_ids), "extractor": extractor,
                          "success": np.zeros(n, bool), "confidence": np.full(n, np.nan)})
    for name in (*POSE_COLUMNS, *AU_INTENSITIES):
        frame[name] = np.full(n, np.nan)
    return frame


def write(path: str | Path, frame: pd.DataFrame) -> None:
    save_parquet(path, validate(frame, str(path)))


def read(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FeaturesSchemaError(f"{path}: not found")
    return validate(inputs.table(path), str(path))
