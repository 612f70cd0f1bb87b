"""Modularity and explicitness (Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings With
the F-Statistic Loss", section 3), computed as disentanglement_lib computes them
(`evaluation/metrics/modularity_explicitness.py`; 10,000 training and 5,000 test points, codes
discretised into 20 equal-width bins per dimension).

Modularity: with m[i, j] the mutual information between code i (discretised over the training
points, each dimension over its own range, as for MIG) and factor j, and theta_i = max_j m[i, j],
a code's deviation from a code that carries one factor only is
delta_i = (sum_j m[i, j]^2 - theta_i^2) / (theta_i^2 (K - 1)); modularity is the mean over codes
of 1 - delta_i (0 for a code that carries nothing). 1: every code carries at most one factor.

Explicitness: per factor, a logistic regression (scikit-learn's defaults, as disentanglement_lib)
from all the codes, standardised with the training points' mean and std, to the factor's
classes; its macro-averaged one-vs-rest ROC AUC on the training and on the test points, and the
mean over factors. 1: every factor is linearly readable from the codes; 0.5: not at all. (A class
missing from a set has no AUC there and is left out of that set's average; disentanglement_lib
fails on it instead.)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._common import codes_and_classes, names_or_default
from .mig import _mutual_information, discretise

N_BINS = 20


@dataclass(frozen=True)
class ModularityExplicitnessResult:
    factor_names: list[str]
    mutual_information: np.ndarray     # [M codes, K factors], nats
    modularity_per_code: np.ndarray    # [M]
    explicitness_train: np.ndarray     # [K]
    explicitness_test: np.ndarray      # [K]

    @property
    def modularity(self) -> float:
        return float(self.modularity_per_code.mean())

    def to_dict(self) -> dict:
        return {"modularity": self.modularity,
                "explicitness_train": float(np.nanmean(self.explicitness_train)),
                "explicitness_test": float(np.nanmean(self.explicitness_test)),
                "explicitness_per_factor": {n: float(v) for n, v in zip(self.factor_names, self.explicitness_test)}}


def modularity_per_code(mutual_information: np.ndarray) -> np.ndarray:
    """1 - delta_i per code from the mutual information [M, K] (0 where a code carries nothing)."""
    squared = np.square(np.asarray(mutual_information, dtype=np.float64))
    k = squared.shape[1]
    if k < 2:
        raise ValueError("modularity needs at least 2 factors (a code cannot mix one)")
    top = squared.max(axis=1)
    out = np.zeros(len(squared))
    carries = top > 0
    out[carries] = 1.0 - (squared[carries].sum(axis=1) - top[carries]) / (top[carries] * (k - 1))
    return out


def macro_auc(classes: np.ndarray, probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean one-vs-rest ROC AUC over the classes present with both outcomes in `labels`."""
    from sklearn.metrics import roc_auc_score

    scores = [roc_auc_score(labels == c, probabilities[:, i]) for i, c in enumerate(classes)
              if 0 < (labels == c).sum() < len(labels)]
    return float(np.mean(scores)) if scores else float("nan")


def modularity_explicitness(codes_train, factors_train, codes_test, factors_test, *, n_bins: int = N_BINS,
                            factor_names: Sequence[str] | None = None) -> ModularityExplicitnessResult:
    """Modularity and explicitness of codes [N, M] against integer factor classes [N, K]."""
    from sklearn.linear_model import LogisticRegression

    z, y = codes_and_classes(codes_train, factors_train)
    z_test, y_test = codes_and_classes(codes_test, factors_test)
    if z_test.shape[1] != z.shape[1] or y_test.shape[1] != y.shape[1]:
        raise ValueError(f"test codes/factors have {z_test.shape[1]}/{y_test.shape[1]} columns, "
                         f"training ones {z.shape[1]}/{y.shape[1]}; they must match")
    k = y.shape[1]
    names = names_or_default(factor_names, k, "factor", "factor_names")
    binned = discretise(z, n_bins)
    factors = np.stack([np.unique(y[:, j], return_inverse=True)[1].reshape(-1) for j in range(k)], axis=1)
    mi = np.array([[_mutual_information(binned[:, i], factors[:, j]) for j in range(k)]
                   for i in range(z.shape[1])])
    mean, std = z.mean(axis=0), z.std(axis=0)
    std = np.where(std > 0, std, 1.0)   # a constant code: disentanglement_lib would divide by 0
    x, x_test = (z - mean) / std, (z_test - mean) / std
    train_auc, test_auc = np.full(k, np.nan), np.full(k, np.nan)
    for j in range(k):
        if np.unique(y[:, j]).size < 2:
            continue
        with warnings.catch_warnings():   # lbfgs's iteration cap, as in disentanglement_lib
            warnings.simplefilter("ignore")
            model = LogisticRegression().fit(x, y[:, j])
        train_auc[j] = macro_auc(model.classes_, model.predict_proba(x), y[:, j])
        test_auc[j] = macro_auc(model.classes_, model.predict_proba(x_test), y_test[:, j])
    return ModularityExplicitnessResult(names, mi, modularity_per_code(mi), train_auc, test_auc)
