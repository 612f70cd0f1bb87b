"""Synthetic data for the benchmarks: images shaped and typed like the real ones, and a pair index.

dSprites-like (MLP): binary uint8 images, pixel_max 1. Faces-like (conv): greyscale uint8 0..255,
pixel_max 255 (as faces/config.py sets). Throughput depends on the content only through the MLP's
first layer, which sums the lit pixels (pixel_linear.py), so binary images light as many pixels
as dSprites does; N images are drawn from a small random base set (fast even for a million).
"""

from __future__ import annotations

import numpy as np

# groups per partition, cycled: dSprites' shape, scale, orientation, position
GROUP_COUNTS = (3, 6, 40, 1024)
BASE_IMAGES = 2048
LIT_FRACTION = 0.0435  # of the default dSprites images' pixels (100,000 rendered, seed 0)


def synthetic_images(n: int, pixel_max: int, image_size: int = 64, seed: int = 0) -> np.ndarray:
    """uint8 [n, image_size, image_size]: binary (LIT_FRACTION on) when pixel_max is 1, else
    uniform 0..pixel_max."""
    rng = np.random.default_rng(seed)
    shape = (min(n, BASE_IMAGES), image_size, image_size)
    if pixel_max == 1:
        base = (rng.random(shape) < LIT_FRACTION).astype(np.uint8)
    else:
        base = rng.integers(0, pixel_max + 1, shape, dtype=np.uint8)
    return base[rng.integers(0, len(base), n)] if n > len(base) else base


def synthetic_groups(n: int, n_partitions: int, seed: int = 0) -> np.ndarray:
    """int64 [n, n_partitions]: a random group id per image and partition."""
    rng = np.random.default_rng(seed + 1)
    counts = [min(GROUP_COUNTS[p % len(GROUP_COUNTS)], max(1, n // 2)) for p in range(n_partitions)]
    return np.stack([rng.integers(0, c, n) for c in counts], axis=1).astype(np.int64)
