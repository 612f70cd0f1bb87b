"""Every disentanglement metric of one trained model on a labelled data set, in one place, so
that the evaluate stage and the studies compute exactly the same numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gatedvae.engine import encode_mean, resolve_device
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


@torch.no_grad()
def reconstruction_and_elbo(model: VAE, images, *, pixel_max: int, seed: int = 0,
                            batch_size: int = 1024, device: str = "auto") -> dict:
    """Held-out reconstruction error and ELBO of a plain forward pass (x' = x), in nats per image
    (sums over pixels and latent dims, means over images):
      recon_bce  -log p(x | z = mu): the Bernoulli NLL of the decoded posterior mean;
      kl         KL(q(z|x) || N(0, I));
      elbo       E_q[log p(x|z)] - KL, with one sample of z per image from a generator seeded by
                 `seed` (the same noise on every device, so the number is reproducible);
      recon_sampled  -log p(x|z) at that sample (elbo = -(recon_sampled + kl)).
    Gated or not, a model is scored as the VAE it is at test time."""
    dev = resolve_device(device)
    model.to(dev).eval()
    generator = torch.Generator().manual_seed(seed)
    totals = {"recon_bce": 0.0, "recon_sampled": 0.0, "kl": 0.0}
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.array(images[start:start + batch_size], dtype=np.uint8)).to(dev)
        x = batch.unsqueeze(1).float().mul_(1.0 / pixel_max)
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=generator).to(dev)
        z = mu + eps * torch.exp(0.5 * logvar)
        for key, code in (("recon_bce", mu), ("recon_sampled", z)):
            totals[key] += float(F.binary_cross_entropy_with_logits(model.decode(code), x, reduction="sum"))
        totals["kl"] += float((0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum())
    n = len(images)
    if n == 0:
        raise ValueError("reconstruction_and_elbo: no images to score")
    out = {key: value / n for key, value in totals.items()}
    out["elbo"] = -(out["recon_sampled"] + out["kl"])
    return out


def evaluate_model(model: VAE, images, factors: np.ndarray, *, pixel_max: int,
                   partition_sizes: list[int], intended: list[int | None], factor_names: list[str],
                   settings: EvalSettings, extra_metrics: bool = True) -> tuple[dict, dict]:
    """(metrics, importance per regressor). metrics: DCI per regressor with placement, the
    FactorVAE / beta-VAE / MIG metrics over all evaluated codes, and `test`: the reconstruction
    error and ELBO on the test rows (reconstruction_and_elbo). factors: integer classes [N, K]."""
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
    metrics["test"] = reconstruction_and_elbo(model, images[test_rows], pixel_max=pixel_max,
                                              seed=settings.seed)
    return metrics, importance
