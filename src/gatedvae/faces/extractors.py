"""Feature extractors: each turns one source into the features.parquet contract (features.py).

- openface: OpenFace CSVs (sequence mode with frames in image order, or one image-mode CSV per
  image); failed and low-confidence detections become success = False, counted.
- celeba_annotations: pose from the 5 landmarks (geometry.pose_from_landmarks) and expression
  proxies from landmark geometry and the attribute file; runs on real CelebA with no model.
- synthetic: the generator's ground truth plus Gaussian noise, with a failure rate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.faces import celeba, features, geometry, openface

log = logging.getLogger(__name__)


def from_openface(csv_path: str | Path, image_ids: list[str], *, min_confidence: float = 0.75,
                  counts: dict | None = None) -> pd.DataFrame:
    """A sequence-mode CSV (frame k = the k-th image of `image_ids`, as `-fdir` reads a folder
    in name order) or a folder of image-mode CSVs named after the images."""
    csv_path = Path(csv_path)
    out = features.empty(image_ids, "openface")
    if csv_path.is_dir():
        rows = []
        for i, image_id in enumerate(image_ids):
            path = csv_path / (Path(image_id).stem + ".csv")
            if not path.exists():
                continue
            table = openface.read_csv(path)
            if len(table):
                best = table.loc[table["confidence"].idxmax()].copy()
                best["frame"] = i + 1
                rows.append(best)
        table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["frame", "confidence", "success"])
    else:
        table = openface.read_csv(csv_path)
    frames = table["frame"].to_numpy().astype(np.int64) if len(table) else np.zeros(0, np.int64)
    bad = (frames < 1) | (frames > len(image_ids))
    if bad.any():
        raise ValueError(f"{csv_path}: frame {frames[bad][0]} is outside 1..{len(image_ids)} "
                         f"(the CSV does not match the {len(image_ids)} images)")
    if len(np.unique(frames)) != len(frames):
        raise ValueError(f"{csv_path}: repeated frame numbers; expected one face per image")
    index = frames - 1
    success = table["success"].to_numpy() > 0 if len(table) else np.zeros(0, bool)
    confident = table["confidence"].to_numpy() >= min_confidence if len(table) else np.zeros(0, bool)
    keep = success & confident
    rows = index[keep]
    out.loc[rows, "success"] = True
    out.loc[rows, "confidence"] = table["confidence"].to_numpy()[keep]
    out.loc[rows, "pitch"] = table["pose_Rx"].to_numpy()[keep]
    out.loc[rows, "yaw"] = table["pose_Ry"].to_numpy()[keep]
    for name in openface.AU_INTENSITIES:
        out.loc[rows, name] = np.clip(table[name].to_numpy()[keep], 0, 5)
    _count(counts, n_images=len(image_ids), no_row=len(image_ids) - len(table),
           failed=int((~success).sum()), low_confidence=int((success & ~confident).sum()))
    return out


def from_celeba_annotations(landmarks: pd.DataFrame, attributes: pd.DataFrame | None,
                            image_ids: list[str], *, counts: dict | None = None) -> pd.DataFrame:
    """Pose from the 5 landmarks; expression proxies on the AU scale (0..5):
    AU12 from lip-corner spread and lift (plus Smiling), AU25 from Mouth_Slightly_Open, AU45
    from Narrow_Eyes. Other units stay NaN: 5 points carry no brow or eyelid information."""
    out = features.empty(image_ids, "celeba_annotations")
    lm = landmarks.reindex(image_ids)
    has = lm.notna().all(axis=1).to_numpy()
    points = lm.to_numpy(dtype=np.float64).reshape(-1, 5, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        pitch, yaw, _ = geometry.pose_from_landmarks(points)
    iod = np.hypot(*(points[:, 1] - points[:, 0]).T)
    eyes_mid = points[:, :2].mean(axis=1)
    mouth_mid = points[:, 3:].mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.hypot(*(points[:, 4] - points[:, 3]).T) / np.maximum(iod * np.cos(yaw), 1e-6)
        drop = np.hypot(*(mouth_mid - eyes_mid).T) / np.maximum(iod * np.cos(pitch), 1e-6)
    # Neutral generic face: spread 0.84, drop 1.08; a full smile: 1.0 and 0.94 (geometry.py).
    smile_geom = np.clip(((spread - 0.84) / 0.16 + (1.08 - drop) / 0.14) / 2, 0, 1)
    ok = has & np.isfinite(pitch) & np.isfinite(yaw) & (iod > 1)
    smiling = mouth_open = narrow = np.full(len(image_ids), np.nan)
    if attributes is not None:
        attrs = attributes.reindex(image_ids)
        smiling = (attrs["Smiling"].to_numpy() > 0).astype(float)
        mouth_open = (attrs["Mouth_Slightly_Open"].to_numpy() > 0).astype(float)
        narrow = (attrs["Narrow_Eyes"].to_numpy() > 0).astype(float)
        ok &= attrs.notna().all(axis=1).to_numpy()
        au12 = 5.0 * (0.5 * smile_geom + 0.5 * smiling)
    else:
        au12 = 5.0 * smile_geom
    out.loc[ok, "success"] = True
    out.loc[ok, "confidence"] = 1.0
    out.loc[ok, "pitch"] = pitch[ok]
    out.loc[ok, "yaw"] = yaw[ok]
    out.loc[ok, "AU12_r"] = au12[ok]
    if attributes is not None:
        out.loc[ok, "AU25_r"] = 5.0 * mouth_open[ok]
        out.loc[ok, "AU45_r"] = 5.0 * narrow[ok]
    _count(counts, n_images=len(image_ids), no_landmarks=int((~has).sum()),
           degenerate=int((has & ~ok).sum()))
    return out


def from_synthetic(factors: pd.DataFrame, image_ids: list[str], *, pose_noise_deg: float = 0.0,
                   au_noise: float = 0.0, failure_rate: float = 0.0, seed: int = 0,
                   counts: dict | None = None) -> pd.DataFrame:
    """Ground truth (factors.parquet) plus noise; `failure_rate` of images fail at random."""
    rng = np.random.default_rng(seed)
    out = features.empty(image_ids, "synthetic")
    truth = factors.set_index("image_id").reindex(image_ids)
    n = len(image_ids)
    ok = truth["yaw"].notna().to_numpy() & (rng.random(n) >= failure_rate)
    deg = np.pi / 180
    out.loc[ok, "success"] = True
    out.loc[ok, "confidence"] = 1.0
    for name in ("pitch", "yaw"):
        out.loc[ok, name] = truth[name].to_numpy()[ok] + rng.normal(0, pose_noise_deg * deg, n)[ok]
    for name in openface.AU_INTENSITIES:
        noisy = truth[name].to_numpy() + rng.normal(0, au_noise, n)
        out.loc[ok, name] = np.clip(noisy[ok], 0, 5)
    _count(counts, n_images=n, no_truth=int(truth["yaw"].isna().sum()), failed=int((~ok).sum()))
    return out


def _count(counts, **values):
    if counts is not None:
        counts.update(values)
    log.info("features: %s", ", ".join(f"{k} {v}" for k, v in values.items()))


def load_landmarks_and_attributes(root: Path, landmark_file: str):
    attrs_path = root / "list_attr_celeba.txt"
    attributes = celeba.read_attributes(attrs_path) if attrs_path.exists() else None
    return celeba.read_landmarks(root / landmark_file), attributes
