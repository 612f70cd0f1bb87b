"""Align faces: a similarity transform from the 5 landmarks onto a canonical template, then a crop.

The transform's rotation is set by the eye line, so in-plane rotation (roll) is removed exactly
(as OpenFace's alignment does in the paper); its scale and shift fit all five points (the eyes weighted double). Work runs in a process pool over chunks of images; an image that
cannot be aligned is recorded with its reason, never dropped silently, never fatal.
align_faces is the stage (stages/faces_align.py).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from skimage.transform import SimilarityTransform, warp
from tqdm import tqdm

from gatedvae import inputs, timing
from gatedvae.atomic import atomic_path, save_json
from gatedvae.errors import StageError
from gatedvae.faces import geometry
from gatedvae.faces.images import list_images
from gatedvae.faces.spec import IMAGE_SETS

log = logging.getLogger(__name__)

# Where the generic face's 5 points fall in a crop of side 1 (x right, y down) at face_scale 1:
# the crop spans 2.8 inter-ocular distances from forehead to chin, eyes at 0.9 from the top.
_SPAN, _TOP = 2.8, 0.9
TEMPLATE_UNIT = np.column_stack([0.5 + geometry.LANDMARKS_3D[:, 0] / _SPAN,
                                 (_TOP - geometry.LANDMARKS_3D[:, 1]) / _SPAN])


def template(size: int, face_scale: float = 1.0) -> np.ndarray:
    """The 5 target points [5, 2] in pixel coordinates of a size x size crop (pixel centres at
    integers); face_scale > 1 zooms in on the face."""
    unit = 0.5 + (TEMPLATE_UNIT - 0.5) * face_scale
    return unit * size - 0.5


@dataclass
class AlignResult:
    images: np.ndarray                 # uint8 [N_ok, size, size, 3]
    image_ids: list[str]               # aligned images, in input order
    failures: list[tuple[str, str]] = field(default_factory=list)  # (image_id, reason)


def level_eyes_transform(target: np.ndarray, points: np.ndarray) -> SimilarityTransform | None:
    """The similarity that maps crop coordinates (`target`, the template) onto the image's
    landmarks `points` [5, 2] with its rotation fixed by the eye line, so the crop's eye line is
    level: roll is removed exactly. Scale and shift are the least-squares fit over all five
    points, the eyes weighted double.

    A free least-squares similarity would tilt the crop on turned faces, where the nose tip and
    mouth sit off the template's midline (up to 6.6 degrees of roll left on real CelebA faces).
    """
    eye_image, eye_crop = points[1] - points[0], target[1] - target[0]
    angle = np.arctan2(eye_image[1], eye_image[0]) - np.arctan2(eye_crop[1], eye_crop[0])
    c, s = np.cos(angle), np.sin(angle)
    turned = target @ np.array([[c, s], [-s, c]])          # R(angle) applied to each row
    # Weighted least squares; the eyes count twice, as the points a crop is judged by.
    weights = np.array([2.0, 2.0, 1.0, 1.0, 1.0])[:, None]
    turned_mean = (weights * turned).sum(0) / weights.sum()
    points_mean = (weights * points).sum(0) / weights.sum()
    turned_c, points_c = turned - turned_mean, points - points_mean
    denominator = float((weights * turned_c ** 2).sum())
    if denominator <= 0:
        return None
    scale = float((weights * turned_c * points_c).sum()) / denominator
    if not np.isfinite(scale) or scale <= 0:
        return None
    shift = points_mean - scale * turned_mean
    return SimilarityTransform(scale=scale, rotation=angle, translation=shift)


def check_landmarks(points: np.ndarray, width: int, height: int, *, min_eye_distance: float,
                    max_residual: float, target: np.ndarray):
    """Return (transform, None) or (None, reason) for one image's landmarks [5, 2]."""
    if not np.isfinite(points).all():
        return None, "landmarks missing or not finite"
    eye_distance = float(np.hypot(*(points[1] - points[0])))
    if eye_distance < min_eye_distance:
        return None, f"degenerate landmarks: eyes {eye_distance:.1f} px apart (< {min_eye_distance})"
    margin = eye_distance
    if ((points[:, 0] < -margin) | (points[:, 0] > width - 1 + margin)
            | (points[:, 1] < -margin) | (points[:, 1] > height - 1 + margin)).any():
        return None, f"landmarks outside the {width}x{height} image"
    if points[1, 0] <= points[0, 0] and abs(points[1, 0] - points[0, 0]) > abs(points[1, 1] - points[0, 1]):
        return None, "degenerate landmarks: left and right eye swapped"
    tform = level_eyes_transform(target, points)  # maps crop coordinates to image coordinates
    if tform is None:
        return None, "degenerate landmarks: no similarity transform fits"
    residual = np.hypot(*(tform(target) - points).T).max() / eye_distance
    if residual > max_residual:
        return None, (f"landmarks do not form a face: fit residual {residual:.2f} inter-ocular "
                      f"distances (> {max_residual})")
    return tform, None


