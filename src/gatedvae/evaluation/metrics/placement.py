"""Partition placement: how much of each factor's importance lies in the partition meant for it.

With codes split into consecutive partitions (sizes from params), the share for factor j is
sum_{i in partition(j)} R_ij / sum_i R_ij. A share of 1 means the factor is predicted only from
its intended partition. A factor with zero importance everywhere lies in no partition: share 0.
Factors whose intended partition is None (e.g. a factor no partition was trained for) are left
out of `per_factor` and of the mean; `n_scored` says how many were counted.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._common import as_matrix, names_or_default


def partition_bounds(partition_sizes: Sequence[int], n_codes: int) -> list[tuple[int, int]]:
    """[(start, stop)] code ranges of consecutive partitions; checks they tile the codes exactly."""
    sizes = [int(s) for s in partition_sizes]
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"partition_sizes: expected positive sizes, got {list(partition_sizes)}")
    if sum(sizes) != n_codes:
        raise ValueError(f"partition_sizes: {sizes} add up to {sum(sizes)}, but there are {n_codes} codes")
    stops = np.cumsum(sizes)
    return [(int(stop - size), int(stop)) for size, stop in zip(sizes, stops)]


def placement(
    importance,
    partition_sizes: Sequence[int],
    intended: Sequence[int | None],
    *,
    factor_names: Sequence[str] | None = None,
) -> dict:
    """{"per_factor": {name: share}, "mean": float | None, "n_scored": int} for R [M, K]."""
    r = as_matrix("importance", importance, min_rows=1, min_cols=1)
    if (r < 0).any():
        raise ValueError("importance: expected non-negative values")
    m, k = r.shape
    bounds = partition_bounds(partition_sizes, m)
    names = names_or_default(factor_names, k, "factor", "factor_names")
    if len(intended) != k:
        raise ValueError(f"intended: expected one partition index (or None) per factor, {k} in all, got {len(intended)}")

    per_factor = {}
    for j, part in enumerate(intended):
        if part is None:
            continue
        if not (isinstance(part, (int, np.integer)) and 0 <= part < len(bounds)):
            raise ValueError(
                f"intended[{j}] (factor {names[j]!r}): expected a partition index in 0..{len(bounds) - 1} or None, got {part!r}"
            )
        start, stop = bounds[part]
        total = r[:, j].sum()
        per_factor[names[j]] = float(r[start:stop, j].sum() / total) if total > 0 else 0.0
    mean = float(np.mean(list(per_factor.values()))) if per_factor else None
    return {"per_factor": per_factor, "mean": mean, "n_scored": len(per_factor)}
