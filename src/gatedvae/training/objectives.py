"""Regularisers: what each VAE variant adds to the Bernoulli reconstruction loss.

All take the (possibly gated) posterior parameters and a sample z = mu + eps * sigma, and return
a scalar averaged over the batch plus named parts for logging. sigma^2 = exp(logvar).
Registered by name so that params.yaml and the training matrix can pick them.
"""

from __future__ import annotations

import abc
from typing import Callable

import torch
from torch import nn

from gatedvae.training import weak
from gatedvae.training.config import OBJECTIVE_DEFAULTS, PAIR_METHODS, objective_problems

OBJECTIVES: dict[str, type["Objective"]] = {}


def register_objective(name: str) -> Callable[[type["Objective"]], type["Objective"]]:
    """Register a regulariser under `name`; its `defaults` become known to params validation."""
    def add(cls):
        cls.name = name
        OBJECTIVES[name] = cls
        OBJECTIVE_DEFAULTS.setdefault(name, dict(cls.defaults))
        return cls
    return add


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) summed over dims, per sample: shape [B]."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)


def rbf_kernel(a: torch.Tensor, b: torch.Tensor, sigma2: float) -> torch.Tensor:
    """k(a, b) = exp(-||a - b||^2 / (2 sigma^2)), all pairs: [len(a), len(b)]."""
    return torch.exp(-torch.cdist(a, b).pow(2) / (2.0 * sigma2))


def mmd_unbiased(x: torch.Tensor, y: torch.Tensor, sigma2: float) -> torch.Tensor:
    """Unbiased (U-statistic) estimate of MMD^2 between samples x [n, M] and y [m, M].

    The within-sample sums leave out the diagonal i == j, which is what makes it unbiased
    (and lets it go slightly negative).
    """
    n, m = len(x), len(y)
    kxx = rbf_kernel(x, x, sigma2)
    kyy = rbf_kernel(y, y, sigma2)
    kxy = rbf_kernel(x, y, sigma2)
    xx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return xx + yy - 2.0 * kxy.mean()


def dip_covariance(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Cov_q(z) = E_batch[diag sigma^2] + Cov_batch(mu): an [M, M] matrix.

    sigma^2 = exp(logvar) (not exp(2 logvar)); the expected posterior variance is a diagonal
    matrix built from the per-dimension mean ([M] vector), not from diag() of the [B, M] tensor.
    """
    centred = mu - mu.mean(dim=0, keepdim=True)
    cov_mu = centred.T @ centred / len(mu)
    return cov_mu + torch.diag(logvar.exp().mean(dim=0))


class Objective(abc.ABC):
    name = "objective"
    defaults: dict[str, float] = {}

    def __init__(self, latent_dim: int, **params: float):
        problems = objective_problems(self.name, params)
        if problems:
            raise ValueError("; ".join(problems))
        self.latent_dim = latent_dim
        self.params = {**self.defaults, **params}

    @abc.abstractmethod
    def __call__(self, mu, logvar, z, generator=None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(regulariser averaged over the batch, named parts for logging)."""

    @property
    def kl_weight(self) -> float:
        """The weight of KL(q(z|x) || N(0, I)) in this regulariser (free bits need it)."""
        return float(self.params.get("kl", 1.0))

    # Objectives with trainable parts of their own (FactorVAE's discriminator) override these.
    def to(self, device: torch.device) -> "Objective":
        return self

    def after_step(self, z: torch.Tensor, generator=None) -> dict[str, torch.Tensor]:
        """Called after each VAE update with the step's (detached) z; returns parts to log."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None


@register_objective("beta_vae")
class BetaVAE(Objective):
    """Higgins et al.: beta * KL (beta = 4 in the Gated-VAE paper)."""

    defaults = OBJECTIVE_DEFAULTS["beta_vae"]

    def __call__(self, mu, logvar, z, generator=None):
        kl = kl_to_standard_normal(mu, logvar).mean()
        return self.params["beta"] * kl, {"kl": kl}

    @property
    def kl_weight(self) -> float:
        return float(self.params["beta"])


@register_objective("info_vae")
class InfoVAE(Objective):
    """Zhao et al. (MMD-VAE): kl * KL + mmd * MMD^2(q(z) || N(0, I)), MMD unbiased with an RBF
    kernel of variance sigma2 (0 means sigma2 = M, so that exp(-1) is the typical kernel value
    between two prior samples)."""

    defaults = OBJECTIVE_DEFAULTS["info_vae"]

    def __call__(self, mu, logvar, z, generator=None):
        kl = kl_to_standard_normal(mu, logvar).mean()
        prior = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        sigma2 = self.params["sigma2"] or float(self.latent_dim)
        mmd = mmd_unbiased(z, prior, sigma2)
        return self.params["kl"] * kl + self.params["mmd"] * mmd, {"kl": kl, "mmd": mmd}


@register_objective("dip_vae_ii")
class DIPVAEII(Objective):
    """Kumar et al. DIP-VAE-II: kl * KL + lambda_od sum_{i!=j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2."""

    defaults = OBJECTIVE_DEFAULTS["dip_vae_ii"]

    def __call__(self, mu, logvar, z, generator=None):
        kl = kl_to_standard_normal(mu, logvar).mean()
        cov = dip_covariance(mu, logvar)
        diag = cov.diagonal()
        off_diag = cov.pow(2).sum() - diag.pow(2).sum()
        on_diag = (diag - 1.0).pow(2).sum()
        total = (self.params["kl"] * kl + self.params["lambda_od"] * off_diag
                 + self.params["lambda_d"] * on_diag)
        return total, {"kl": kl, "dip_off_diag": off_diag, "dip_diag": on_diag}


def permute_dims(z: torch.Tensor, generator=None) -> torch.Tensor:
    """Samples of the product of marginals: each dimension shuffled independently *across the
    batch* (not within a sample), as FactorVAE's Algorithm 1."""
    b, m = z.shape
    order = torch.argsort(torch.rand(b, m, generator=generator, device=z.device), dim=0)
    return torch.gather(z, 0, order)


@register_objective("factor_vae")
class FactorVAE(Objective):
    """Kim & Mnih: KL + gamma * TC, TC estimated by a discriminator D(z) with the density-ratio
    trick: TC ~ E[logit_joint - logit_product]. D (an MLP with LeakyReLU 0.2 and 2 logits, 6 layers
    of 1000 in the paper) is trained by its own Adam (betas 0.5, 0.9) to tell z from
    permute_dims(z). Simplification, documented: D's step uses the same batch's z (detached)
    rather than a second batch."""

    defaults = OBJECTIVE_DEFAULTS["factor_vae"]

    def __init__(self, latent_dim: int, **params: float):
        super().__init__(latent_dim, **params)
        hidden, layers = int(self.params["disc_hidden"]), int(self.params["disc_layers"])
        blocks: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        self.discriminator = nn.Sequential(*blocks, nn.Linear(width, 2))
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(),
                                          lr=self.params["disc_lr"], betas=(0.5, 0.9))

    def __call__(self, mu, logvar, z, generator=None):
        kl = kl_to_standard_normal(mu, logvar).mean()
        logits = self.discriminator(z)
        tc = (logits[:, 0] - logits[:, 1]).mean()
        return kl + self.params["gamma"] * tc, {"kl": kl, "tc": tc}

    def after_step(self, z, generator=None):
        joint = self.discriminator(z)
        product = self.discriminator(permute_dims(z, generator))
        zeros = torch.zeros(len(z), dtype=torch.long, device=z.device)
        loss = 0.5 * (nn.functional.cross_entropy(joint, zeros)
                      + nn.functional.cross_entropy(product, torch.ones_like(zeros)))
        self.optimizer.zero_grad(set_to_none=True)  # also drops grads left by the VAE step
        loss.backward()
        self.optimizer.step()
        return {"discriminator": loss.detach()}

    def to(self, device):
        self.discriminator.to(device)
        return self

    def state_dict(self):
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])


