"""DVC stage faces_features: head pose and AU features per image into data/faces/features.parquet."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from gatedvae import params as P
from gatedvae.faces.config import check_faces
from gatedvae.atomic import save_json
from gatedvae.faces import celeba, extractors, features, openface
from faces_common import IMAGE_SETS, run_stage


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", default="data/faces/raw")
    parser.add_argument("--out", default="data/faces/features.parquet")
    parser.add_argument("--report", default="data/faces/features_report.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = P.load(args.params)
    check_faces(params)
    extractor = P.choice(params, "faces.features.extractor", extractors.EXTRACTORS)
    image_set = P.choice(params, "faces.align.image_set", IMAGE_SETS)
    raw = Path(args.raw)
    folder, landmark_file = IMAGE_SETS[image_set]
    image_ids = sorted(p.name for p in (raw / folder).iterdir() if p.is_file())
    counts: dict = {}
    if extractor == "openface":
        csv = raw / P.get(params, "faces.features.openface.csv")
        if not csv.exists():
            raise P.ParamError(f"params.yaml: `faces.features.openface.csv`: {csv} not found; run "
                               f"OpenFace FeatureExtraction -fdir {raw / folder} -pose -aus and "
                               "place its CSV there, or choose another extractor")
        min_conf = P.number(params, "faces.features.openface.min_confidence", minimum=0)
        frame = extractors.from_openface(csv, image_ids, min_confidence=min_conf, counts=counts)
    elif extractor == "celeba_annotations":
        lm, attrs = extractors.load_landmarks_and_attributes(raw, landmark_file)
        frame = extractors.from_celeba_annotations(lm, attrs, image_ids, counts=counts)
    else:
        factors_path = raw / "factors.parquet"
        if not factors_path.exists():
            raise P.ParamError("params.yaml: `faces.features.extractor`: synthetic needs "
                               f"{factors_path} (only the synthetic source writes it)")
        key = "faces.features.synthetic"
        frame = extractors.from_synthetic(
            pd.read_parquet(factors_path), image_ids,
            pose_noise_deg=P.number(params, f"{key}.pose_noise_deg", minimum=0),
            au_noise=P.number(params, f"{key}.au_noise", minimum=0),
            failure_rate=P.number(params, f"{key}.failure_rate", minimum=0),
            seed=P.number(params, f"{key}.seed", integer=True), counts=counts)
    features.write(args.out, frame)
    save_json(args.report, {"extractor": extractor, "n_images": len(image_ids),
                            "n_success": int(frame["success"].sum()), "counts": counts})
    logging.info("%s: %d of %d images have features", extractor, int(frame["success"].sum()), len(image_ids))
    return 0


if __name__ == "__main__":
    run_stage(main, celeba.CelebAFormatError, openface.OpenFaceFormatError, features.FeaturesSchemaError)
