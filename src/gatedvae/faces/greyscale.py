"""RGB to greyscale with ITU-R BT.601 luma weights (what PIL's "L" mode uses), uint8 in and out;
greyscale_faces is the stage (stages/faces_greyscale.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_greyscale(rgb: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
    """[N, H, W, 3] uint8 -> [N, H, W] uint8, rounded; chunked so that float work stays small."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 4 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {rgb.dtype} {list(rgb.shape)}")
    out = np.empty(rgb.shape[:3], dtype=np.uint8)
    for start in range(0, len(rgb), chunk):
        block = rgb[start:start + chunk].astype(np.float32) @ LUMA
        out[start:start + chunk] = np.clip(np.rint(block), 0, 255).astype(np.uint8)
    return out


# The stage (stages/faces_greyscale.py)

def greyscale_faces(params, *, aligned: str, out: str, sheet: str) -> None:
    """Aligned RGB crops to uint8 greyscale [N, H, W], plus a contact sheet."""
    from gatedvae import inputs
    from gatedvae.atomic import save_npy
    from gatedvae.faces import config
    from gatedvae.faces.figures import save_contact_sheet

    config.check_faces(params)
    rows, cols = config.sheet_size(params)
    images = to_greyscale(inputs.images(Path(aligned) / "images.npy"))
    save_npy(out, images)
    save_contact_sheet(sheet, images, rows=rows, cols=cols)
    log.info("wrote %s %s and %s", list(images.shape), images.dtype, sheet)