class PairObjective(BetaVAE):
    """A pair method (training/weak.py): both images of a pair are encoded, the dims judged
    shared get the pair's aggregate posterior, each image is reconstructed from its own (partly
    aggregated) posterior, and the regulariser is beta * KL of every image's posterior, averaged
    over the 2B images of B pairs (disentanglement_lib's GroupVAEBase: the mean of the two ELBOs).
    The engine (fit.py, mode "pairs") calls `shared` and `aggregate`, then this on both images."""

    aggregation = "gvae"        # weak.AGGREGATIONS
    share_rule = "adaptive"     # weak.SHARE_RULES
    defaults = {"beta": 1.0}

    def shared(self, delta, shared_partitions, masks, n_changed=None):
        """bool [B, M]: the dims each pair shares, by this method's rule. shared_partitions
        [B, P]: the partitions the sampler made the pair share; n_changed [B]: how many factors
        it changed (known_k)."""
        if self.share_rule == "adaptive":
            return weak.adaptive_shared(delta)
        if self.share_rule == "known_group":
            return weak.known_group_shared(shared_partitions, masks)
        if n_changed is None:
            raise ValueError(f"{self.name}: k known needs the sampler's number of changed factors")
        return weak.smallest_shared(delta, self.latent_dim - n_changed)

    def aggregate(self, mu1, logvar1, mu2, logvar2, shared):
        return weak.share(mu1, logvar1, mu2, logvar2, shared, self.aggregation)


for _name, (_aggregation, _rule) in PAIR_METHODS.items():
    register_objective(_name)(type(_name, (PairObjective,), {
        "aggregation": _aggregation, "share_rule": _rule, "defaults": dict(OBJECTIVE_DEFAULTS[_name]),
        "__doc__": f"{_name}: the {_aggregation} aggregate on the dims the {_rule} rule shares."}))


def build_objective(name: str, latent_dim: int, params: dict | None = None) -> Objective:
    if name not in OBJECTIVES:
        raise KeyError(f"unknown model {name!r}; registered: {sorted(OBJECTIVES)}")
    return OBJECTIVES[name](latent_dim, **(params or {}))
