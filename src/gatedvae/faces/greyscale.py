"""RGB to greyscale with ITU-R BT.601 luma weights, in PIL's "L" fixed-point arithmetic, uint8 in
and out; greyscale_faces is the stage (stages/faces_greyscale.py).

Integers throughout: a float32 matrix product rounds differently with the BLAS build and CPU
(on one machine the same aligned faces gave a different grey.npy), integer sums never do, and
these are bit for bit what PIL's `convert("L")` gives."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# PIL's weights in 1/65536ths (they sum to 65536): 0.299, 0.587, 0.114, rounded half up
LUMA_FIXED = np.array([19595, 38470, 7471], dtype=np.uint32)
HALF = 1 << 15


def to_greyscale(rgb: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
    """[N, H, W, 3] uint8 -> [N, H, W] uint8 (PIL's "L"); chunked so that the sums stay small."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 4 or rgb.shape[-1] != 3:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {rgb.dtype} {list(rgb.shape)}")
    out = np.empty(rgb.shape[:3], dtype=np.uint8)
    for start in range(0, len(rgb), chunk):
        block = rgb[start:start + chunk].astype(np.uint32)
        luma = (block[..., 0] * LUMA_FIXED[0] + block[..., 1] * LUMA_FIXED[1]
                + block[..., 2] * LUMA_FIXED[2] + HALF) >> 16
        out[start:start + chunk] = luma.astype(np.uint8)  # at most 255: the weights sum to 1
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
