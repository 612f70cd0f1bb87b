"""Input checks and the factor-sharing row sampler shared by the metrics."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def as_matrix(name: str, a, *, min_rows: int = 2, min_cols: int = 1) -> np.ndarray:
    """A finite float64 matrix [N, C]; errors name the argument and what was expected."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [rows, columns], got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows, got {arr.shape[0]}")
    if arr.shape[1] < min_cols:
        raise ValueError(f"{name}: expected at least {min_cols} columns, got {arr.shape[1]}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{name}: {int(bad.sum())} non-finite values (first at row {row}, column {col})")
    return arr


def as_classes(name: str, a, *, min_rows: int = 2) -> np.ndarray:
    """Integer class labels [N, K] (float input must hold whole numbers)."""
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        as_matrix(name, arr, min_rows=min_rows)
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: expected integer class labels, got fractional values")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name}: expected integer class labels, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [rows, factors], got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one factor column")
    return arr.astype(np.int64)


def same_rows(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} has {a.shape[0]} rows but {name_b} has {b.shape[0]}; they must match row for row")


def codes_and_classes(codes, factor_classes, *, min_codes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Checked codes [N, M] (floats) and factor classes [N, K] (integers), row for row."""
    z = as_matrix("codes", codes, min_cols=min_codes)
    classes = as_classes("factor_classes", factor_classes)
    same_rows("codes", z, "factor_classes", classes)
    return z, classes


def names_or_default(names: Sequence[str] | None, n: int, prefix: str, what: str) -> list[str]:
    if names is None:
        return [f"{prefix}{i}" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise ValueError(f"{what}: expected {n} names, got {len(names)}")
    if len(set(names)) != n:
        raise ValueError(f"{what}: names must be unique, got {names}")
    return names


class RowsByClass:
    """For each factor, the dataset's rows grouped by class, to draw rows sharing a factor's class.

    Drawing from a precomputed table is the same as the papers' generative sampler ("fix factor k
    at a random value, sample the others at random") when the table is the full factor grid, and
    an unbiased stand-in when it is a uniform random subset of it: the anchor row fixes the value
    of k (distributed as in the table), the partners are uniform among rows with that value.
    """

    def __init__(self, factor_classes: np.ndarray):
        self.n_rows, self.n_factors = factor_classes.shape
        self._order, self._group, self._start, self._count = [], [], [], []
        for k in range(self.n_factors):
            _, group, count = np.unique(factor_classes[:, k], return_inverse=True, return_counts=True)
            self._order.append(np.argsort(group, kind="stable"))
            self._group.append(group.reshape(-1))
            self._start.append(np.concatenate([[0], np.cumsum(count)[:-1]]))
            self._count.append(count)

    def n_classes(self, k: int) -> int:
        return len(self._count[k])

    def draw_sharing(self, k: int, anchors: np.ndarray, n_each: int, rng: np.random.Generator) -> np.ndarray:
        """Rows [len(anchors), n_each], uniform (with replacement) among rows whose class of
        factor k equals the anchor's."""
        group = self._group[k][anchors]
        start, count = self._start[k][group], self._count[k][group]
        offset = np.floor(rng.random((len(anchors), n_each)) * count[:, None]).astype(np.int64)
        return self._order[k][start[:, None] + offset]
