"""RGB to greyscale with ITU-R BT.601 luma weights (what PIL's "L" mode uses), uint8 in and out."""

from __future__ import annotations

import numpy as np

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
