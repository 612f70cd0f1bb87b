"""Mutual Information Gap (Chen et al. 2018), with the discretisation of disentanglement_lib.

Each code dimension is discretised into `n_bins` equal-width bins over ITS OWN range (one range
for all dimensions would squash a small-scale code into one bin). For factor k with entropy
H(v_k) > 0, the gap is (largest - second largest of I(z_i; v_k) over codes) / H(v_k); the MIG is
the mean gap over factors. Mutual information uses the empirical joint distribution (nats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._common import codes_and_classes, names_or_default


@dataclass(frozen=True)
class MIGResult:
    factor_names: list[str]
    mutual_information: np.ndarray  # [M codes, K factors], nats
    factor_entropy: np.ndarray  # [K], nats
    gap: np.ndarray  # [K], normalised gap per factor
    mig: float

    def to_dict(self) -> dict:
        return {"mig": float(self.mig), "per_factor": {n: float(g) for n, g in zip(self.factor_names, self.gap)}}


def discretise(codes: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Bin index 0..n_bins-1 per value, with equal-width bins over each column's own range."""
    out = np.empty(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, i], bins=n_bins)
        out[:, i] = np.digitize(codes[:, i], edges[1:-1])
    return out


def _entropy(labels: np.ndarray) -> float:
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats for label arrays a, b with values 0..max."""
    n_b = int(b.max()) + 1
    joint = np.bincount(a * n_b + b, minlength=(int(a.max()) + 1) * n_b).reshape(-1, n_b) / len(a)
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def mig(codes, factor_classes, *, n_bins: int = 20, factor_names: Sequence[str] | None = None) -> MIGResult:
    """MIG of codes [N, M] (encoder means) against integer factor classes [N, K]."""
    z, classes = codes_and_classes(codes, factor_classes, min_codes=2)
    if n_bins < 2:
        raise ValueError(f"n_bins: expected at least 2, got {n_bins}")
    m, k = z.shape[1], classes.shape[1]
    names = names_or_default(factor_names, k, "factor", "factor_names")
    binned = discretise(z, n_bins)
    factors = np.stack([np.unique(classes[:, j], return_inverse=True)[1].reshape(-1) for j in range(k)], axis=1)

    entropy = np.array([_entropy(factors[:, j]) for j in range(k)])
    constant = [names[j] for j in range(k) if entropy[j] == 0]
    if constant:
        raise ValueError(f"factor_classes: factor(s) {constant} are constant; MIG normalises by factor entropy")
    mi = np.array([[_mutual_information(binned[:, i], factors[:, j]) for j in range(k)] for i in range(m)])
    top_two = -np.sort(-mi, axis=0)[:2]
    gap = (top_two[0] - top_two[1]) / entropy
    return MIGResult(names, mi, entropy, gap, float(gap.mean()))
