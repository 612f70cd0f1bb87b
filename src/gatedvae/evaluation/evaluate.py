"""One evaluation path for every dataset: the disentanglement metrics of codes against their
factors (`evaluate_codes`), of a trained model on a labelled data set (`evaluate_model`), and its
held-out reconstruction error and ELBO, so that every stage and study computes the same numbers."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gatedvae import timing
from gatedvae.evaluation.metrics.beta_vae_metric import beta_vae_metric
from gatedvae.evaluation.metrics.dci import dci
from gatedvae.evaluation.metrics.dci_gbt import dci_gbt
from gatedvae.evaluation.metrics.factor_vae_metric import factor_vae_metric
from gatedvae.evaluation.metrics.mig import mig
from gatedvae.evaluation.metrics.modularity_explicitness import modularity_explicitness
from gatedvae.evaluation.metrics.placement import placement
from gatedvae.evaluation.metrics.sap import sap
from gatedvae.evaluation.settings import REGRESSORS, EvalSettings, gbt_rows, split_rows  # noqa: F401
from gatedvae.training.infer import encode_mean, resolve_device, to_float
from gatedvae.training.models.base import VAE
from gatedvae.training.objectives import kl_to_standard_normal


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
    with timing.phase("test ELBO"):
        return _reconstruction_and_elbo(model, images, pixel_max=pixel_max, seed=seed,
                                        batch_size=batch_size, device=device)


def _reconstruction_and_elbo(model: VAE, images, *, pixel_max: int, seed: int, batch_size: int,
                             device: str) -> dict:
    dev = resolve_device(device)
    model.to(dev).eval()
    generator = torch.Generator().manual_seed(seed)
    totals = {"recon_bce": 0.0, "recon_sampled": 0.0, "kl": 0.0}
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.array(images[start:start + batch_size], dtype=np.uint8)).to(dev)
        x = to_float(batch, pixel_max)
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=generator).to(dev)
        z = mu + eps * torch.exp(0.5 * logvar)
        for key, code in (("recon_bce", mu), ("recon_sampled", z)):
            totals[key] += float(F.binary_cross_entropy_with_logits(model.decode(code), x, reduction="sum"))
        totals["kl"] += float(kl_to_standard_normal(mu, logvar).sum())
    n = len(images)
    if n == 0:
        raise ValueError("reconstruction_and_elbo: no images to score")
    out = {key: value / n for key, value in totals.items()}
    out["elbo"] = -(out["recon_sampled"] + out["kl"])
    return out


def evaluate_codes(codes_train: np.ndarray, factors_train: np.ndarray, codes_test: np.ndarray,
                   factors_test: np.ndarray, *, partition_sizes: list[int],
                   intended: list[int | None], factor_names: list[str], settings: EvalSettings,
                   extra_metrics: bool = True, gbt_dci: bool = True) -> tuple[dict, dict]:
    """(metrics, importance per regressor) of codes (posterior means) against their factors.

    metrics[<lasso|rf>]: DCI (Eastwood & Williams) with `placement`, the share of each factor's
    importance inside its intended partition. extra_metrics: the FactorVAE, beta-VAE and MIG
    metrics over all the codes, and SAP, modularity and explicitness (disentanglement_lib's
    definitions: trained on the train rows, scored on the test rows), which need integer factor
    classes; with gbt_dci too, `dci_gbt`, DCI as disentanglement_lib computes it, on
    settings.gbt_n_train / gbt_n_test seeded random rows of the train / test rows (none when 0;
    about 16 s a model at 1,000 rows on two cores, 2.5 min at disentanglement_lib's 10,000)."""
    y_train = np.asarray(factors_train, dtype=np.float64)
    y_test = np.asarray(factors_test, dtype=np.float64)
    if len(codes_train) != len(y_train) or len(codes_test) != len(y_test):
        raise ValueError(f"codes and factors must have one row per image: train {len(codes_train)} "
                         f"vs {len(y_train)}, test {len(codes_test)} vs {len(y_test)}")
    metrics, importance = {}, {}
    for key, regressor in REGRESSORS.items():
        with timing.phase(f"DCI ({key})"):
            result = dci(codes_train, y_train, codes_test, y_test, regressor=regressor,
                         lasso_alpha=settings.lasso_alpha, rf_trees=settings.rf_trees,
                         rf_depth=settings.rf_depth, seed=settings.seed, factor_names=factor_names)
        metrics[key] = result.to_dict()
        metrics[key]["placement"] = placement(result.importance, partition_sizes, intended,
                                              factor_names=factor_names)
        importance[key] = result.importance
    if extra_metrics:
        codes = np.concatenate([codes_train, codes_test])
        classes = np.concatenate([y_train, y_test]).astype(np.int64)
        with timing.phase("FactorVAE metric"):
            metrics["factor_vae_metric"] = factor_vae_metric(codes, classes, seed=settings.seed).to_dict()
        with timing.phase("beta-VAE metric"):
            metrics["beta_vae_metric"] = beta_vae_metric(codes, classes, seed=settings.seed).to_dict()
        with timing.phase("MIG"):
            metrics["mig"] = mig(codes, classes, factor_names=factor_names).to_dict()
        classes_train, classes_test = y_train.astype(np.int64), y_test.astype(np.int64)
        with timing.phase("SAP"):
            metrics["sap"] = sap(codes_train, classes_train, codes_test, classes_test,
                                 factor_names=factor_names).to_dict()
        with timing.phase("modularity, explicitness"):
            metrics["modularity_explicitness"] = modularity_explicitness(
                codes_train, classes_train, codes_test, classes_test, factor_names=factor_names).to_dict()
        if gbt_dci and settings.gbt_n_train > 0:
            train = gbt_rows(len(codes_train), settings.gbt_n_train, settings.seed)
            test = gbt_rows(len(codes_test), settings.gbt_n_test, settings.seed + 1)
            with timing.phase("DCI (gradient-boosted trees)"):
                metrics["dci_gbt"] = dci_gbt(codes_train[train], classes_train[train], codes_test[test],
                                             classes_test[test], factor_names=factor_names,
                                             seed=settings.seed).to_dict()
    return metrics, importance


def evaluate_model(model: VAE, images, factors: np.ndarray, *, pixel_max: int,
                   partition_sizes: list[int], intended: list[int | None], factor_names: list[str],
                   settings: EvalSettings, extra_metrics: bool = True,
                   gbt_dci: bool = True) -> tuple[dict, dict]:
    """(metrics, importance per regressor) of a model on images with their factors [N, K] (row i
    of factors describes image i): evaluate_codes on the split_rows train and test rows, plus
    `test`, the reconstruction error and ELBO on the test rows (reconstruction_and_elbo)."""
    if len(factors) != len(images):
        raise ValueError(f"factors have {len(factors)} rows but there are {len(images)} images")
    train_rows, test_rows = split_rows(len(images), settings)
    y = np.asarray(factors, dtype=np.float64)
    metrics, importance = evaluate_codes(
        encode_mean(model, images[train_rows], pixel_max=pixel_max), y[train_rows],
        encode_mean(model, images[test_rows], pixel_max=pixel_max), y[test_rows],
        partition_sizes=partition_sizes, intended=intended, factor_names=factor_names,
        settings=settings, extra_metrics=extra_metrics, gbt_dci=gbt_dci)
    metrics["test"] = reconstruction_and_elbo(model, images[test_rows], pixel_max=pixel_max,
                                              seed=settings.seed)
    return metrics, importance
