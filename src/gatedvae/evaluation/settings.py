"""How a model is scored: the sizes, seed and regressors of the evaluation, and its train/test
rows. No torch import (params validation uses it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatedvae.params import check, number

# the metrics' key for each DCI regressor -> its name in gatedvae.evaluation.metrics.dci
REGRESSORS = {"lasso": "lasso", "rf": "random_forest"}


@dataclass
class EvalSettings:
    n_train: int = 10_000
    n_test: int = 5_000
    seed: int = 0
    lasso_alpha: float = 0.02
    rf_trees: int = 10
    rf_depth: int = 12
    gbt_n_train: int = 0  # DCI with gradient-boosted trees (disentanglement_lib's) on this many
    gbt_n_test: int = 0   # of the train and test rows; 0: not computed

    @classmethod
    def from_params(cls, params: dict, key: str, *, n_images: int | None = None) -> "EvalSettings":
        """The validated `key` section (e.g. dsprites.evaluate); with n_images, the train and
        test rows must fit in the data."""
        settings = cls(
            n_train=number(params, f"{key}.n_train", integer=True, positive=True),
            n_test=number(params, f"{key}.n_test", integer=True, positive=True),
            seed=number(params, f"{key}.seed", integer=True, minimum=0),
            lasso_alpha=number(params, f"{key}.lasso_alpha", positive=True),
            rf_trees=number(params, f"{key}.rf_trees", integer=True, positive=True),
            rf_depth=number(params, f"{key}.rf_depth", integer=True, positive=True))
        # dSprites only (schema.py): it needs integer factor classes; absent means not computed
        settings.gbt_n_train = number(params, f"{key}.gbt_n_train", integer=True, minimum=0, default=0)
        settings.gbt_n_test = number(params, f"{key}.gbt_n_test", integer=True, minimum=0, default=0)
        for part in ("train", "test"):
            check(getattr(settings, f"gbt_n_{part}") <= getattr(settings, f"n_{part}"),
                  f"{key}.gbt_n_{part}", f"must not exceed {key}.n_{part} "
                  f"({getattr(settings, f'n_{part}')}): its rows are drawn from those")
        check((settings.gbt_n_train == 0) == (settings.gbt_n_test == 0), f"{key}.gbt_n_test",
              "and gbt_n_train must both be 0 (no gradient-boosted DCI) or both positive")
        if n_images is not None:
            check(settings.n_train + settings.n_test <= n_images, f"{key}.n_train",
                  f"+ {key}.n_test ({settings.n_train} + {settings.n_test}) exceed the data "
                  f"({n_images} images)")
        return settings


def gbt_rows(n_rows: int, n_wanted: int, seed: int) -> np.ndarray:
    """A seeded random, sorted subset of n_wanted of range(n_rows): the rows of the train (or
    test) split the gradient-boosted DCI uses. Random, not the first ones, since rows may be
    ordered by factor."""
    return np.sort(np.random.default_rng(seed).choice(n_rows, n_wanted, replace=False))


def split_rows(n_images: int, settings: EvalSettings) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint, sorted train and test rows drawn with the evaluation seed."""
    rng = np.random.default_rng(settings.seed)
    chosen = rng.choice(n_images, settings.n_train + settings.n_test, replace=False)
    return np.sort(chosen[:settings.n_train]), np.sort(chosen[settings.n_train:])
