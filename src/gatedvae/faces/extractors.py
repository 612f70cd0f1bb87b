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
                  counts: dict | None = None, hidden_images: list[str] | tuple = ()) -> pd.DataFrame:
    """A sequence-mode CSV (frame k = the k-th image of `image_ids`, as `-fdir` reads a folder
    in name order) or a folder of image-mode CSVs named after the images (matched by name).

    Pose is converted to the project's convention (openface.to_project_pose: yaw and roll flip
    sign). Rows with success 0, a confidence below `min_confidence` or a non-finite pose or AU
    value are failed detections, each named with its reason in counts["failures"]; a CSV that
    cannot belong to these images (more or fewer rows than images, repeated or out-of-range
    frames) or that has no usable row is an error naming the file, the line or images, and what
    to do. `hidden_images`: hidden image-like files (macOS ._ files) in the folder OpenFace read,
    named in the error when the frame count is off.
    """
    csv_path = Path(csv_path)
    out = features.empty(image_ids, "openface")
    extra = {}
    if csv_path.is_dir():
        table, extra = _image_mode_folder(csv_path, image_ids)
        where = {int(f): f"{csv_path / (Path(image_ids[int(f) - 1]).stem + '.csv')}:{int(line)}"
                 for f, line in zip(table["frame"], table["line"])}
    else:
        table = openface.read_csv(csv_path)
        _check_row_count(csv_path, table, image_ids, list(hidden_images))
        _check_frames(csv_path, table, table["frame"].to_numpy().astype(np.int64), len(image_ids))
        where = {int(f): f"{csv_path}:{int(line)}" for f, line in zip(table["frame"], table["line"])}
    frames = table["frame"].to_numpy().astype(np.int64)
    values = table[["confidence", "success", "pose_Rx", "pose_Ry", "pose_Rz", *openface.AU_INTENSITIES]].to_numpy()
    finite = np.isfinite(values).all(axis=1)
    success = (table["success"].to_numpy() > 0) & finite
    confident = table["confidence"].to_numpy() >= min_confidence
    keep = success & confident
    rows = frames[keep] - 1
    pitch, yaw, _ = openface.to_project_pose(*(table[c].to_numpy()[keep] for c in ("pose_Rx", "pose_Ry", "pose_Rz")))
    out.loc[rows, "success"] = True
    out.loc[rows, "confidence"] = table["confidence"].to_numpy()[keep]
    out.loc[rows, "pitch"] = pitch
    out.loc[rows, "yaw"] = yaw
    for name in openface.AU_INTENSITIES:
        out.loc[rows, name] = np.clip(table[name].to_numpy()[keep], 0, 5)
    failed = (table["success"].to_numpy() <= 0) & finite
    low = success & ~confident
    failures = []
    for frame, is_failed, is_low, is_finite in zip(frames, failed, low, finite):
        reason = ("no face (OpenFace success 0)" if is_failed else
                  "non-finite pose or AU value" if not is_finite else
                  f"confidence below {min_confidence} (faces.features.openface.min_confidence)" if is_low else None)
        if reason:
            failures.append({"image_id": image_ids[frame - 1], "reason": reason, "row": where[int(frame)]})
    without_row = sorted(set(range(1, len(image_ids) + 1)) - set(frames.tolist()))
    failures += [{"image_id": image_ids[f - 1], "reason": "no row in the OpenFace output"} for f in without_row]
    if not keep.any():
        raise openface.OpenFaceFormatError(
            f"{csv_path}: no usable row for {len(image_ids):,} images ({len(table):,} rows: "
            f"{int((table['success'].to_numpy() <= 0).sum()):,} failed, {int((~finite).sum()):,} with "
            f"non-finite values, {int(low.sum()):,} below confidence "
            f"{min_confidence} (faces.features.openface.min_confidence)); check that it is "
            "OpenFace's output for these images")
    _count(counts, n_images=len(image_ids), no_row=len(without_row), failed=int(failed.sum()),
           non_finite=int((~finite).sum()), low_confidence=int(low.sum()), **extra)
    if counts is not None:
        counts["failures"] = sorted(failures, key=lambda f: f["image_id"])
    return out


