"""Feature extractors: each turns one source into the features.parquet contract (features.py).

- openface: OpenFace CSVs (sequence mode with frames in image order, or one image-mode CSV per
  image matched by name); failed, low-confidence and non-finite rows become success = False,
  counted.
- celeba_annotations: pose from the eyes and nose (geometry.pose_from_landmarks; a smile does
  not move it) and expression proxies from landmark geometry and the attribute file; runs on
  real CelebA with no model.
- landmarks68: dlib's 68 points per image (landmarks68.py, an optional install).
- synthetic: the generator's ground truth plus Gaussian noise, with a failure rate.

extract_features is the stage (stages/faces_features.py).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.faces import celeba, features, geometry, openface

log = logging.getLogger(__name__)


def from_openface(csv_path: str | Path, image_ids: list[str], *, min_confidence: float = 0.75,
                  counts: dict | None = None, hidden_images: int = 0) -> pd.DataFrame:
    """A sequence-mode CSV (frame k = the k-th image of `image_ids`, as `-fdir` reads a folder
    in name order) or a folder of image-mode CSVs named after the images (matched by name).

    Rows with success 0, a confidence below `min_confidence` or a non-finite pose or AU value
    are failed detections, counted (the non-finite ones listed by line); a CSV that cannot
    belong to these images (more frames than images, repeated or out-of-range frames) or that
    has no usable row is an error naming the file, line and what to do. `hidden_images`: hidden
    image-like files beside the images, named in the error when the frame count is off.
    """
    csv_path = Path(csv_path)
    out = features.empty(image_ids, "openface")
    extra = {}
    if csv_path.is_dir():
        table, extra = _image_mode_folder(csv_path, image_ids)
    else:
        table = openface.read_csv(csv_path)
        frames = table["frame"].to_numpy().astype(np.int64)
        if len(table) > len(image_ids):
            hint = (f" The image folder also holds {hidden_images} hidden image-like files "
                    "(e.g. macOS ._ files) that OpenFace reads as frames: delete them and rerun "
                    "OpenFace." if hidden_images else "")
            raise openface.OpenFaceFormatError(
                f"{csv_path}: {len(table):,} rows but {len(image_ids):,} images: the CSV was made "
                f"from another folder (FeatureExtraction -fdir writes one row per image, in name "
                f"order). Rerun OpenFace on exactly these images.{hint}")
        _check_frames(csv_path, table, frames, len(image_ids))
    frames = table["frame"].to_numpy().astype(np.int64)
    values = table[["confidence", "success", "pose_Rx", "pose_Ry", *openface.AU_INTENSITIES]].to_numpy()
    finite = np.isfinite(values).all(axis=1)
    success = (table["success"].to_numpy() > 0) & finite
    confident = table["confidence"].to_numpy() >= min_confidence
    keep = success & confident
    rows = frames[keep] - 1
    out.loc[rows, "success"] = True
    out.loc[rows, "confidence"] = table["confidence"].to_numpy()[keep]
    out.loc[rows, "pitch"] = table["pose_Rx"].to_numpy()[keep]
    out.loc[rows, "yaw"] = table["pose_Ry"].to_numpy()[keep]
    for name in openface.AU_INTENSITIES:
        out.loc[rows, name] = np.clip(table[name].to_numpy()[keep], 0, 5)
    non_finite = [{"line": int(line), "image_id": image_ids[frame - 1]}
                  for line, frame in zip(table["line"].to_numpy()[~finite], frames[~finite])]
    if not keep.any():
        raise openface.OpenFaceFormatError(
            f"{csv_path}: no usable row for {len(image_ids):,} images ({len(table):,} rows: "
            f"{int((table['success'].to_numpy() <= 0).sum()):,} failed, {len(non_finite):,} with "
            f"non-finite values, {int((success & ~confident).sum()):,} below confidence "
            f"{min_confidence} (faces.features.openface.min_confidence)); check that it is "
            "OpenFace's output for these images")
    _count(counts, n_images=len(image_ids), no_row=len(image_ids) - len(table),
           failed=int(((table["success"].to_numpy() <= 0) & finite).sum()),
           non_finite=len(non_finite), low_confidence=int((success & ~confident).sum()), **extra)
    if counts is not None:
        counts["non_finite_rows"] = non_finite[:50]
    return out


def _check_frames(csv_path: Path, table: pd.DataFrame, frames: np.ndarray, n_images: int) -> None:
    lines = table["line"].to_numpy()
    bad = np.flatnonzero((frames < 1) | (frames > n_images))
    if bad.size:
        raise openface.OpenFaceFormatError(
            f"{csv_path}:{lines[bad[0]]}: frame {frames[bad[0]]} is outside 1..{n_images:,} (the "
            f"CSV does not match the {n_images:,} images); rerun OpenFace on exactly these images")
    order = np.argsort(frames, kind="stable")
    repeated = np.flatnonzero(np.diff(frames[order]) == 0)
    if repeated.size:
        first, second = sorted((lines[order[repeated[0]]], lines[order[repeated[0] + 1]]))
        raise openface.OpenFaceFormatError(
            f"{csv_path}:{second}: frame {frames[order[repeated[0]]]} again (first on line {first}); "
            "expected one row per image: run FeatureExtraction with -fdir on the image folder, "
            "or FaceLandmarkImg for one CSV per image")


def _image_mode_folder(folder: Path, image_ids: list[str]) -> tuple[pd.DataFrame, dict]:
    """One row per image that has `<stem>.csv` (the most confident face), frame = its position."""
    rows, stems = [], {Path(i).stem for i in image_ids}
    for i, image_id in enumerate(image_ids):
        path = folder / (Path(image_id).stem + ".csv")
        if not path.exists():
            continue
        table = openface.read_csv(path)
        if len(table):
            confidence = table["confidence"].fillna(-np.inf)
            best = table.loc[confidence.idxmax()].copy()
            best["frame"] = i + 1
            rows.append(best)
    orphans = sorted(p.name for p in folder.glob("*.csv") if p.stem not in stems)
    columns = ["line", "frame", "confidence", "success", "pose_Rx", "pose_Ry", "pose_Rz",
               *openface.AU_INTENSITIES]
    table = pd.DataFrame(rows, columns=columns).reset_index(drop=True)
    return table, {"csv_without_image": len(orphans)}


def from_celeba_annotations(landmarks: pd.DataFrame, attributes: pd.DataFrame | None,
                            image_ids: list[str], *, counts: dict | None = None) -> pd.DataFrame:
    """Pose from the eyes and nose of the 5 landmarks; expression proxies on the AU scale (0..5):
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
    # The generic face (geometry.py): a neutral mouth spans 2 x 0.42 inter-ocular distances at a
    # drop of MOUTH_DROP; a full smile widens each corner by SMILE_WIDEN and lifts it by SMILE_LIFT.
    neutral_spread = 2 * float(geometry.LANDMARKS_3D[4, 0])
    smile_geom = np.clip(((spread - neutral_spread) / (2 * geometry.SMILE_WIDEN)
                          + (geometry.MOUTH_DROP - drop) / geometry.SMILE_LIFT) / 2, 0, 1)
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


