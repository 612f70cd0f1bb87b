"""How close the offline renderer is to real dSprites images.

The official generator is not public and the official .npz cannot always be fetched, so the
reference is `reference/dsprites_official.gif`: the animation of the dataset's own README
(deepmind/dsprites-dataset, Apache 2.0; Matthey et al. 2017), 320 real 64 x 64 binary frames of
the dataset. The frames carry no labels, so each is matched by search: its best match is the
renderer's image, out of the whole grid (3 shapes x 6 scales x 40 orientations x 32 x 32
positions = 737,280 images), that differs from it in the fewest pixels. That pixel count, over
the frames, is the renderer's distance from the real data.

The search is exact but cheap. A 64 x 64 image differs from another in at least as many pixels
as their row sums differ in total (and likewise their column sums). Sprites never leave the
frame, so an image's row sums depend only on its sprite (shape, scale, orientation) and pos_y,
and its column sums only on its sprite and pos_x: a lower bound for all 737,280 images costs two
[720, 32, 64] sums per frame. Images are then compared in full only where the bound is below the
best difference found so far.

`python -m gatedvae.dsprites.official [gif]` prints the summary (`report`); docs/dsprites.md
gives the figures before and after the renderer was fitted to these frames.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from gatedvae.dsprites import data as D
from gatedvae.dsprites.spec import FACTOR_SIZES, IMAGE_SIZE

DEFAULT_GIF = Path(__file__).resolve().parents[3] / "reference" / "dsprites_official.gif"
SHAPE_NAMES = ("square", "ellipse", "heart")  # shape classes 0, 1, 2
_N_POS = FACTOR_SIZES[3]
_BATCH = 256  # candidate images compared at once


def load_frames(path: str | Path = DEFAULT_GIF) -> np.ndarray:
    """uint8 [n, 64, 64] 0/1: the frames of a GIF of dSprites images (white sprite is 1)."""
    with Image.open(path) as gif:
        frames = np.stack([np.asarray(f.convert("L")) for f in ImageSequence.Iterator(gif)])
    if frames.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{path}: frames must be {IMAGE_SIZE} x {IMAGE_SIZE}, "
                         f"got {frames.shape[1:]}")
    return (frames > 127).astype(np.uint8)


def best_matches(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best match over the whole grid for each frame [n, 64, 64] 0/1.

    Returns class vectors int64 [n, 5] and pixel differences int64 [n]. Ties go to the lowest
    grid index (e.g. a square at orientation 0 rather than its identical twin at 2*pi).
    """
    profiles = _window_profiles()
    found = [_best_match(np.asarray(f, dtype=np.uint8), profiles) for f in frames]
    classes = np.array([c for c, _ in found], dtype=np.int64).reshape(-1, 5)
    return classes, np.array([d for _, d in found], dtype=np.int64)


def _window_profiles() -> tuple[np.ndarray, np.ndarray]:
    """Row sums [720, 32 pos_y, 64] and column sums [720, 32 pos_x, 64] of every grid image."""
    masks = D.grid_masks()
    lit_rows = np.flatnonzero(masks.any(axis=(0, 2)))
    lit_cols = np.flatnonzero(masks.any(axis=(0, 1)))
    # The bound needs whole sprites in every window, i.e. lit pixels only where all windows
    # overlap; the renderer promises this (tested there).
    first, last = D.window_start(0), D.window_start(_N_POS - 1) + IMAGE_SIZE
    if lit_rows.min() < first or lit_rows.max() >= last or \
            lit_cols.min() < first or lit_cols.max() >= last:
        raise RuntimeError("a sprite leaves the frame: row and column sums no longer bound "
                           "the difference")
    window = D.window_start(np.arange(_N_POS))[:, None] + np.arange(IMAGE_SIZE)  # [32, 64]
    rows = masks.sum(axis=2, dtype=np.int16)[:, window]
    cols = masks.sum(axis=1, dtype=np.int16)[:, window]
    return rows, cols


def _best_match(frame: np.ndarray, profiles) -> tuple[np.ndarray, int]:
    bound = _lower_bound(frame, profiles)
    # The image with the lowest bound is a good first guess: the bound then prunes nearly all.
    best_d, best_i = _closest(frame, np.array([np.argmin(bound)]))
    candidates = np.flatnonzero(bound <= best_d)
    candidates = candidates[np.argsort(bound[candidates], kind="stable")]
    for start in range(0, len(candidates), _BATCH):
        batch = candidates[start:start + _BATCH]
        if bound[batch[0]] > best_d:
            break
        d, i = _closest(frame, batch)
        if (d, i) < (best_d, best_i):
            best_d, best_i = d, i
    return D.grid_classes(np.array([best_i]))[0], best_d


def _lower_bound(frame: np.ndarray, profiles) -> np.ndarray:
    """Flat [737,280] (grid order) lower bound on each grid image's difference from `frame`."""
    rows, cols = profiles
    by_y = np.abs(rows - frame.sum(axis=1, dtype=np.int16)).sum(axis=2)  # [720, 32]
    by_x = np.abs(cols - frame.sum(axis=0, dtype=np.int16)).sum(axis=2)  # [720, 32]
    return np.maximum(by_x[:, :, None], by_y[:, None, :]).ravel()  # [mask, pos_x, pos_y]


def _closest(frame: np.ndarray, grid_rows: np.ndarray) -> tuple[int, int]:
    """(difference, grid index) of the closest of these grid images; ties to the lowest index."""
    differences = (D.render(D.grid_classes(grid_rows)) != frame).sum(axis=(1, 2))
    order = np.lexsort((grid_rows, differences))
    return int(differences[order[0]]), int(grid_rows[order[0]])


def summary(classes: np.ndarray, differences: np.ndarray) -> dict:
    """Mean, median and max difference in pixels, overall and per shape of the best match."""
    out = {"frames": int(len(differences)), **_stats(differences), "per_shape": {}}
    for shape, name in enumerate(SHAPE_NAMES):
        chosen = differences[classes[:, 0] == shape]
        if len(chosen):
            out["per_shape"][name] = {"frames": int(len(chosen)), **_stats(chosen)}
    return out


def _stats(differences: np.ndarray) -> dict:
    return {"mean": round(float(np.mean(differences)), 2),
            "median": float(np.median(differences)), "max": int(np.max(differences))}


def report(path: str | Path = DEFAULT_GIF) -> dict:
    """Match every frame of the GIF at `path`, print the summary and return it."""
    frames = load_frames(path)
    classes, differences = best_matches(frames)
    result = summary(classes, differences)
    print(f"{path}: {result['frames']} frames; best-match difference in pixels: "
          f"mean {result['mean']}, median {result['median']}, max {result['max']}")
    for name, s in result["per_shape"].items():
        print(f"  {name:8s} {s['frames']:4d} frames: mean {s['mean']}, median {s['median']}, "
              f"max {s['max']}")
    return result


if __name__ == "__main__":
    report(*sys.argv[1:2])