def _check_row_count(csv_path: Path, table: pd.DataFrame, image_ids: list[str], hidden: list[str]) -> None:
    """FeatureExtraction -fdir writes one row per image file it read, in name order: any other
    count means the rows belong to another set of files, and every row after the first added or
    removed file would describe the next image."""
    n_rows, n_images = len(table), len(image_ids)
    if n_rows == n_images:
        return
    if n_rows > n_images:
        hint = ""
        if hidden:
            exact = " (exactly the extra rows)" if len(hidden) == n_rows - n_images else ""
            hint = (f" The folder OpenFace read also held {len(hidden)} hidden image-like files"
                    f"{exact}, e.g. {', '.join(hidden[:3])} (macOS ._ files), which -fdir reads as "
                    "frames: delete them from the source folder and rerun OpenFace.")
        raise openface.OpenFaceFormatError(
            f"{csv_path}: {n_rows:,} rows but {n_images:,} images: the CSV was made "
            f"from another folder (FeatureExtraction -fdir writes one row per image, in name "
            f"order). Rerun OpenFace on exactly these images.{hint}")
    frames = set(table["frame"].to_numpy().astype(np.int64).tolist())
    missing = [f"{image_ids[k - 1]} (frame {k})" for k in range(1, n_images + 1) if k not in frames]
    raise openface.OpenFaceFormatError(
        f"{csv_path}: {n_rows:,} rows but {n_images:,} images: {n_images - n_rows:,} images have "
        f"no row; by frame number: {', '.join(missing[:10])}{', ...' if len(missing) > 10 else ''}. "
        "FeatureExtraction -fdir writes one row per image in name order, so an image added or "
        "removed after OpenFace ran moves every later row onto the next image (the image truly "
        "without a row may be any one before those): rerun OpenFace on exactly these images, or "
        "use one image-mode CSV per image (FaceLandmarkImg), matched by name.")


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
    geometric = has & np.isfinite(pitch) & np.isfinite(yaw) & (iod > 1)
    ok = geometric.copy()
    has_attributes = np.ones(len(image_ids), bool)
    smiling = mouth_open = narrow = np.full(len(image_ids), np.nan)
    if attributes is not None:
        attrs = attributes.reindex(image_ids)
        smiling = (attrs["Smiling"].to_numpy() > 0).astype(float)
        mouth_open = (attrs["Mouth_Slightly_Open"].to_numpy() > 0).astype(float)
        narrow = (attrs["Narrow_Eyes"].to_numpy() > 0).astype(float)
        has_attributes = attrs.notna().all(axis=1).to_numpy()
        ok &= has_attributes
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
    reasons = np.where(~has, "no landmark row", np.where(
        ~geometric, "degenerate landmarks (eyes under 1 px apart or no pose fits)",
        np.where(~has_attributes, "no row in list_attr_celeba.txt", "")))
    _count(counts, n_images=len(image_ids), no_landmarks=int((~has).sum()),
           degenerate=int((has & ~geometric).sum()), no_attributes=int((geometric & ~has_attributes).sum()))
    _name_failures(counts, image_ids, reasons)
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
    has_truth = truth["yaw"].notna().to_numpy()
    _name_failures(counts, image_ids, np.where(~has_truth, "no ground truth in factors.parquet",
                                               np.where(~ok, "simulated failure (failure_rate)", "")))
    return out


def _name_failures(counts, image_ids, reasons) -> None:
    """counts["failures"]: every image whose features failed, by name, with its reason ("" for none)."""
    if counts is not None:
        counts["failures"] = [{"image_id": i, "reason": str(r)} for i, r in zip(image_ids, reasons) if r]


def _count(counts, **values):
    if counts is not None:
        counts.update(values)
    log.info("features: %s", ", ".join(f"{k} {v}" for k, v in values.items()))


def hidden_image_files(raw: Path, listing) -> list[str]:
    """Hidden image-like files (macOS ._000001.jpg) where OpenFace looked: the source folder,
    as acquisition recorded it before leaving them out (acquire_report.json), and the raw one."""
    import json

    from gatedvae.faces.images import is_image_name

    names = [n for n in listing.hidden if is_image_name(n.lstrip("."))]
    report = raw / "acquire_report.json"
    if report.exists():
        names += json.loads(report.read_text()).get("hidden_image_like", [])
    return sorted(set(names))


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
    from gatedvae.faces.images import list_images
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
        frame = from_openface(csv, image_ids, min_confidence=min_conf, counts=counts,
                              hidden_images=hidden_image_files(raw, listing))
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
    failures = counts.pop("failures", [])
    by_reason = pd.Series([f["reason"] for f in failures], dtype=object).value_counts().to_dict()
    unnamed = len(image_ids) - int(frame["success"].sum()) - len(failures)
    if unnamed:  # every image without features is listed with its reason
        raise RuntimeError(f"{extractor}: {unnamed} images without features have no recorded reason")
    features.write(out, frame)
    save_json(report, {"extractor": extractor, "n_images": len(image_ids),
                       "n_success": int(frame["success"].sum()), "counts": counts,
                       "failures_by_reason": by_reason, "failures": failures})
    log.info("%s: %d of %d images have features; %d failed (%s; named in %s)", extractor,
             int(frame["success"].sum()), len(image_ids), len(failures),
             ", ".join(f"{n} {r}" for r, n in by_reason.items()) or "none", report)
