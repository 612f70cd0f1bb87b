"""DVC stage faces_align: 5-landmark similarity alignment and crop into data/faces/aligned."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import params as P
from gatedvae.faces.config import check_faces
from gatedvae.atomic import atomic_path, save_json
from faces_common import IMAGE_SETS, run_stage
from gatedvae.faces import align, celeba



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", default="data/faces/raw")
    parser.add_argument("--out", default="data/faces/aligned")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = P.load(args.params)
    check_faces(params)
    image_set = P.choice(params, "faces.align.image_set", IMAGE_SETS)
    size = P.number(params, "faces.align.size", integer=True, minimum=8)
    face_scale = P.number(params, "faces.align.face_scale", positive=True)
    min_eye = P.number(params, "faces.align.min_eye_distance", positive=True)
    max_residual = P.number(params, "faces.align.max_residual", positive=True)
    workers = P.number(params, "faces.align.workers", integer=True, minimum=0)

    folder, landmark_file = IMAGE_SETS[image_set]
    raw = Path(args.raw)
    lm = celeba.read_landmarks(raw / landmark_file)
    # Every image on disk is attempted; one without a landmark row fails with that reason.
    on_disk = sorted(p.name for p in (raw / folder).iterdir() if p.is_file())
    ids = sorted(set(on_disk) | set(lm.index))
    points = lm.reindex(ids).to_numpy(dtype=np.float64).reshape(-1, 5, 2)
    start = time.perf_counter()
    result = align.align_images(raw / folder, ids, points, size=size, face_scale=face_scale,
                                min_eye_distance=min_eye, max_residual=max_residual,
                                workers=workers, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    reasons = pd.Series([r for _, r in result.failures], dtype=object)
    by_reason = reasons.str.split(":").str[0].value_counts().to_dict() if len(reasons) else {}
    report = {"image_set": image_set, "n_input": len(ids), "n_aligned": len(result.image_ids),
              "n_failed": len(result.failures), "failures_by_reason": by_reason,
              "seconds": round(seconds, 2), "images_per_second": round(len(ids) / max(seconds, 1e-9), 1),
              "failures": [{"image_id": i, "reason": r} for i, r in result.failures]}
    with atomic_path(args.out) as tmp:
        tmp.mkdir(parents=True)
        np.save(tmp / "images.npy", result.images)
        pd.DataFrame({"image_id": result.image_ids}).to_parquet(tmp / "index.parquet", index=False)
        save_json(tmp / "report.json", report)
    logging.info("aligned %d of %d images in %.1f s (%.0f images/s); %d could not be aligned%s",
                 len(result.image_ids), len(ids), seconds, report["images_per_second"],
                 len(result.failures), f" (see {args.out}/report.json)" if result.failures else "")
    if not result.image_ids:
        print(f"error: no image could be aligned; reasons in {args.out}/report.json", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_stage(main, celeba.CelebAFormatError)
