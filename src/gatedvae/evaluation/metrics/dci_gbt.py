"""DCI as disentanglement_lib computes it, so that our numbers sit beside the tables that use it
(Locatello et al. 2019 and 2020, and most papers since).

disentanglement_lib (evaluation/metrics/dci.py at commit 86a644d, `compute_importance_gbt` and
`_compute_dci`; config/unsupervised_study_v1/metric_configs/dci.gin: 10,000 train and 5,000
test points) differs from the paper's DCI (dci.py beside this file) in four ways:

- the predictor of each factor is a *classifier* of its integer classes:
  `sklearn.ensemble.GradientBoostingClassifier()` with every setting at its default (100 stages,
  learning rate 0.1, depth 3, no subsampling), fitted on the raw codes (trees do not care about
  scale); importance is its `feature_importances_`;
- informativeness is the classifier's accuracy (higher is better), on the train and the test rows;
- completeness is weighted by each factor's share of the importance, as disentanglement is by
  each code's (the paper's Table I takes the plain mean over factors);
- entropies add 1e-11 to R, so an all-zero row or column counts as uniform.

disentanglement_lib leaves the classifier's `random_state` unset (numpy's global state); we seed
it, so the same codes give the same bytes. The factors' classifiers are independent, so they run
on `n_jobs` threads with identical results at any count.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._common import as_classes, as_matrix, names_or_default, same_rows

SMOOTHING = 1e-11  # disentanglement_lib's addend to R before each entropy


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """1 - H(column)/log(base) for each column of a non-negative matrix, plus SMOOTHING as
    disentanglement_lib does (scipy.stats.entropy normalises each column)."""
    q = p + SMOOTHING
    q = q / q.sum(axis=0, keepdims=True)
    return 1.0 + (q * np.log(q)).sum(axis=0) / np.log(base)


def disentanglement_per_code(importance: np.ndarray) -> np.ndarray:
    return _one_minus_entropy(np.asarray(importance, dtype=np.float64).T, base=importance.shape[1])


def completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    return _one_minus_entropy(np.asarray(importance, dtype=np.float64), base=importance.shape[0])


def _weights(importance: np.ndarray, axis: int) -> np.ndarray:
    """Each code's (axis 1) or factor's (axis 0) share of the importance; uniform when R is all
    zero, as disentanglement_lib's `np.ones_like` fallback gives."""
    r = importance if importance.sum() > 0 else np.ones_like(importance)
    return r.sum(axis=axis) / r.sum()


def disentanglement(importance) -> float:
    """disentanglement_lib's `disentanglement`: per-code scores weighted by code importance."""
    r = as_matrix("importance", importance, min_rows=2, min_cols=2)
    return float(np.sum(disentanglement_per_code(r) * _weights(r, axis=1)))


def completeness(importance) -> float:
    """disentanglement_lib's `completeness`: per-factor scores weighted by factor importance."""
    r = as_matrix("importance", importance, min_rows=2, min_cols=2)
    return float(np.sum(completeness_per_factor(r) * _weights(r, axis=0)))


@dataclass(frozen=True)
class GBTDCIResult:
    factor_names: list[str]
    importance: np.ndarray  # [M codes, K factors]
    accuracy_train: np.ndarray  # [K]
    accuracy_test: np.ndarray  # [K]
    disentanglement: float
    completeness: float
    n_train: int
    n_test: int

    def to_dict(self) -> dict:
        """disentanglement_lib's keys (informativeness_train / _test are mean accuracies), the
        per-factor accuracies, R, and the row counts it was measured on."""
        return {
            "disentanglement": self.disentanglement,
            "completeness": self.completeness,
            "informativeness_train": float(np.mean(self.accuracy_train)),
            "informativeness_test": float(np.mean(self.accuracy_test)),
            "accuracy_test": {n: float(a) for n, a in zip(self.factor_names, self.accuracy_test)},
            "importance": [[float(v) for v in row] for row in self.importance],
            "n_train": self.n_train,
            "n_test": self.n_test,
        }


def dci_gbt(codes_train, classes_train, codes_test, classes_test, *,
            factor_names: Sequence[str] | None = None, seed: int = 0, n_jobs: int = 2) -> GBTDCIResult:
    """DCI of codes [N, M] against integer factor classes [N, K] with one gradient-boosted
    classifier per factor, exactly as disentanglement_lib's `_compute_dci` (module docstring)."""
    from sklearn.ensemble import GradientBoostingClassifier

    z_train = as_matrix("codes_train", codes_train, min_cols=2)
    z_test = as_matrix("codes_test", codes_test, min_cols=2)
    y_train = as_classes("classes_train", classes_train)
    y_test = as_classes("classes_test", classes_test, min_rows=1)
    same_rows("codes_train", z_train, "classes_train", y_train)
    same_rows("codes_test", z_test, "classes_test", y_test)
    if z_test.shape[1] != z_train.shape[1] or y_test.shape[1] != y_train.shape[1]:
        raise ValueError(f"train and test columns differ: codes {z_train.shape[1]} vs {z_test.shape[1]}, "
                         f"factors {y_train.shape[1]} vs {y_test.shape[1]}")
    k = y_train.shape[1]
    names = names_or_default(factor_names, k, "factor", "factor_names")
    single = [names[j] for j in range(k) if len(np.unique(y_train[:, j])) < 2]
    if single:
        raise ValueError(f"classes_train: factor(s) {single} take a single class on the train rows, "
                         "so no classifier can be fitted; use more rows or leave them out")

    def fit(j: int):
        model = GradientBoostingClassifier(random_state=seed).fit(z_train, y_train[:, j])
        return (np.abs(model.feature_importances_), np.mean(model.predict(z_train) == y_train[:, j]),
                np.mean(model.predict(z_test) == y_test[:, j]))

    # the factors with the most classes (one tree per class per stage) first, so two threads share
    # the work evenly; results are placed by factor index, whatever the order they finish in
    order = sorted(range(k), key=lambda j: -len(np.unique(y_train[:, j])))
    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        fitted = dict(zip(order, pool.map(fit, order)))
    importance = np.stack([fitted[j][0] for j in range(k)], axis=1)
    return GBTDCIResult(
        factor_names=names,
        importance=importance,
        accuracy_train=np.array([fitted[j][1] for j in range(k)]),
        accuracy_test=np.array([fitted[j][2] for j in range(k)]),
        disentanglement=disentanglement(importance),
        completeness=completeness(importance),
        n_train=len(z_train),
        n_test=len(z_test),
    )
