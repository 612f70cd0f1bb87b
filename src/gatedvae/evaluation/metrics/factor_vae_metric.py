"""The FactorVAE disentanglement metric (Kim & Mnih 2018, section 4 and appendix B).

A vote: pick a factor k, draw L samples that share one class of k (others vary), take their
codes divided by each dimension's empirical std over the whole code table, and find the active
dimension with the smallest variance. A majority-vote classifier maps each dimension to the
factor it was most often the argmin for; the metric is its accuracy on held-out votes.

Works from precomputed codes of a dataset (see RowsByClass for why drawing rows from the table is
the paper's sampler when the table is the full factor grid or a uniform subset of it).

Details, each guarding against a known mistake:
- collapsed dimensions (std over the table below `prune_std`) are pruned before the argmin, and
  the argmin over the active dimensions is mapped back to the ORIGINAL dimension index (indexing
  all dimensions with a position among the active ones mislabels the votes);
- each dimension is normalised by its global std, so rescaling a code does not change the score;
- the variance within a batch uses ddof=1 (as disentanglement_lib does);
- a dimension that got no training votes predicts no factor (counted wrong), rather than argmax's
  default of factor 0, which would hand out free accuracy.
If every dimension is collapsed the metric is 0 (no classifier can be built).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import RowsByClass, codes_and_classes


@dataclass(frozen=True)
class FactorVAEMetricResult:
    train_accuracy: float
    eval_accuracy: float
    active_dims: np.ndarray  # original indices of the dimensions kept
    votes: np.ndarray  # [M dims, K factors] training votes, rows by original dimension index
    dim_to_factor: np.ndarray  # [M], the majority-vote classifier; -1 where a dim got no votes

    def to_dict(self) -> dict:
        return {
            "train_accuracy": float(self.train_accuracy),
            "eval_accuracy": float(self.eval_accuracy),
            "n_active_dims": int(len(self.active_dims)),
        }


def _draw_votes(z_active, active, index: RowsByClass, n_votes, batch_size, rng):
    """(factor, argmin dimension as an original index) for n_votes votes."""
    factor = rng.integers(index.n_factors, size=n_votes)
    dim = np.empty(n_votes, dtype=np.int64)
    for k in range(index.n_factors):
        sel = np.flatnonzero(factor == k)
        if len(sel) == 0:
            continue
        anchors = rng.integers(index.n_rows, size=len(sel))
        rows = index.draw_sharing(k, anchors, batch_size, rng)  # [votes, L]
        variance = z_active[rows].var(axis=1, ddof=1)  # [votes, active dims]
        dim[sel] = active[variance.argmin(axis=1)]
    return factor, dim


def factor_vae_metric(
    codes,
    factor_classes,
    *,
    n_train_votes: int = 800,
    n_eval_votes: int = 800,
    batch_size: int = 64,
    seed: int = 0,
    prune_std: float = 0.05,
) -> FactorVAEMetricResult:
    """FactorVAE metric of codes [N, M] (encoder means) against integer factor classes [N, K]."""
    z, classes = codes_and_classes(codes, factor_classes)
    if batch_size < 2:
        raise ValueError(f"batch_size: expected at least 2 samples per vote (a variance needs two), got {batch_size}")
    if n_train_votes < 1 or n_eval_votes < 1:
        raise ValueError(f"n_train_votes and n_eval_votes: expected at least 1, got {n_train_votes}, {n_eval_votes}")
    index = RowsByClass(classes)
    single = [k for k in range(index.n_factors) if index.n_classes(k) < 2]
    if single:
        raise ValueError(f"factor_classes: factor column(s) {single} have a single class; every factor must vary")

    m, k = z.shape[1], classes.shape[1]
    scale = z.std(axis=0)
    active = np.flatnonzero(scale >= prune_std)
    votes = np.zeros((m, k), dtype=np.int64)
    if len(active) == 0:
        return FactorVAEMetricResult(0.0, 0.0, active, votes, np.full(m, -1))

    z_active = z[:, active] / scale[active]
    rng = np.random.default_rng(seed)
    train_factor, train_dim = _draw_votes(z_active, active, index, n_train_votes, batch_size, rng)
    eval_factor, eval_dim = _draw_votes(z_active, active, index, n_eval_votes, batch_size, rng)

    np.add.at(votes, (train_dim, train_factor), 1)
    dim_to_factor = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)
    return FactorVAEMetricResult(
        train_accuracy=float(votes.max(axis=1).sum() / n_train_votes),
        eval_accuracy=float(np.mean(dim_to_factor[eval_dim] == eval_factor)),
        active_dims=active,
        votes=votes,
        dim_to_factor=dim_to_factor,
    )
