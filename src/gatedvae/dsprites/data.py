"""dSprites (Matthey et al. 2017): the factor grid, a renderer, the official file, acquisition.

The grid has 3 x 6 x 40 x 32 x 32 = 737,280 rows over (shape, scale, orientation, pos_x, pos_y),
row-major: grid index = dot(classes, GRID_BASES). The official file adds a constant colour
column in front; this module drops it. Three sources give the same rows for the same
(n_images, seed): `generate` renders them, `path` and `download` read them from the official
.npz file. A partial file (any subset of the grid) gives a seeded subset of the rows it holds.

Renderer geometry, measured against real images of the official dataset (the 320 frames of
`reference/dsprites_official.gif`; `gatedvae.dsprites.official` scores the fit, docs/dsprites.md
gives the figures). DeepMind's generator is not public; every length below was fitted to those
frames, pixel by pixel:
- Canvas 64 x 64; pixel (r, c) covers [c, c+1] x [r, r+1]; a pixel is on when its centre lies
  inside the shape (no anti-aliasing), so images are 0/1 like the official ones.
- Position: official centres are 16 + 32 * pos in canvas units (16 at class 0, 48 at class 31:
  32/31 px per class, on pixel corners at both ends). Here class k sits at 16 + POSITION_STEPS[k],
  the official centre rounded to whole pixels: steps of one pixel and one of two (classes 15 ->
  16), so that translation stays pure indexing. Both ends are exact; class k is off by k/31 px
  (or (31 - k)/31), up to 0.48 px at classes 15 and 16: the largest difference left (below).
  pos_x moves right (columns), pos_y moves down (rows). The frames are not labelled, so which
  axis is pos_x and which way each runs are the usual reading, not a measurement.
- Size at scale 1 (scale s multiplies every length): square of half-side 9.6 px (side 0.3 of the
  canvas; 10 to 20 pixels across at orientation 0); ellipse with semi-axes 12.77 x 7.21 px, long
  axis horizontal at orientation 0; heart: the polygon HEART_OUTLINE, point down at orientation 0,
  as wide as the square (its point 9.62 px below the centre, its lobes 9.35 px above, the notch
  between them 5.28 px above). All three turn about the position itself (the heart's area centroid
  is 1.9 px above it at scale 1, so it circles the position as it turns).
- Orientation theta turns the sprite anticlockwise as seen on screen (as the frames' heart
  turns). theta = 2*pi is drawn as theta = 0 (identical images, as in the official data). No
  pixel centre lies exactly on a square edge, so a square turned by 90 degrees equals the
  unturned one exactly.
- No lit pixel lies more than 13.6 px from the sprite's centre (the square's corner near 45
  degrees), and centres are at least 16 px from the edge, so sprites never leave the frame.
What remains different from the official images: the rounded positions (above; about 9 pixels
per image on the frames that show them; about 12 over the whole grid, estimated against the
fitted shapes drawn at the official centres), and a pixel or two along the outlines where the
fitted shapes and DeepMind's disagree (0.1 per frame for the square and the ellipse, under 1 for
the heart, at positions drawn exactly).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from gatedvae.atomic import atomic_path, save_parquet
from gatedvae.dsprites.spec import (DSPRITES_FILENAME, DSPRITES_MD5, DSPRITES_URL,  # noqa: F401 (re-exported)
                                    FACTOR_NAMES, FACTOR_SIZES, IMAGE_SIZE, N_GRID, SOURCES)
from gatedvae.errors import StageError

log = logging.getLogger(__name__)

FACTOR_VALUES = (np.array([1.0, 2.0, 3.0]), np.linspace(0.5, 1.0, 6),
                 np.linspace(0.0, 2 * np.pi, 40), np.linspace(0.0, 1.0, 32),
                 np.linspace(0.0, 1.0, 32))
GRID_BASES = np.array([int(np.prod(FACTOR_SIZES[i + 1:])) for i in range(5)], dtype=np.int64)

# Renderer geometry, in pixels at scale 1 (see the module docstring); fitted to the official frames.
FIRST_CENTRE = 16.0        # canvas units: the sprite's centre at position class 0, a pixel corner
# Whole-pixel offset of position class k from class 0: round(32 k / 31), 0 ... 15, 17 ... 32.
POSITION_STEPS = np.round(np.arange(FACTOR_SIZES[3]) * 32.0 / (FACTOR_SIZES[3] - 1)).astype(int)
SQUARE_HALF_SIDE = 9.6
ELLIPSE_SEMI_AXES = (12.77, 7.21)
# Right half of the heart, (x right, y up) from the notch between the lobes round to the point;
# the left half is its mirror image. Fitted vertex by vertex to the official frames.
HEART_OUTLINE = np.array([
    (0.0, 5.28), (0.83, 7.25), (1.91, 8.31), (3.01, 9.08), (4.6, 9.35), (5.95, 9.23),
    (7.9, 8.17), (8.96, 6.73), (9.57, 4.91), (9.62, 3.51), (9.17, 1.89), (8.7, 0.83),
    (7.33, -1.05), (6.37, -2.09), (5.06, -3.34), (4.11, -4.27), (2.99, -5.28), (1.63, -6.78),
    (0.61, -8.16), (0.0, -9.62)])
_FILE_KEYS = ("imgs", "latents_values", "latents_classes", "metadata")
_FILE_COLUMNS = ("color", "shape", "scale", "orientation", "posX", "posY")  # official names


class DSpritesFileError(StageError, ValueError):
    """The dSprites .npz file is not in the expected format; the message names file and key."""


# ---------------------------------------------------------------- the factor grid

def grid_index(classes: np.ndarray) -> np.ndarray:
    """Row of each class vector [n, 5] in the full grid."""
    return np.asarray(classes, dtype=np.int64) @ GRID_BASES


def grid_classes(index: np.ndarray) -> np.ndarray:
    """Class vectors int64 [n, 5] of grid rows `index` (inverse of grid_index)."""
    index = np.asarray(index, dtype=np.int64)
    return np.stack(np.unravel_index(index, FACTOR_SIZES), axis=1).astype(np.int64)


def full_grid_classes() -> np.ndarray:
    return grid_classes(np.arange(N_GRID))


def sample_grid_index(n_images: int, seed: int) -> np.ndarray:
    """Sorted grid rows of a seeded subset without replacement; 0 or >= N_GRID: all rows."""
    if n_images < 0:
        raise ValueError(f"n_images must be >= 0, got {n_images}")
    if n_images == 0 or n_images >= N_GRID:
        return np.arange(N_GRID, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(N_GRID, size=n_images, replace=False)).astype(np.int64)


def sample_classes(n_images: int, seed: int) -> np.ndarray:
    return grid_classes(sample_grid_index(n_images, seed))


def factor_values(classes: np.ndarray) -> np.ndarray:
    """Float64 [n, 5] factor values of class vectors (shape 1..3, scale, radians, 0..1)."""
    classes = check_classes(classes)
    return np.stack([FACTOR_VALUES[j][classes[:, j]] for j in range(5)], axis=1)


def check_classes(classes: np.ndarray) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.ndim != 2 or classes.shape[1] != 5:
        raise ValueError(f"classes: expected shape [n, 5] ({', '.join(FACTOR_NAMES)}), "
                         f"got {classes.shape}")
    if classes.dtype.kind not in "iu":
        raise ValueError(f"classes: expected integers, got dtype {classes.dtype}")
    for j, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES)):
        bad = np.flatnonzero((classes[:, j] < 0) | (classes[:, j] >= size))
        if bad.size:
            raise ValueError(f"classes: column {name} must be in 0..{size - 1}; row {bad[0]} "
                             f"has {classes[bad[0], j]} ({bad.size} rows out of range)")
    return classes.astype(np.int64, copy=False)


def factors_frame(classes: np.ndarray, values: np.ndarray | None = None) -> pd.DataFrame:
    """One row per image: int64 class columns, float64 `<name>_value` columns, grid_index."""
    classes = check_classes(classes)
    values = factor_values(classes) if values is None else np.asarray(values, np.float64)
    if values.shape != classes.shape:
        raise ValueError(f"values: expected shape {classes.shape}, got {values.shape}")
    frame = pd.DataFrame({name: classes[:, j] for j, name in enumerate(FACTOR_NAMES)})
    for j, name in enumerate(FACTOR_NAMES):
        frame[f"{name}_value"] = values[:, j]
    frame["grid_index"] = grid_index(classes)
    return frame


# ---------------------------------------------------------------- rendering

BOARD = IMAGE_SIZE + int(POSITION_STEPS[-1])              # 96: room for 32 pixels of travel
BOARD_CENTRE = FIRST_CENTRE + float(POSITION_STEPS[-1])   # 48.0, canvas units on the board


def sprite_masks(scales, orientations) -> np.ndarray:
    """uint8 [3 shapes, len(scales), len(orientations), 96, 96]: sprites centred on the board
    corner point (48, 48).

    Any scale and angle (radians), not only the grid's; the geometry of the module docstring.
    """
    offsets = np.arange(BOARD, dtype=np.float64) + 0.5 - BOARD_CENTRE  # pixel centres
    dx = offsets[None, :]            # right
    dy_up = -offsets[:, None]        # up on screen (rows grow downwards)
    scales = np.asarray(scales, dtype=np.float64)[:, None, None, None]
    theta = np.mod(np.asarray(orientations, dtype=np.float64), 2 * np.pi)[None, :, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    # Pixel centres taken back into the sprite's own frame (undo rotation, then scale).
    u = (cos * dx + sin * dy_up) / scales
    v = (-sin * dx + cos * dy_up) / scales
    square = (np.abs(u) <= SQUARE_HALF_SIDE) & (np.abs(v) <= SQUARE_HALF_SIDE)
    ellipse = (u / ELLIPSE_SEMI_AXES[0]) ** 2 + (v / ELLIPSE_SEMI_AXES[1]) ** 2 <= 1.0
    heart = inside_polygon(heart_polygon(), u, v)
    return np.stack([square, ellipse, heart]).astype(np.uint8)


def heart_polygon() -> np.ndarray:
    """[k, 2] closed outline of the heart: HEART_OUTLINE and its mirror image."""
    mirror = HEART_OUTLINE[-2:0:-1] * [-1.0, 1.0]
    return np.concatenate([HEART_OUTLINE, mirror])


def inside_polygon(polygon: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether each point (x, y) lies inside `polygon` [k, 2] (even-odd rule; arrays broadcast)."""
    x, y = np.broadcast_arrays(x, y)
    inside = np.zeros(x.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        if y0 == y1:
            continue  # a horizontal edge is never crossed by a horizontal ray
        crosses = (y0 > y) != (y1 > y)
        inside ^= crosses & (x < x0 + (y - y0) * (x1 - x0) / (y1 - y0))
    return inside


def mask_index(classes: np.ndarray) -> np.ndarray:
    """Index of each class vector's (shape, scale, orientation) sprite in grid_masks()."""
    return (classes[:, 0] * FACTOR_SIZES[1] + classes[:, 1]) * FACTOR_SIZES[2] + classes[:, 2]


def window_start(position_classes: np.ndarray) -> np.ndarray:
    """First board row (pos_y) or column (pos_x) of the 64 x 64 image at these position classes."""
    return POSITION_STEPS[-1] - POSITION_STEPS[position_classes]


@functools.lru_cache(maxsize=1)
def grid_masks() -> np.ndarray:
    """Read-only uint8 [720, 96, 96]: each (shape, scale, orientation) sprite of the grid, drawn
    once on its board; mask_index gives the row."""
    masks = sprite_masks(FACTOR_VALUES[1], FACTOR_VALUES[2]).reshape(-1, BOARD, BOARD)
    masks.flags.writeable = False
    return masks


def _translation_windows() -> np.ndarray:
    """View [720, 33, 33, 64, 64]: [mask, row start, column start] is a finished image.

    Every 64 x 64 window of a board is that sprite at one position, so translation is pure
    indexing (window_start gives the window of each position class).
    """
    return np.lib.stride_tricks.sliding_window_view(grid_masks(), (IMAGE_SIZE, IMAGE_SIZE),
                                                    axis=(1, 2))


def render_into(out: np.ndarray, classes: np.ndarray, *, chunk: int = 8192,
                progress: bool = False) -> np.ndarray:
    """Render images for `classes` [n, 5] into `out` (uint8 [n, 64, 64], e.g. a memmap)."""
    classes = check_classes(classes)
    if out.shape != (len(classes), IMAGE_SIZE, IMAGE_SIZE) or out.dtype != np.uint8:
        raise ValueError(f"out: expected uint8 {(len(classes), IMAGE_SIZE, IMAGE_SIZE)}, "
                         f"got {out.dtype} {out.shape}")
    windows = _translation_windows()
    with tqdm(total=len(classes), unit="img", desc="render dSprites", leave=False,
              disable=None if progress else True) as bar:
        for start in range(0, len(classes), chunk):
            c = classes[start:start + chunk]
            out[start:start + len(c)] = windows[mask_index(c), window_start(c[:, 4]),
                                                window_start(c[:, 3])]
            bar.update(len(c))
    return out


def render(classes: np.ndarray) -> np.ndarray:
    """uint8 [n, 64, 64] images with values 0/1 for class vectors [n, 5]."""
    classes = check_classes(classes)
    return render_into(np.empty((len(classes), IMAGE_SIZE, IMAGE_SIZE), np.uint8), classes)


# ---------------------------------------------------------------- the official file

def resolve_npz(path: str | os.PathLike) -> Path:
    """The .npz file behind dsprites.acquire.path: the file itself, or the one .npz in a folder
    (hidden files ignored)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix == ".npz" and not p.name.startswith("."))
        if len(found) != 1:
            listed = ", ".join(p.name for p in found) or "none"
            raise DSpritesFileError(f"{path}: expected exactly one .npz file in this folder (found "
                                    f"{listed}); place {DSPRITES_FILENAME} there, or set "
                                    "dsprites.acquire.path to the file itself")
        return found[0]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: dSprites file not found")
    return path


def _open_npz(path: Path):
    try:
        data = np.load(path, allow_pickle=True, encoding="latin1")
    except Exception as e:  # numpy raises several types for a file that is not an npz
        raise DSpritesFileError(f"{path}: not a readable .npz file ({e})") from e
    if not hasattr(data, "files"):  # a bare .npy array under an .npz name
        raise DSpritesFileError(f"{path}: holds a single array {list(np.shape(data))}, expected an "
                                f".npz archive with keys {list(_FILE_KEYS)} (the official file's "
                                "format; np.savez(path, imgs=..., latents_classes=..., "
                                "latents_values=..., metadata=...) writes one)")
    return data


def held_rows(path: str | os.PathLike) -> int:
    """How many images the file holds, reading only its `latents_classes` key."""
    path = resolve_npz(path)
    with _open_npz(path) as data:
        if "latents_classes" not in data.files:
            raise DSpritesFileError(f"{path}: missing key `latents_classes`; expected "
                                    f"{list(_FILE_KEYS)}, found {sorted(data.files)}")
        return int(_read(data, path, "latents_classes").shape[0])


def load_npz(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read and check the official file: imgs uint8 [N,64,64], classes int64 [N,5], values [N,5].

    The colour column (constant) is dropped from classes and values.
    """
    path = resolve_npz(path)
    with _open_npz(path) as data:
        missing = [k for k in _FILE_KEYS if k not in data.files]
        if missing:
            raise DSpritesFileError(f"{path}: missing key(s) {missing}; expected "
                                    f"{list(_FILE_KEYS)}, found {sorted(data.files)}")
        imgs = _read(data, path, "imgs")
        classes = _read(data, path, "latents_classes")
        values = _read(data, path, "latents_values")
        metadata = _read(data, path, "metadata")
    n = _check_imgs(path, imgs)
    _check_array(path, "latents_classes", classes, "iu", "integer", n)
    _check_array(path, "latents_values", values, "f", "float", n)
    _check_metadata(path, metadata)
    classes = classes.astype(np.int64, copy=False)
    values = values.astype(np.float64, copy=False)
    _check_factor_ranges(path, classes, values)
    return imgs, np.ascontiguousarray(classes[:, 1:]), np.ascontiguousarray(values[:, 1:])


def _read(data, path: Path, key: str) -> np.ndarray:
    try:
        return data[key]
    except Exception as e:
        raise DSpritesFileError(f"{path}: key `{key}` could not be read ({e})") from e


def _check_imgs(path: Path, imgs: np.ndarray) -> int:
    if imgs.dtype != np.uint8:
        raise DSpritesFileError(f"{path}: key `imgs` must be uint8, got {imgs.dtype}")
    if imgs.ndim != 3 or imgs.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DSpritesFileError(f"{path}: key `imgs` must have shape [N, 64, 64], "
                                f"got {list(imgs.shape)}")
    if len(imgs) and imgs.max() > 1:
        raise DSpritesFileError(f"{path}: key `imgs` must hold 0/1 pixels, found {imgs.max()}")
    return len(imgs)


def _check_array(path: Path, key: str, array: np.ndarray, kinds: str, kind_name: str,
                 n: int) -> None:
    if array.dtype.kind not in kinds:
        raise DSpritesFileError(f"{path}: key `{key}` must hold {kind_name} numbers, "
                                f"got dtype {array.dtype}")
    if array.shape != (n, 6):
        raise DSpritesFileError(f"{path}: key `{key}` must have shape [{n}, 6] (one row per "
                                f"image, columns {list(_FILE_COLUMNS)}), got {list(array.shape)}")


def _check_metadata(path: Path, metadata: np.ndarray) -> None:
    meta = metadata.item() if metadata.dtype == object and metadata.ndim == 0 else None
    if not isinstance(meta, dict):
        raise DSpritesFileError(f"{path}: key `metadata` must be a pickled dict, got "
                                f"{metadata.dtype} {list(metadata.shape)}")
    sizes = meta.get("latents_sizes")
    if sizes is not None and [int(s) for s in sizes] != [1, *FACTOR_SIZES]:
        raise DSpritesFileError(f"{path}: key `metadata` gives latents_sizes "
                                f"{[int(s) for s in sizes]}, expected {[1, *FACTOR_SIZES]}")


def _check_factor_ranges(path: Path, classes: np.ndarray, values: np.ndarray) -> None:
    sizes = (1, *FACTOR_SIZES)
    grids = (np.array([1.0]), *FACTOR_VALUES)
    for j, (name, size) in enumerate(zip(_FILE_COLUMNS, sizes)):
        bad = np.flatnonzero((classes[:, j] < 0) | (classes[:, j] >= size))
        if bad.size:
            raise DSpritesFileError(
                f"{path}: key `latents_classes` column {name} must be in 0..{size - 1}; "
                f"row {bad[0]} has {classes[bad[0], j]} ({bad.size} rows out of range)")
        bad = np.flatnonzero(~np.isclose(values[:, j], grids[j][classes[:, j]], atol=1e-6))
        if bad.size:
            r = bad[0]
            raise DSpritesFileError(
                f"{path}: key `latents_values` column {name}: row {r} has {values[r, j]!r}, "
                f"expected {grids[j][classes[r, j]]!r} for class {classes[r, j]} "
                f"({bad.size} rows disagree)")


def select_rows(classes: np.ndarray, n_images: int, seed: int, path: str | os.PathLike
                ) -> np.ndarray:
    """Rows of a file (classes [N, 5]) to take, ordered by grid index.

    n_images = 0 takes every row. Otherwise, when the file holds every grid row that `generate`
    would draw for (n_images, seed) (always so for the official file), those rows, so the three
    sources agree; else a seeded subset of the rows the file holds.
    """
    index = grid_index(classes)
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    repeats = np.flatnonzero(np.diff(sorted_index) == 0)
    if repeats.size:
        raise DSpritesFileError(f"{path}: grid row {sorted_index[repeats[0]]} appears more "
                                f"than once in latents_classes ({repeats.size} repeats)")
    if n_images == 0:
        return order
    if n_images > len(index):
        raise DSpritesFileError(f"params.yaml: `dsprites.acquire.n_images` ({n_images:,}) is more "
                                f"than the {len(index):,} images {path} holds; set it to at most "
                                f"{len(index):,}, or 0 to take them all")
    wanted = sample_grid_index(n_images, seed)
    pos = np.minimum(np.searchsorted(sorted_index, wanted), len(sorted_index) - 1)
    if len(sorted_index) and (sorted_index[pos] == wanted).all():
        return order[pos]
    picked = np.random.default_rng(seed).choice(len(index), size=n_images, replace=False)
    return order[np.sort(picked)]


def subset_kind(n_file: int, n_images: int) -> str:
    """How select_rows reads a file, in words for the log."""
    if n_images == 0 or n_images == n_file:
        return f"all {n_file:,} images of the file"
    return f"a seeded subset of {n_images:,} of the file's {n_file:,} images"


# ---------------------------------------------------------------- acquisition

def acquire(source: str, images_out: str | os.PathLike, factors_out: str | os.PathLike, *,
            n_images: int, seed: int, path: str | os.PathLike | None = None,
            url: str = DSPRITES_URL, md5: str | None = DSPRITES_MD5,
            download_dir: str | os.PathLike | None = None) -> dict:
    """Write images (uint8 .npy [N, 64, 64]) and factors.parquet; return a summary.

    source: `generate` renders the grid rows; `download` fetches the official file into
    `download_dir` (default: beside images_out) and reads it; `path` reads a local copy.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {list(SOURCES)}, got {source!r}")
    started = time.perf_counter()
    if source == "generate":
        classes = sample_classes(n_images, seed)
        _write_images(images_out, len(classes), lambda out: render_into(out, classes,
                                                                         progress=True))
        values = None
    else:
        npz = _npz_for(source, images_out, path, url, md5, download_dir)
        imgs, file_classes, file_values = load_npz(npz)
        rows = select_rows(file_classes, n_images, seed, npz)
        log.info("%s: %s", npz, subset_kind(len(file_classes), len(rows)))
        _write_images(images_out, len(rows), lambda out: _copy_rows(out, imgs, rows))
        classes, values = file_classes[rows], file_values[rows]
    save_parquet(factors_out, factors_frame(classes, values))
    return {"source": source, "n_images": int(len(classes)),
            "seconds": round(time.perf_counter() - started, 3)}


def _npz_for(source: str, images_out, path, url: str, md5: str | None, download_dir) -> Path:
    if source == "path":
        if path is None:
            raise ValueError("source `path` needs the path of the official .npz file")
        return resolve_npz(path)
    from gatedvae.download import fetch  # only this source needs requests

    dest = Path(download_dir if download_dir is not None else Path(images_out).parent)
    dest = dest / DSPRITES_FILENAME
    hint = (f"Download {DSPRITES_FILENAME} by hand (md5 {DSPRITES_MD5}) from the GitHub "
            f"repository deepmind/dsprites-dataset, place it at {dest} or elsewhere, and "
            "set dsprites.source: path and dsprites.path to it in params.yaml; or use "
            "dsprites.source: generate, which needs no download.")
    return fetch(url, dest, md5=md5, desc=DSPRITES_FILENAME, hint=hint)


def _write_images(target: str | os.PathLike, n: int, fill) -> None:
    with atomic_path(target) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                        shape=(n, IMAGE_SIZE, IMAGE_SIZE))
        fill(out)
        out.flush()
        del out


def _copy_rows(out: np.ndarray, imgs: np.ndarray, rows: np.ndarray, chunk: int = 8192) -> None:
    for start in range(0, len(rows), chunk):
        out[start:start + chunk] = imgs[rows[start:start + chunk]]