# The stage (stages/faces_features.py)

def extract_features(params, *, raw: str, out: str, report: str) -> None:
    """Head pose and AU features per image (matched by file name) into features.parquet."""
    from gatedvae import inputs
    from gatedvae.atomic import save_json
    from gatedvae.faces import config
    from gatedvae.faces.images import is_image_name, list_images
    from gatedvae.faces.spec import IMAGE_SETS
    from gatedvae.params import ParamError, get, number

    config.check_faces(params)
    extractor = config.extractor(params)
    folder, landmark_file = IMAGE_SETS[config.image_set(params)]
    raw = Path(raw)
    celeba.check_image_set_present(raw, config.image_set(params))
    listing = list_images(raw / folder)
    image_ids = listing.images
    counts: dict = {"ignored_files": listing.ignored()}
    if extractor == "openface":
        csv = raw / get(params, "faces.features.openface.csv")
        if not csv.exists():
            raise ParamError(f"params.yaml: `faces.features.openface.csv`: {csv} not found; run "
                             f"OpenFace FeatureExtraction -fdir {raw / folder} -pose -aus and "
                             "place its CSV there, or choose another extractor")
        min_conf = number(params, "faces.features.openface.min_confidence", minimum=0)
        hidden = sum(is_image_name(name.lstrip(".")) for name in listing.hidden)
        frame = from_openface(csv, image_ids, min_confidence=min_conf, counts=counts,
                              hidden_images=hidden)
    elif extractor == "landmarks68":
        from gatedvae.faces import landmarks68

        frame = landmarks68.extract(raw / folder, image_ids, counts=counts, progress=sys.stderr.isatty())
    elif extractor == "celeba_annotations":
        lm, attrs = load_landmarks_and_attributes(raw, landmark_file)
        frame = from_celeba_annotations(lm, attrs, image_ids, counts=counts)
    else:
        factors_path = raw / "factors.parquet"
        if not factors_path.exists():
            raise ParamError("params.yaml: `faces.features.extractor`: synthetic needs "
                             f"{factors_path} (only the synthetic source writes it)")
        frame = from_synthetic(inputs.table(factors_path), image_ids, counts=counts,
                               **config.synthetic_features(params))
    features.write(out, frame)
    save_json(report, {"extractor": extractor, "n_images": len(image_ids),
                       "n_success": int(frame["success"].sum()), "counts": counts})
    log.info("%s: %d of %d images have features", extractor, int(frame["success"].sum()), len(image_ids))