def _align_chunk(args):
    paths, points, size, face_scale, min_eye_distance, max_residual = args
    target = template(size, face_scale)
    out = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    reasons: list[str | None] = [None] * len(paths)
    for i, (path, pts) in enumerate(zip(paths, points)):
        try:
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
        except FileNotFoundError:
            reasons[i] = "image file missing"
            continue
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            reasons[i] = f"unreadable image: {type(e).__name__}: {e}"
            continue
        tform, reasons[i] = check_landmarks(pts, rgb.shape[1], rgb.shape[0],
                                            min_eye_distance=min_eye_distance,
                                            max_residual=max_residual, target=target)
        if tform is None:
            continue
        warped = warp(rgb, tform, output_shape=(size, size), order=1, mode="edge", preserve_range=True)
        out[i] = np.clip(np.round(warped), 0, 255).astype(np.uint8)
        ok[i] = True
    return out[ok], ok, reasons


def align_images(image_dir: str | Path, image_ids: list[str], landmarks: np.ndarray, *, size: int = 64,
                 face_scale: float = 1.0, min_eye_distance: float = 4.0, max_residual: float = 0.5,
                 workers: int = 0, chunk_size: int = 256, progress: bool = True) -> AlignResult:
    """Align every image; landmarks [N, 5, 2] in image pixels (NaN where an image has none)."""
    image_dir = Path(image_dir)
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(len(image_ids), 5, 2)
    jobs = [([str(image_dir / name) for name in image_ids[i:i + chunk_size]], landmarks[i:i + chunk_size],
             size, face_scale, min_eye_distance, max_residual)
            for i in range(0, len(image_ids), chunk_size)]
    workers = workers or os.cpu_count() or 1
    pieces, kept, failures = [], [], []
    bar = tqdm(total=len(image_ids), desc="align faces", unit="img", disable=not progress)
    pool = ProcessPoolExecutor(workers) if workers > 1 and len(jobs) > 1 else None
    try:
        results = pool.map(_align_chunk, jobs) if pool else map(_align_chunk, jobs)
        start = 0
        for images, ok, reasons in results:
            ids = image_ids[start:start + len(ok)]
            pieces.append(images)
            kept += [name for name, good in zip(ids, ok) if good]
            failures += [(name, reason) for name, good, reason in zip(ids, ok, reasons) if not good]
            start += len(ok)
            bar.update(len(ok))
    finally:
        bar.close()
        if pool:
            pool.shutdown()
    images = np.concatenate(pieces) if pieces else np.zeros((0, size, size, 3), np.uint8)
    return AlignResult(images=images, image_ids=kept, failures=failures)


def aligned_ids(aligned: str | Path) -> list[str]:
    """The image ids of an aligned set (images.npy, index.parquet), in row order of its images."""
    return inputs.table(Path(aligned) / "index.parquet")["image_id"].tolist()


# The stage (stages/faces_align.py)

def _image_files(folder: Path) -> list[str]:
    """The image file names in a CelebA image folder, sorted; hidden and other files are
    ignored (and logged), so they can never shift a row onto the wrong image."""
    listing = list_images(folder)
    if listing.hidden or listing.other:
        log.info("%s: %d images; %s", folder, len(listing.images), listing.describe_ignored())
    return listing.images


def align_faces(params, *, raw: str, out: str) -> None:
    """5-landmark similarity alignment and crop of every image on disk."""
    from gatedvae.faces import celeba, config

    config.check_faces(params)
    settings = config.align_settings(params)
    folder, landmark_file = IMAGE_SETS[settings.image_set]
    raw = Path(raw)
    celeba.check_image_set_present(raw, settings.image_set)
    lm = celeba.read_landmarks(raw / landmark_file)
    # Every image on disk is attempted; one without a landmark row fails with that reason.
    ids = sorted(set(_image_files(raw / folder)) | set(lm.index))
    points = lm.reindex(ids).to_numpy(dtype=np.float64).reshape(-1, 5, 2)
    start = time.perf_counter()
    with timing.phase("aligning"):  # the stage's timing record, not report.json: same data, same bytes
        result = align_images(raw / folder, ids, points, size=settings.size,
                              face_scale=settings.face_scale,
                              min_eye_distance=settings.min_eye_distance,
                              max_residual=settings.max_residual, workers=settings.workers,
                              progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    reasons = pd.Series([r for _, r in result.failures], dtype=object)
    by_reason = reasons.str.split(":").str[0].value_counts().to_dict() if len(reasons) else {}
    report = {"image_set": settings.image_set, "n_input": len(ids), "n_aligned": len(result.image_ids),
              "n_failed": len(result.failures), "failures_by_reason": by_reason,
              "failures": [{"image_id": i, "reason": r} for i, r in result.failures]}
    if result.image_ids:
        # the sizes in params against what survived, before anything is written
        from gatedvae.params import ParamError

        try:
            config.check_faces(params, n_images=len(result.image_ids))
        except ParamError as e:
            examples = "; ".join(f"{i}: {r}" for i, r in result.failures[:5])
            raise ParamError(f"{e}\n  {len(result.image_ids)} of {len(ids)} images were aligned; "
                             f"failures by reason {by_reason} (e.g. {examples})") from None
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        np.save(tmp / "images.npy", result.images)
        pd.DataFrame({"image_id": result.image_ids}).to_parquet(tmp / "index.parquet", index=False)
        save_json(tmp / "report.json", report)
    log.info("aligned %d of %d images in %.1f s (%.0f images/s); %d could not be aligned%s",
             len(result.image_ids), len(ids), seconds, len(ids) / max(seconds, 1e-9),
             len(result.failures), f" (see {out}/report.json)" if result.failures else "")
    if not result.image_ids:
        raise StageError(f"no image in {raw / folder} could be aligned; the reasons are in "
                         f"{out}/report.json (landmarks: {raw / landmark_file})")
