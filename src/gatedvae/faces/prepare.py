"""The faces data stages: acquisition, alignment, greyscale, features and the pair index.

Stage functions take the loaded params first and validate the whole faces branch before any
work; stages/faces_*.py are their command-line wiring.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import inputs
from gatedvae import timing
from gatedvae.atomic import atomic_path, save_json, save_npy, save_parquet
from gatedvae.errors import StageError
from gatedvae.faces import config
from gatedvae.faces.align import aligned_ids
from gatedvae.faces.images import is_image_name, list_images
from gatedvae.faces.spec import IMAGE_SETS
from gatedvae.params import ParamError, get, number

log = logging.getLogger(__name__)


def image_files(folder: Path) -> list[str]:
    """The image file names in a CelebA image folder, sorted; hidden and other files are
    ignored (and logged), so they can never shift a row onto the wrong image."""
    listing = list_images(folder)
    if listing.hidden or listing.other:
        log.info("%s: %d images; %s", folder, len(listing.images), listing.describe_ignored())
    return listing.images


def acquire_faces(params, *, source: str, out: str) -> None:
    """CelebA (synthetic, what the researcher has at `source`, or a download) into the raw
    folder. `source` is faces.acquire.path, templated into dvc.yaml as a dependency."""
    from gatedvae.faces import acquire as celeba_acquire, synthetic

    kind = config.source(params)
    _check_extractor_installed(params)
    progress = sys.stderr.isatty()
    if kind == "synthetic":
        config.check_faces(params)
        cfg = config.synthetic_config(params)
        synthetic.generate(out, cfg, progress=progress)
        log.info("wrote %d synthetic faces to %s", cfg.n_images, out)
        return
    needs = config.acquire_needs(params)
    if kind == "path":
        # the images on hand bound every size in params: check them before any copying
        config.check_faces(params, n_images=celeba_acquire.count_images(Path(source), needs))
        celeba_acquire.from_path(source, out, needs, progress=progress)
    else:
        config.check_faces(params)
        celeba_acquire.download(out, needs, url_template=get(params, "faces.acquire.url_template"),
                                staging=get(params, "faces.acquire.download_dir"), progress=progress)


def _check_extractor_installed(params) -> None:
    """The optional landmarks68 extractor needs dlib: say so at the first stage, not the fourth."""
    if config.extractor(params) == "landmarks68":
        from gatedvae.faces import landmarks68

        if not landmarks68.available():
            raise ParamError("params.yaml: `faces.features.extractor` landmarks68 needs dlib and its "
                             f"68-point model: {landmarks68.INSTALL_HINT} (or choose another extractor)")


def _check_image_set_present(raw: Path, chosen: str) -> None:
    folder, landmark_file = IMAGE_SETS[chosen]
    missing = [name for name in (folder, landmark_file) if not (raw / name).exists()]
    if missing:
        raise ParamError(f"params.yaml: `faces.align.image_set` {chosen} reads {raw / folder}/ and "
                         f"{raw / landmark_file}, but {', '.join(missing)} is not in {raw}; choose "
                         f"the image set your CelebA has, or add it (docs/faces.md, \"Real data\")")


def align_faces(params, *, raw: str, out: str) -> None:
    """5-landmark similarity alignment and crop of every image on disk."""
    from gatedvae.faces import align as aligner, celeba

    config.check_faces(params)
    settings = config.align_settings(params)
    folder, landmark_file = IMAGE_SETS[settings.image_set]
    raw = Path(raw)
    _check_image_set_present(raw, settings.image_set)
    lm = celeba.read_landmarks(raw / landmark_file)
    # Every image on disk is attempted; one without a landmark row fails with that reason.
    ids = sorted(set(image_files(raw / folder)) | set(lm.index))
    points = lm.reindex(ids).to_numpy(dtype=np.float64).reshape(-1, 5, 2)
    start = time.perf_counter()
    with timing.phase("aligning"):  # the stage's timing record, not report.json: same data, same bytes
        result = aligner.align_images(raw / folder, ids, points, size=settings.size,
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


def greyscale_faces(params, *, aligned: str, out: str, sheet: str) -> None:
    """Aligned RGB crops to uint8 greyscale [N, H, W], plus a contact sheet."""
    from gatedvae.faces import greyscale as grey
    from gatedvae.faces.figures import save_contact_sheet

    config.check_faces(params)
    rows, cols = config.sheet_size(params)
    images = grey.to_greyscale(inputs.images(Path(aligned) / "images.npy"))
    save_npy(out, images)
    save_contact_sheet(sheet, images, rows=rows, cols=cols)
    log.info("wrote %s %s and %s", list(images.shape), images.dtype, sheet)


def extract_features(params, *, raw: str, out: str, report: str) -> None:
    """Head pose and AU features per image (matched by file name) into features.parquet."""
    from gatedvae.faces import extractors, features as feature_table

    config.check_faces(params)
    extractor = config.extractor(params)
    folder, landmark_file = IMAGE_SETS[config.image_set(params)]
    raw = Path(raw)
    _check_image_set_present(raw, config.image_set(params))
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
        frame = extractors.from_openface(csv, image_ids, min_confidence=min_conf, counts=counts,
                                         hidden_images=hidden)
    elif extractor == "landmarks68":
        from gatedvae.faces import landmarks68

        frame = landmarks68.extract(raw / folder, image_ids, counts=counts, progress=sys.stderr.isatty())
    elif extractor == "celeba_annotations":
        lm, attrs = extractors.load_landmarks_and_attributes(raw, landmark_file)
        frame = extractors.from_celeba_annotations(lm, attrs, image_ids, counts=counts)
    else:
        factors_path = raw / "factors.parquet"
        if not factors_path.exists():
            raise ParamError("params.yaml: `faces.features.extractor`: synthetic needs "
                             f"{factors_path} (only the synthetic source writes it)")
        frame = extractors.from_synthetic(inputs.table(factors_path), image_ids, counts=counts,
                                          **config.synthetic_features(params))
    feature_table.write(out, frame)
    save_json(report, {"extractor": extractor, "n_images": len(image_ids),
                       "n_success": int(frame["success"].sum()), "counts": counts})
    log.info("%s: %d of %d images have features", extractor, int(frame["success"].sum()), len(image_ids))


def cluster_faces(params, *, features: str, aligned: str, out: str, stats: str) -> None:
    """k-means of pose and AU features into the pair index groups.parquet."""
    from gatedvae.faces import clustering, features as feature_table

    config.check_faces(params)
    try:
        groups, summary = clustering.pair_index(
            feature_table.read(features), aligned_ids(aligned), config.cluster_config(params, "pose"),
            config.cluster_config(params, "expression"), expression_aus=config.expression_aus(params))
    except ValueError as e:  # features that cannot be clustered; the message says why
        if isinstance(e, StageError):
            raise
        raise StageError(f"{features}: {e}") from e
    save_parquet(out, groups)
    save_json(stats, summary)
    log.info("pose: %d clusters; expression: %d clusters; %d images without features paired with "
             "themselves", summary["pose"]["clusters"], summary["expression"]["clusters"],
             summary["without_features"])
