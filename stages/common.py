"""What the dSprites stage scripts share: the file layout and argument parsing."""

from __future__ import annotations

import argparse
from pathlib import Path

DATA = Path("data/dsprites")
IMAGES = DATA / "images.npy"
FACTORS = DATA / "factors.parquet"
GROUPS = DATA / "groups.parquet"
MODELS = Path("models/dsprites")
RUNS = Path("reports/dsprites/runs")
CHECKPOINTS = Path("checkpoints/dsprites")


def run_name(model: str, gating: str, seed: int) -> str:
    return f"{model}-{gating}-{seed}"


def run_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True, help="regulariser, e.g. beta_vae")
    parser.add_argument("--gating", required=True, choices=["gated", "ungated"])
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--params", default="params.yaml")
    return parser
