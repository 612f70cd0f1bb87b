"""Small PNG figures of face images (no matplotlib needed: pixels are the figure)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from gatedvae.atomic import atomic_path


def contact_sheet(images: np.ndarray, *, rows: int, cols: int, gap: int = 2, upscale: int = 2) -> np.ndarray:
    """The first rows*cols images [N, H, W] uint8 tiled with white gaps. Fewer images than cells
    shrink the sheet to the rows (and, under one row, the columns) they fill, so a small data
    set is not drawn as a mostly empty grid."""
    images = np.asarray(images)
    n, h, w = images.shape
    cols = max(1, min(cols, n))
    rows = max(1, min(rows, -(-n // cols)))
    sheet = np.full((rows * (h + gap) + gap, cols * (w + gap) + gap), 255, dtype=np.uint8)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        sheet[y:y + h, x:x + w] = images[k]
    return np.kron(sheet, np.ones((upscale, upscale), dtype=np.uint8)) if upscale > 1 else sheet


def save_png(target, pixels: np.ndarray) -> None:
    with atomic_path(target) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG", optimize=True)


def save_contact_sheet(target, images: np.ndarray, *, rows: int, cols: int) -> None:
    save_png(target, contact_sheet(images, rows=rows, cols=cols))
