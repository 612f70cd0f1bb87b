"""The pair index: which images may be paired for each latent partition, and drawing targets.

groups [N, P] holds one integer group id per image and partition; a target for anchor i in
partition p is drawn uniformly among the *other* images with groups[i, p] (the anchor itself only
when its group is a singleton). Drawing is pure tensor indexing: no per-item Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch


def group_ids(factors: pd.DataFrame, partitions: dict[str, list[str]]) -> pd.DataFrame:
    """One int64 column per partition: the id of the joint value of that partition's factors."""
    columns = {}
    for name, factor_columns in partitions.items():
        missing = [c for c in factor_columns if c not in factors.columns]
        if missing:
            raise KeyError(f"partition {name!r} names factor column(s) {missing} that the factors "
                           f"table lacks; it has {list(factors.columns)}")
        keys = factors[factor_columns].to_numpy()
        _, ids = np.unique(keys, axis=0, return_inverse=True)
        columns[name] = ids.reshape(-1).astype(np.int64)
    return pd.DataFrame(columns)


class PairSampler:
    """Draws pair targets for anchors, per partition, from a seeded torch.Generator."""

    def __init__(self, groups: np.ndarray | torch.Tensor, target_noise: float = 0.0):
        groups = torch.from_numpy(np.array(groups, dtype=np.int64))  # a writable copy
        if groups.ndim != 2:
            raise ValueError(f"groups must be [N, P], got shape {tuple(groups.shape)}")
        if not 0.0 <= target_noise <= 1.0:
            raise ValueError(f"target_noise must be in [0, 1], got {target_noise}")
        self.n_images, self.n_partitions = groups.shape
        self.target_noise = target_noise
        self._order, self._start, self._count, self._rank = [], [], [], []
        for p in range(self.n_partitions):
            g = groups[:, p]
            order = torch.argsort(g, stable=True)            # images sorted by group
            sorted_g = g[order]
            _, counts = torch.unique_consecutive(sorted_g, return_counts=True)
            starts = torch.cumsum(counts, 0) - counts
            which = torch.repeat_interleave(torch.arange(len(counts)), counts)  # group slot per sorted row
            start_of = torch.empty_like(g)
            count_of = torch.empty_like(g)
            rank_of = torch.empty_like(g)
            start_of[order] = starts[which]
            count_of[order] = counts[which]
            rank_of[order] = torch.arange(len(g)) - starts[which]
            self._order.append(order)
            self._start.append(start_of)
            self._count.append(count_of)
            self._rank.append(rank_of)
        self.singletons = [int((c == 1).sum()) for c in self._count]

    def targets(self, anchors: torch.Tensor, partition: int, generator: torch.Generator) -> torch.Tensor:
        count = self._count[partition][anchors]
        others = (count - 1).clamp(min=1)
        u = torch.rand(len(anchors), generator=generator)
        r = (u * others).long().clamp(max=others - 1)
        # skip over the anchor's own slot; singletons (count 1) fall back to the anchor itself
        r = torch.where(count > 1, r + (r >= self._rank[partition][anchors]).long(), torch.zeros_like(r))
        targets = self._order[partition][self._start[partition][anchors] + r]
        if self.target_noise > 0:
            noisy = torch.rand(len(anchors), generator=generator) < self.target_noise
            random_targets = torch.randint(self.n_images, (len(anchors),), generator=generator)
            targets = torch.where(noisy, random_targets, targets)
        return targets
