"""The field's pair methods (Locatello et al. 2020, "Weakly-Supervised Disentanglement Without
Compromises"): which latent dims a pair shares, and how the two posteriors of a shared dim are
replaced by one aggregate. The objectives that use these are registered in objectives.py.

Both images of a pair are encoded; delta_j = KL(q(z_j|x1) || q(z_j|x2)) per dim. Shared dims get
an aggregate posterior for both images (GVAE, Hosoya 2019: the arithmetic mean of means and of
variances; ML-VAE, Bouchacourt et al. 2018: a product of the two Gaussians), the others stay per
image. Shared dims: Ada's rule (no labels) shares every dim whose delta lies below the midpoint of
the pair's smallest and largest delta; with k known, the d - k smallest; with the shared factor
group known, that group's partition. Cited from disentanglement_lib's methods/weak/weak_vae.py
(compute_kl, aggregate_argmax, aggregate_labels, GroupVAEBase, MLVae).
"""

from __future__ import annotations

import torch

AGGREGATIONS = ("gvae", "ml_vae")
SHARE_RULES = ("adaptive", "known_group", "known_k")


def pair_kl(mu1, logvar1, mu2, logvar2) -> torch.Tensor:
    """delta [B, M]: KL(N(mu1, v1) || N(mu2, v2)) per dim = 0.5 (v1/v2 + (mu2-mu1)^2/v2 - 1 +
    log v2 - log v1). disentanglement_lib's compute_kl omits the 0.5, which no threshold below
    notices (each is invariant to scaling delta)."""
    var_ratio = (logvar1 - logvar2).exp()
    return 0.5 * (var_ratio + (mu2 - mu1).pow(2) / logvar2.exp() - 1.0 + logvar2 - logvar1)


def adaptive_shared(delta: torch.Tensor) -> torch.Tensor:
    """Ada's rule: bool [B, M], True where delta_j < (min_j delta + max_j delta) / 2 of its pair
    (two equal-width bins between the pair's min and max; the lower bin is shared). A pair with
    all deltas equal (an image paired with itself) shares every dim, as disentanglement_lib's
    histogram binning does."""
    low = delta.min(dim=1, keepdim=True).values
    high = delta.max(dim=1, keepdim=True).values
    return (delta < 0.5 * (low + high)) | (high == low)


def smallest_shared(delta: torch.Tensor, n_shared: torch.Tensor | int) -> torch.Tensor:
    """k known: bool [B, M], True on each pair's n_shared smallest deltas (n_shared = d - k, an int
    or one per pair); ties broken by dim order."""
    b, m = delta.shape
    ranks = torch.argsort(torch.argsort(delta, dim=1, stable=True), dim=1)
    n_shared = torch.as_tensor(n_shared, device=delta.device).reshape(-1, 1).expand(b, 1)
    return ranks < n_shared


def known_group_shared(shared_partitions: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Shared factor groups known: bool [B, M], the dims of every partition the pair shares.
    shared_partitions [B, P] bool; masks [P, M] bool (gating.partition_masks)."""
    return (shared_partitions.to(torch.float32) @ masks.to(torch.float32)) > 0


def aggregate_gvae(mu1, logvar1, mu2, logvar2) -> tuple[torch.Tensor, torch.Tensor]:
    """GVAE: mean (mu1 + mu2) / 2, variance (v1 + v2) / 2 (returned as its log)."""
    mean = 0.5 * (mu1 + mu2)
    logvar = torch.logaddexp(logvar1, logvar2) - torch.log(torch.tensor(2.0, dtype=logvar1.dtype,
                                                                        device=logvar1.device))
    return mean, logvar


def aggregate_ml_vae(mu1, logvar1, mu2, logvar2) -> tuple[torch.Tensor, torch.Tensor]:
    """ML-VAE as disentanglement_lib's MLVae (and disent's AdaVae with the ML-VAE average): the
    mean of the product of the two Gaussians, (mu1/v1 + mu2/v2) / (1/v1 + 1/v2), and variance
    2 v1 v2 / (v1 + v2), the harmonic mean of v1 and v2 (twice the product's variance, so that
    two equal posteriors aggregate to themselves)."""
    precision1, precision2 = (-logvar1).exp(), (-logvar2).exp()
    total = precision1 + precision2
    mean = (mu1 * precision1 + mu2 * precision2) / total
    logvar = torch.log(torch.tensor(2.0, dtype=logvar1.dtype, device=logvar1.device)) - torch.log(total)
    return mean, logvar


AGGREGATE = {"gvae": aggregate_gvae, "ml_vae": aggregate_ml_vae}


def share(mu1, logvar1, mu2, logvar2, shared: torch.Tensor, aggregation: str):
    """Each image's posterior with its shared dims replaced by the pair's aggregate:
    (mu1', logvar1', mu2', logvar2'); the other dims are each image's own."""
    mean, logvar = AGGREGATE[aggregation](mu1, logvar1, mu2, logvar2)
    return (torch.where(shared, mean, mu1), torch.where(shared, logvar, logvar1),
            torch.where(shared, mean, mu2), torch.where(shared, logvar, logvar2))
