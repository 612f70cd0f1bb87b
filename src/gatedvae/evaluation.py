"""Every disentanglement metric of one trained model on a labelled data set, in one place, so
that the evaluate stage and the studies compute exactly the same numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatedvae.engine import encode_mean
from gatedvae.metrics.beta_vae_metric import beta_vae_metric
from gatedvae.metrics.dci import dci
from gatedvae.metrics.factor_vae_metric import factor_vae_metric
from gatedvae.metrics.mig import mig
from gatedvae.metrics.placement import placement
from gatedvae.models.base import VAE

REGRESSORS = {"lasso": "lasso", "rf": "random_forest"}


@dataclass
class EvalSettings:
    n_train: int = 10_000
    n_test: int = 5_000
    seed: int = 0
    lasso_alpha: float = 0.02
    rf_trees: int = 10
    rf_depth: int = 12

    @classmethod
    def from_params(cls, section: dict) -> "EvalSettings":
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})


def split_rows(n_images: int, settings: EvalSettings) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint, sorted train and test rows drawn with the evaluation seed."""
    rng = np.random.default_rng(settings.seed)
    chosen = rng.choice(n_images, settings.n_train + settings.n_test, replace=False)
    return np.sort(chosen[:settings.n_train]), np.sort(chosen[settings.n_train:])


def evaluate_model(model: VAE, images, factors: np.ndarray, *, pixel_max: int,
                   partition_sizes: list[int], intended: list[int | None], factor_names: list[str],
                   settings: EvalSettings, extra_metrics: bool = True) -> tuple[dict, dict]:
    """(metrics, importance per regressor). metrics: DCI per regressor with placement, and the
    FactorVAE / beta-VAE / MIG metrics over all evaluated codes. factors: integer classes [N, K]."""
    train_rows, test_rows = split_rows(len(images), settings)
    codes_train = encode_mean(model, images[train_rows], pixel_max=pixel_max)
    codes_test = encode_mean(model, images[test_rows], pixel_max=pixel_max)
    y = np.asarray(factors, dtype=np.float64)
    metrics, importance = {}, {}
    for key, regressor in REGRESSORS.items():
        result = dci(codes_train, y[train_rows], codes_test, y[test_rows], regressor=regressor,
                     lasso_alpha=settings.lasso_alpha, rf_trees=settings.rf_trees,
                     rf_depth=settings.rf_depth, seed=settings.seed, factor_names=factor_names)
        metrics[key] = result.to_dict()
        metrics[key]["placement"] = placement(result.importance, partition_sizes, intended,
                                              factor_names=factor_names)
        importance[key] = result.importance
    if extra_metrics:
        codes = np.concatenate([codes_train, codes_test])
        classes = np.concatenate([y[train_rows], y[test_rows]]).astype(np.int64)
        metrics["factor_vae_metric"] = factor_vae_metric(codes, classes, seed=settings.seed).to_dict()
        metrics["beta_vae_metric"] = beta_vae_metric(codes, classes, seed=settings.seed).to_dict()
        metrics["mig"] = mig(codes, classes, factor_names=factor_names).to_dict()
    return metrics, importance
