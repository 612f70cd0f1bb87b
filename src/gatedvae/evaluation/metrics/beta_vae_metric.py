"""The beta-VAE disentanglement metric (Higgins et al. 2017), as FactorVAE's paper describes it.

A point: pick a factor k; draw L pairs of samples that share the class of k (all else varies);
the feature is the mean over pairs of |z1 - z2| per code dimension, the label is k. A linear
classifier (standardised features, multinomial logistic regression) is fit on training points;
the metric is its accuracy on held-out points.

Works from precomputed codes of a dataset: the first of a pair is a uniform row, the second a
uniform row sharing its class of k (see RowsByClass). Guards against known mistakes: the pair
shares the chosen factor (not "differs only in it", the older variant); differences are absolute
(signed differences average to ~0 in every dimension); and lbfgs on standardised features replaces
the original's Adagrad, whose score kept changing with the iteration count (FactorVAE paper,
appendix B). Known failure mode, kept visible in the tests: ignoring one factor entirely can still
score ~100%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import RowsByClass, codes_and_classes


@dataclass(frozen=True)
class BetaVAEMetricResult:
    train_accuracy: float
    eval_accuracy: float

    def to_dict(self) -> dict:
        return {"train_accuracy": float(self.train_accuracy), "eval_accuracy": float(self.eval_accuracy)}


def draw_pair_features(z, index: RowsByClass, n_points: int, batch_size: int, rng: np.random.Generator):
    """(features [n, M] = mean |z1 - z2| over batch_size pairs sharing factor k, labels k [n])."""
    labels = rng.integers(index.n_factors, size=n_points)
    features = np.empty((n_points, z.shape[1]))
    for k in range(index.n_factors):
        sel = np.flatnonzero(labels == k)
        if len(sel) == 0:
            continue
        first = rng.integers(index.n_rows, size=(len(sel), batch_size))
        second = index.draw_sharing(k, first.reshape(-1), 1, rng).reshape(first.shape)
        features[sel] = np.abs(z[first] - z[second]).mean(axis=1)
    return features, labels


def beta_vae_metric(
    codes,
    factor_classes,
    *,
    n_train_points: int = 10_000,
    n_eval_points: int = 5_000,
    batch_size: int = 64,
    seed: int = 0,
) -> BetaVAEMetricResult:
    """beta-VAE metric of codes [N, M] (encoder means) against integer factor classes [N, K]."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z, classes = codes_and_classes(codes, factor_classes)
    if batch_size < 1 or n_train_points < 2 or n_eval_points < 1:
        raise ValueError(
            f"batch_size, n_train_points, n_eval_points: expected >= 1, >= 2, >= 1, got "
            f"{batch_size}, {n_train_points}, {n_eval_points}"
        )
    index = RowsByClass(classes)
    rng = np.random.default_rng(seed)
    x_train, y_train = draw_pair_features(z, index, n_train_points, batch_size, rng)
    x_eval, y_eval = draw_pair_features(z, index, n_eval_points, batch_size, rng)
    if len(np.unique(y_train)) < 2:
        raise ValueError("n_train_points: too few training points to see two factors; draw more")
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    classifier.fit(x_train, y_train)
    return BetaVAEMetricResult(
        train_accuracy=float(classifier.score(x_train, y_train)),
        eval_accuracy=float(classifier.score(x_eval, y_eval)),
    )
