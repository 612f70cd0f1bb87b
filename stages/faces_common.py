"""What the faces stage scripts share: the file layout and the CelebA image sets."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

DATA = Path("data/faces")
RAW = DATA / "raw"
ALIGNED = DATA / "aligned"
GREY = DATA / "grey.npy"
FEATURES = DATA / "features.parquet"
GROUPS = DATA / "groups.parquet"
MODELS = Path("models/faces")
RUNS = Path("reports/faces/runs")
CHECKPOINTS = Path("checkpoints/faces")
METRICS = Path("reports/metrics/faces.json")
FIGURES = Path("reports/figures")

# image set -> (image folder, landmark file) in CelebA's official layout
IMAGE_SETS = {"wild": ("img_celeba", "list_landmarks_celeba.txt"),
              "aligned": ("img_align_celeba", "list_landmarks_align_celeba.txt")}


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def run_stage(main, *known_errors: type[Exception]) -> None:
    """Run a stage's main; a bad param or input file ends it with the message and exit code 2."""
    from gatedvae import params as P
    try:
        sys.exit(main())
    except (P.ParamError, *known_errors) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
