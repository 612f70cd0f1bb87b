"""Disentanglement, completeness and informativeness (Eastwood & Williams, 2018), as the
Gated-VAE paper (section IV.A.1) uses them.

One regressor per ground-truth factor predicts the factor from the codes; its importances
form R [M codes, K factors]. From R:

- disentanglement of code i: D_i = 1 - H_K(P_i.), P_ij = R_ij / sum_k R_ik (entropy in base K);
- code weight rho_i = sum_k R_ik / sum R; the paper's Table I reports sum_i rho_i D_i;
- completeness of factor j: C_j = 1 - H_M(P~.j), P~_ij = R_ij / sum_i R_ij (base M); Table I
  reports the plain mean over factors;
- informativeness of factor j: NRMSE on the test set = RMSE / std of the target there (lower is
  better; ~0 when predicted perfectly, ~1 when predicted no better than its mean); Table I reports
  the plain mean over factors.

Edge cases, chosen to match Eastwood & Williams' reference code (which adds 1e-11 to R, turning
an all-zero row or column into a uniform one): a code with zero importance for every factor has
D = 0 and weight 0, so it does not move the average; a factor with zero importance on every code
has C = 0; if R is all zero the weighted disentanglement average is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ._common import as_matrix, names_or_default, same_rows
from ..settings import REGRESSORS


@dataclass(frozen=True)
class ImportanceScores:
    """What R alone determines: per-code disentanglement and weights, per-factor completeness."""

    disentanglement: np.ndarray  # [M]
    code_weight: np.ndarray  # [M], sums to 1 unless R is all zero
    completeness: np.ndarray  # [K]
    disentanglement_avg: float  # code-weighted mean (Table I)
    completeness_avg: float  # plain mean over factors (Table I)


def _one_minus_entropy(p_rows: np.ndarray, base: int) -> np.ndarray:
    """1 - H(p)/log(base) per row of a non-negative matrix; an all-zero row scores 0."""
    totals = p_rows.sum(axis=1, keepdims=True)
    nonzero = totals[:, 0] > 0
    p = np.divide(p_rows, totals, out=np.zeros_like(p_rows), where=totals > 0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    entropy = -plogp.sum(axis=1) / np.log(base)
    return np.where(nonzero, 1.0 - entropy, 0.0)


def dci_from_importance(importance) -> ImportanceScores:
    """Disentanglement and completeness from an importance matrix R [M codes, K factors]."""
    r = as_matrix("importance", importance, min_rows=2, min_cols=2)
    if (r < 0).any():
        raise ValueError("importance: expected non-negative values (absolute coefficients or feature importances)")
    m, k = r.shape
    disentanglement = _one_minus_entropy(r, base=k)
    completeness = _one_minus_entropy(r.T, base=m)
    total = r.sum()
    code_weight = r.sum(axis=1) / total if total > 0 else np.zeros(m)
    return ImportanceScores(
        disentanglement=disentanglement,
        code_weight=code_weight,
        completeness=completeness,
        disentanglement_avg=float(np.sum(code_weight * disentanglement)),
        completeness_avg=float(np.mean(completeness)),
    )


@dataclass(frozen=True)
class DCIResult:
    regressor: str
    factor_names: list[str]
    importance: np.ndarray  # [M codes, K factors]
    disentanglement: np.ndarray  # [M]
    code_weight: np.ndarray  # [M]
    completeness: np.ndarray  # [K]
    informativeness: np.ndarray  # [K], NRMSE on the test set
    disentanglement_avg: float
    completeness_avg: float
    informativeness_avg: float

    def to_dict(self) -> dict:
        """Plain-JSON nested dict, e.g. d["completeness"]["per_factor"]["shape"]; numbers only, so
        the caller nests it under its regressor key (lasso, rf) for `dvc metrics diff`."""
        def per_factor(values):
            return {name: float(v) for name, v in zip(self.factor_names, values)}

        return {
            "disentanglement": {
                "avg": float(self.disentanglement_avg),
                "per_code": [float(v) for v in self.disentanglement],
                "code_weight": [float(v) for v in self.code_weight],
            },
            "completeness": {"avg": float(self.completeness_avg), "per_factor": per_factor(self.completeness)},
            "informativeness": {"avg": float(self.informativeness_avg), "per_factor": per_factor(self.informativeness)},
            "importance": [[float(v) for v in row] for row in self.importance],
        }


def _zscore_with(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Z-score with the train statistics; a constant train column maps to 0 (std guarded to 1)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def _make_regressor(regressor: str, lasso_alpha: float, rf_trees: int, rf_depth: int, seed: int, n_jobs: int):
    if regressor == "lasso":
        from sklearn.linear_model import Lasso

        return Lasso(alpha=lasso_alpha)
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=rf_trees, max_depth=rf_depth, random_state=seed, n_jobs=n_jobs)


def dci(
    codes_train,
    factors_train,
    codes_test,
    factors_test,
    *,
    regressor: str = "lasso",
    lasso_alpha: float = 0.02,
    rf_trees: int = 10,
    rf_depth: int = 12,
    seed: int = 0,
    factor_names: Sequence[str] | None = None,
    n_jobs: int = 2,
) -> DCIResult:
    """DCI of codes [N, M] against factors [N, K] (values or classes), one regressor per factor.

    Codes and factors are z-scored with train statistics. Importance is |coef| (Lasso) or
    feature_importances_ (random forest). Informativeness is measured on the test set.
    """
    if regressor not in REGRESSORS.values():
        raise ValueError(f"regressor: expected one of {tuple(REGRESSORS.values())}, got {regressor!r}")
    z_train = as_matrix("codes_train", codes_train, min_cols=2)
    v_train = as_matrix("factors_train", factors_train, min_cols=2)
    z_test = as_matrix("codes_test", codes_test, min_cols=2)
    v_test = as_matrix("factors_test", factors_test, min_cols=2)
    same_rows("codes_train", z_train, "factors_train", v_train)
    same_rows("codes_test", z_test, "factors_test", v_test)
    if z_test.shape[1] != z_train.shape[1]:
        raise ValueError(f"codes_test has {z_test.shape[1]} columns but codes_train has {z_train.shape[1]}")
    if v_test.shape[1] != v_train.shape[1]:
        raise ValueError(f"factors_test has {v_test.shape[1]} columns but factors_train has {v_train.shape[1]}")
    m, k = z_train.shape[1], v_train.shape[1]
    names = names_or_default(factor_names, k, "factor", "factor_names")
    constant = [names[j] for j in range(k) if np.all(v_test[:, j] == v_test[0, j])]
    if constant:
        raise ValueError(
            f"factors_test: factor(s) {constant} are constant on the test set, so their NRMSE is undefined; "
            "use a test set where they vary or leave them out"
        )
    z_train, z_test = _zscore_with(z_train, z_test)
    v_train, v_test = _zscore_with(v_train, v_test)

    importance = np.zeros((m, k))
    nrmse = np.zeros(k)
    for j in range(k):
        model = _make_regressor(regressor, lasso_alpha, rf_trees, rf_depth, seed, n_jobs)
        model.fit(z_train, v_train[:, j])
        importance[:, j] = np.abs(model.coef_) if regressor == "lasso" else model.feature_importances_
        if regressor != "lasso":  # a forest's threads add their trees' predictions in the order they
            model.set_params(n_jobs=1)  # finish; one thread adds them in tree order, the same every run
        rmse = np.sqrt(np.mean((model.predict(z_test) - v_test[:, j]) ** 2))
        nrmse[j] = rmse / v_test[:, j].std()

    scores = dci_from_importance(importance)
    return DCIResult(
        regressor=regressor,
        factor_names=names,
        importance=importance,
        disentanglement=scores.disentanglement,
        code_weight=scores.code_weight,
        completeness=scores.completeness,
        informativeness=nrmse,
        disentanglement_avg=scores.disentanglement_avg,
        completeness_avg=scores.completeness_avg,
        informativeness_avg=float(np.mean(nrmse)),
    )
