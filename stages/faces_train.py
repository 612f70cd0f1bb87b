"""DVC stage faces_train: the convolutional beta-VAE on greyscale faces, gated or un-gated."""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from faces_common import CHECKPOINTS, GREY, GROUPS, MODELS, RUNS, setup_logging, run_stage
from gatedvae import params as P
from gatedvae.atomic import save_json
from gatedvae.engine import save_model, train
from gatedvae.faces.config import GATINGS, PARTITIONS, train_config, check_faces


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gating", required=True, choices=GATINGS)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    setup_logging()
    params = P.load(args.params)
    check_faces(params)
    images = np.load(GREY, mmap_mode="r")
    cfg = train_config(params, gating=args.gating, image_size=images.shape[1])
    P.check(cfg.batch_size <= len(images), "faces.train.batch_size",
            f"({cfg.batch_size}) is larger than the data ({len(images)} images)")
    groups = pd.read_parquet(GROUPS)[list(PARTITIONS)].to_numpy(np.int64) if cfg.gated else None
    result = train(np.asarray(images), groups, cfg, checkpoint_dir=CHECKPOINTS / args.gating / "train",
                   log_dir=RUNS / args.gating / "train", progress=sys.stderr.isatty())
    save_model(MODELS / args.gating / "model.pt", result.model, cfg, history=result.history)
    save_json(RUNS / args.gating / "train" / "summary.json", {
        "images_per_second": round(result.images_per_second, 1), "seconds": round(result.seconds, 2),
        "images_seen": cfg.epochs * (len(images) // cfg.batch_size) * cfg.batch_size,
        "singletons_per_partition": dict(zip(PARTITIONS, result.singletons)) if result.singletons else {},
        "final": result.history[-1] if result.history else {}})
    print(f"faces {args.gating}: {result.images_per_second:.0f} images/s over {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    run_stage(main)
