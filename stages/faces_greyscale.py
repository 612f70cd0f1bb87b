"""DVC stage faces_greyscale: aligned RGB crops to uint8 greyscale [N, H, W], plus a contact sheet."""

from __future__ import annotations

import argparse
import logging

import numpy as np

from faces_common import run_stage
from gatedvae import params as P
from gatedvae.faces.config import check_faces
from gatedvae.atomic import save_npy
from gatedvae.faces import greyscale
from gatedvae.faces.figures import save_contact_sheet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--aligned", default="data/faces/aligned")
    parser.add_argument("--out", default="data/faces/grey.npy")
    parser.add_argument("--sheet", default="reports/figures/faces_contact_sheet.png")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = P.load(args.params)
    check_faces(params)
    rows = P.number(params, "faces.greyscale.sheet_rows", integer=True, minimum=1)
    cols = P.number(params, "faces.greyscale.sheet_cols", integer=True, minimum=1)
    rgb = np.load(f"{args.aligned}/images.npy", mmap_mode="r")
    grey = greyscale.to_greyscale(rgb)
    save_npy(args.out, grey)
    save_contact_sheet(args.sheet, grey, rows=rows, cols=cols)
    logging.info("wrote %s %s and %s", list(grey.shape), grey.dtype, args.sheet)
    return 0


if __name__ == "__main__":
    run_stage(main)
