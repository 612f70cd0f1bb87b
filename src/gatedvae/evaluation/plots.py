"""Figures: Hinton diagrams of DCI importance, reconstruction and traversal grids, sweep lines.

Every function returns a matplotlib Figure built without pyplot (no global figure state, no
display backend; PNG output goes through Agg). The caller saves it, e.g. with
gatedvae.atomic.save_figure, which writes atomically.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

BOUNDARY_COLOR = "tab:red"


def _names(what: str, names: Sequence, n: int) -> list[str]:
    names = [str(x) for x in names]
    if len(names) != n:
        raise ValueError(f"{what}: expected {n} labels, got {len(names)}")
    return names


def hinton(
    importance,
    code_names: Sequence[str],
    factor_names: Sequence[str],
    partition_sizes: Sequence[int] | None = None,
    title: str | None = None,
    partition_labels: Sequence[str] | None = None,
) -> Figure:
    """Hinton diagram of R [M codes, K factors]: codes across, factors down, square AREA
    proportional to importance (the largest fills 90% of its cell's side). Partition boundaries
    are dashed vertical lines between code groups, labelled above the plot."""
    from .metrics.placement import partition_bounds

    r = np.asarray(importance, dtype=np.float64)
    if r.ndim != 2 or r.size == 0:
        raise ValueError(f"importance: expected a non-empty 2-D array [codes, factors], got shape {r.shape}")
    if not np.isfinite(r).all() or (r < 0).any():
        raise ValueError("importance: expected finite, non-negative values")
    m, k = r.shape
    code_names = _names("code_names", code_names, m)
    factor_names = _names("factor_names", factor_names, k)
    bounds = partition_bounds(partition_sizes, m) if partition_sizes is not None else []
    if partition_labels is not None and not bounds:
        raise ValueError("partition_labels: given without partition_sizes")
    labels = _names("partition_labels", partition_labels, len(bounds)) if partition_labels is not None else [
        f"P{p}" for p in range(len(bounds))
    ]

    fig = Figure(figsize=(0.55 * m + 2.0, 0.55 * k + 1.6), layout="constrained")
    ax = fig.subplots()
    ax.set_facecolor("white")
    peak = r.max() if r.max() > 0 else 1.0
    for i in range(m):
        for j in range(k):
            side = 0.9 * np.sqrt(r[i, j] / peak)
            if side > 0:
                ax.add_patch(Rectangle((i - side / 2, j - side / 2), side, side, facecolor="0.15", edgecolor="none"))
    for start, _ in bounds[1:]:
        ax.axvline(start - 0.5, color=BOUNDARY_COLOR, linestyle="--", linewidth=1.2)
    for (start, stop), label in zip(bounds, labels):
        ax.text((start + stop - 1) / 2, 1.01, label, transform=ax.get_xaxis_transform(), ha="center", va="bottom")
    ax.set_xlim(-0.5, m - 0.5)
    ax.set_ylim(k - 0.5, -0.5)  # first factor on top
    ax.set_aspect("equal")
    ax.set_xticks(range(m), code_names)
    ax.set_yticks(range(k), factor_names)
    ax.set_xlabel("latent code")
    ax.set_ylabel("factor")
    if title:
        ax.set_title(title, pad=18 if bounds else 6)
    return fig


def _as_unit_images(name: str, images) -> np.ndarray:
    """uint8 (0-255) or floats in [0, 1] -> float array in [0, 1]."""
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0
    if arr.dtype.kind not in "fb":
        raise ValueError(f"{name}: expected uint8 or float images, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name}: float images must lie in [0, 1], got range [{np.nanmin(arr)}, {np.nanmax(arr)}]")
    return arr


def _mosaic(cells: np.ndarray, pad: int = 1) -> np.ndarray:
    """[R, C, H, W] -> one image with `pad` white pixels between and around the cells."""
    rows, cols, h, w = cells.shape
    padded = np.ones((rows, cols, h + pad, w + pad))
    padded[:, :, :h, :w] = cells
    tiled = padded.transpose(0, 2, 1, 3).reshape(rows * (h + pad), cols * (w + pad))
    return np.pad(tiled, ((pad, 0), (pad, 0)), constant_values=1.0)


def _grid_figure(cells: np.ndarray, row_labels: list[str], col_labels: list[str] | None, title: str | None) -> Figure:
    rows, cols, h, w = cells.shape
    fig = Figure(figsize=(0.7 * cols * max(w / h, 0.25) + 1.6, 0.7 * rows + 0.9), layout="constrained")
    ax = fig.subplots()
    ax.imshow(_mosaic(cells), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_yticks([1 + r * (h + 1) + (h - 1) / 2 for r in range(rows)], row_labels)
    if col_labels is None:
        ax.set_xticks([])
    else:
        ax.set_xticks([1 + c * (w + 1) + (w - 1) / 2 for c in range(cols)], col_labels)
    ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    return fig


def reconstruction_grid(rows: Sequence, row_labels: Sequence[str], title: str | None = None) -> Figure:
    """One row per array [n, H, W] (e.g. originals, reconstructions), all of the same shape."""
    if len(rows) == 0:
        raise ValueError("rows: expected at least one row of images")
    arrays = [_as_unit_images(f"rows[{i}]", r) for i, r in enumerate(rows)]
    first = arrays[0].shape
    for i, a in enumerate(arrays):
        if a.ndim != 3 or a.shape[0] == 0:
            raise ValueError(f"rows[{i}]: expected images [n, H, W], got shape {a.shape}")
        if a.shape != first:
            raise ValueError(f"rows[{i}]: shape {a.shape} differs from rows[0] {first}; every row needs the same n, H, W")
    return _grid_figure(np.stack(arrays), _names("row_labels", row_labels, len(arrays)), None, title)


def traversal_grid(
    images,
    dim_labels: Sequence[str],
    step_values: Sequence[float],
    title: str | None = None,
) -> Figure:
    """Latent traversals: images [n_dims, n_steps, H, W], one row per latent dim."""
    cells = _as_unit_images("images", images)
    if cells.ndim != 4 or 0 in cells.shape:
        raise ValueError(f"images: expected [n_dims, n_steps, H, W], got shape {cells.shape}")
    dims, steps = cells.shape[:2]
    values = [float(v) for v in step_values]
    if len(values) != steps:
        raise ValueError(f"step_values: expected {steps} values (one per step), got {len(values)}")
    return _grid_figure(cells, _names("dim_labels", dim_labels, dims), [f"{v:+.1f}" for v in values], title)


def line_with_errorbars(
    x: Sequence[float],
    means,
    stds,
    labels: Sequence[str],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    *,
    log_x: bool = False,
    references: dict[str, float] | None = None,
) -> Figure:
    """One line per series with +-std error bars; means and stds are [n_series, len(x)].
    references: label -> y, drawn as dashed horizontal lines (a baseline that has no x)."""
    xs = np.asarray(x, dtype=np.float64)
    mu = np.atleast_2d(np.asarray(means, dtype=np.float64))
    sd = np.atleast_2d(np.asarray(stds, dtype=np.float64))
    if xs.ndim != 1 or len(xs) == 0:
        raise ValueError(f"x: expected a non-empty 1-D sequence, got shape {xs.shape}")
    if mu.shape != (mu.shape[0], len(xs)):
        raise ValueError(f"means: expected shape [n_series, {len(xs)}], got {mu.shape}")
    if sd.shape != mu.shape:
        raise ValueError(f"stds: expected the shape of means {mu.shape}, got {sd.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(sd).all()) or (sd < 0).any():
        raise ValueError("means and stds: expected finite values, stds non-negative")
    labels = _names("labels", labels, mu.shape[0])
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    if log_x and (xs <= 0).any():
        raise ValueError("x: a log axis needs positive values")
    refs = dict(references or {})
    if not all(np.isfinite(v) for v in refs.values()):
        raise ValueError(f"references: expected finite values, got {refs}")
    for m, s, label in zip(mu, sd, labels):
        line = ax.errorbar(xs, m, yerr=s, label=label, marker="o", capsize=3)[0]
        if label in refs:  # a series' own baseline takes its colour
            ax.axhline(refs.pop(label), color=line.get_color(), linestyle="--", linewidth=1,
                       label=f"{label}: baseline")
    for label, value in refs.items():
        ax.axhline(value, color="grey", linestyle="--", linewidth=1, label=label)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig
