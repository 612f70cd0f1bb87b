"""SAP score (Kumar, Sattigeri & Balakrishnan 2018, "Variational Inference of Disentangled Latent
Concepts from Unlabeled Observations", section 3), computed as disentanglement_lib computes it
(`evaluation/metrics/sap_score.py`; its studies' setting `continuous_factors=False`, 10,000
training and 5,000 test points).

A score matrix S [M codes, K factors]: for a discrete factor, S[i, j] is the test accuracy of a
linear SVM (scikit-learn's LinearSVC, C = 0.01, balanced class weights) that predicts factor j
from code i alone, trained on the training points; for a continuous factor, the squared
correlation of code i and factor j on the training points (0 for a constant code). SAP is the
mean over factors of the gap between the two largest scores in the factor's column: high when
each factor is captured by one code far better than by any other.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._common import as_matrix, codes_and_classes, names_or_default, same_rows

SVM_C = 0.01   # disentanglement_lib's LinearSVC(C=0.01, class_weight="balanced")


@dataclass(frozen=True)
class SAPResult:
    factor_names: list[str]
    score_matrix: np.ndarray  # [M codes, K factors]
    gap: np.ndarray           # [K]: largest minus second largest score per factor
    sap: float

    def to_dict(self) -> dict:
        return {"sap": float(self.sap), "per_factor": {n: float(g) for n, g in zip(self.factor_names, self.gap)}}


def score_matrix(codes_train, factors_train, codes_test, factors_test, *, continuous: bool) -> np.ndarray:
    """S [M, K] (see the module docstring)."""
    m, k = codes_train.shape[1], factors_train.shape[1]
    out = np.zeros((m, k))
    for i in range(m):
        for j in range(k):
            if continuous:
                cov = np.cov(codes_train[:, i], factors_train[:, j], ddof=1)
                out[i, j] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]) if cov[0, 0] > 1e-12 else 0.0
            elif np.unique(factors_train[:, j]).size < 2:
                out[i, j] = 0.0   # nothing to classify (disentanglement_lib's SVM would refuse)
            else:
                from sklearn.svm import LinearSVC

                # a fixed random_state (disentanglement_lib leaves it unset): same codes, same score
                classifier = LinearSVC(C=SVM_C, class_weight="balanced", random_state=0)
                with warnings.catch_warnings():   # liblinear's iteration cap on 1-D data
                    warnings.simplefilter("ignore")
                    classifier.fit(codes_train[:, i:i + 1], factors_train[:, j])
                out[i, j] = float(np.mean(classifier.predict(codes_test[:, i:i + 1]) == factors_test[:, j]))
    return out


def top_two_gap(matrix: np.ndarray) -> np.ndarray:
    """Per column: largest minus second largest value (0 with a single row)."""
    if matrix.shape[0] < 2:
        return np.zeros(matrix.shape[1])
    ordered = np.sort(matrix, axis=0)
    return ordered[-1] - ordered[-2]


def sap(codes_train, factors_train, codes_test=None, factors_test=None, *, continuous: bool = False,
        factor_names: Sequence[str] | None = None) -> SAPResult:
    """SAP of codes [N, M] (encoder means) against factors [N, K]: integer classes when
    `continuous` is False (the test points are then required), else real values (the training
    points only, as disentanglement_lib)."""
    if continuous:
        z = as_matrix("codes_train", codes_train)
        y = as_matrix("factors_train", factors_train)
        same_rows("codes_train", z, "factors_train", y)
        z_test = y_test = None
    else:
        if codes_test is None or factors_test is None:
            raise ValueError("codes_test, factors_test: discrete SAP scores the SVMs on held-out points")
        z, y = codes_and_classes(codes_train, factors_train)
        z_test, y_test = codes_and_classes(codes_test, factors_test)
        if z_test.shape[1] != z.shape[1] or y_test.shape[1] != y.shape[1]:
            raise ValueError(f"test codes/factors have {z_test.shape[1]}/{y_test.shape[1]} columns, "
                             f"training ones {z.shape[1]}/{y.shape[1]}; they must match")
    names = names_or_default(factor_names, y.shape[1], "factor", "factor_names")
    matrix = score_matrix(z, y, z_test, y_test, continuous=continuous)
    gap = top_two_gap(matrix)
    return SAPResult(names, matrix, gap, float(gap.mean()))
