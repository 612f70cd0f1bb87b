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


def partition_pairs(sampler: PairSampler, anchors: torch.Tensor, partition: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pair index's pairs for the pair methods: (targets, shared [B, P] bool, n_changed [B]).
    A pair through partition p shares p's factors; every other factor is free (it may change)."""
    targets = sampler.targets(anchors, partition, generator)
    shared = torch.zeros(len(anchors), sampler.n_partitions, dtype=torch.bool)
    shared[:, partition] = True
    n_changed = torch.full((len(anchors),), sampler.n_partitions - 1, dtype=torch.long)
    return targets, shared, n_changed


class KFactorSampler:
    """Locatello et al. 2020's pairs: x2 differs from x1 in k factors chosen at random and shares
    the rest. k is fixed (1 <= k < P) or, with k = 0, drawn uniformly from 1..P-1 per pair, as the
    paper describes (not disentanglement_lib's choice([1, k]), which makes half the pairs differ in
    one factor: its issue 31). The factors are the pair index's partitions; x2 is drawn uniformly
    among the other images that share the anchor's values on the unchanged partitions (the changed
    ones are redrawn, so they may keep their value by chance, as in the paper's sampling).

    On a subset of the full grid most combinations of the unchanged factors hold one image only:
    the sampler counts, per set of unchanged partitions, the images with no partner
    (`no_partner`) and refuses data where more than max_no_partner of the images have none
    for some set it would draw (an image with no partner would pair with itself)."""

    def __init__(self, groups: np.ndarray | torch.Tensor, k: int, max_no_partner: float = 0.5):
        groups = np.asarray(groups, dtype=np.int64)
        if groups.ndim != 2 or groups.shape[1] < 2:
            raise ValueError(f"k-factor pairs need groups [N, P] with P >= 2 factors, got shape {groups.shape}")
        self.n_images, self.n_partitions = groups.shape
        if not (k == 0 or 1 <= k < self.n_partitions):
            raise ValueError(f"k must be 0 (drawn per pair) or in [1, {self.n_partitions - 1}], got {k}")
        self.k = k
        self.no_partner: dict[tuple[int, ...], int] = {}
        self._samplers: dict[int, PairSampler] = {}
        ks = [k] if k else range(1, self.n_partitions)
        for n_changed in ks:
            for unchanged in _subsets(self.n_partitions, self.n_partitions - n_changed):
                _, joint = np.unique(groups[:, list(unchanged)], axis=0, return_inverse=True)
                sampler = PairSampler(joint.reshape(-1, 1))
                self._samplers[_code(unchanged)] = sampler
                self.no_partner[unchanged] = sampler.singletons[0]
        worst = max(self.no_partner, key=self.no_partner.get)
        if self.no_partner[worst] > max_no_partner * self.n_images:
            raise ValueError(
                f"k-factor pairs: {self.no_partner[worst]:,} of {self.n_images:,} images have no other "
                f"image sharing their values on partitions {list(worst)} (the unchanged ones when k = "
                f"{self.n_partitions - len(worst)}), so they could only pair with themselves. These pairs "
                "need the full factor grid (dsprites.acquire.n_images: 0) or a larger k.")

    def targets(self, anchors: torch.Tensor, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(targets, shared [B, P] bool: the unchanged partitions, n_changed [B])."""
        b, p = len(anchors), self.n_partitions
        if self.k:
            n_changed = torch.full((b,), self.k, dtype=torch.long)
        else:
            n_changed = torch.randint(1, p, (b,), generator=generator)
        order = torch.argsort(torch.rand(b, p, generator=generator), dim=1)  # a random factor order
        shared = torch.zeros(b, p, dtype=torch.bool)
        shared.scatter_(1, order, torch.arange(p).expand(b, p) >= n_changed.unsqueeze(1))
        codes = (shared.long() << torch.arange(p)).sum(1)
        targets = torch.empty_like(anchors)
        for code in torch.unique(codes).tolist():  # at most 2^P - 2 sets: a short loop per step
            rows = torch.nonzero(codes == code).squeeze(1)
            targets[rows] = self._samplers[code].targets(anchors[rows], 0, generator)
        return targets, shared, n_changed


def _subsets(n: int, size: int) -> list[tuple[int, ...]]:
    from itertools import combinations

    return list(combinations(range(n), size))


def _code(partitions: tuple[int, ...]) -> int:
    return sum(1 << p for p in partitions)
