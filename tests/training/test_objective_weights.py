"""InfoVAE and FactorVAE totals weigh their parts as documented, checked with non-trivial weights
against parts computed independently here (KL, MMD with the same seeded prior draw, the
discriminator's logits)."""

import pytest
import torch

from gatedvae.training.objectives import build_objective, kl_to_standard_normal, mmd_unbiased


def _posterior(seed=0, batch=16, dims=3):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, dims, generator=g, dtype=torch.float64)
    logvar = 0.3 * torch.randn(batch, dims, generator=g, dtype=torch.float64)
    z = mu + 2.0 + torch.randn(batch, dims, generator=g, dtype=torch.float64)  # far from N(0, I)
    return mu, logvar, z


@pytest.mark.parametrize("sigma2,expected_sigma2", [(2.0, 2.0), (0.0, 3.0)])
def test_info_vae_total_is_kl_weight_kl_plus_mmd_weight_mmd(sigma2, expected_sigma2):
    mu, logvar, z = _posterior()
    objective = build_objective("info_vae", 3, {"kl": 0.3, "mmd": 7.0, "sigma2": sigma2})
    total, parts = objective(mu, logvar, z, torch.Generator().manual_seed(5))

    prior = torch.randn(z.shape, generator=torch.Generator().manual_seed(5), dtype=z.dtype)
    kl = kl_to_standard_normal(mu, logvar).mean()
    mmd = mmd_unbiased(z, prior, expected_sigma2)
    assert parts["kl"].item() == pytest.approx(kl.item(), rel=1e-12)
    assert parts["mmd"].item() == pytest.approx(mmd.item(), rel=1e-12)
    assert mmd.item() > 0.1  # the MMD term matters here
    assert total.item() == pytest.approx(0.3 * kl.item() + 7.0 * mmd.item(), rel=1e-12)


def test_factor_vae_total_is_kl_plus_gamma_tc():
    mu, logvar, z = _posterior(seed=1, dims=4)
    objective = build_objective("factor_vae", 4, {"gamma": 3.5, "disc_hidden": 8, "disc_layers": 2})
    disc = objective.discriminator.double()
    with torch.no_grad():  # a known, non-zero density-ratio estimate
        disc[-1].bias.copy_(torch.tensor([1.25, -0.5], dtype=torch.float64))
    total, parts = objective(mu, logvar, z)

    logits = disc(z)
    tc = (logits[:, 0] - logits[:, 1]).mean()
    kl = kl_to_standard_normal(mu, logvar).mean()
    assert parts["tc"].item() == pytest.approx(tc.item(), rel=1e-12)
    assert parts["kl"].item() == pytest.approx(kl.item(), rel=1e-12)
    assert abs(tc.item()) > 0.5
    assert total.item() == pytest.approx(kl.item() + 3.5 * tc.item(), rel=1e-12)


def test_default_weights_are_the_documented_ones():
    mu, logvar, z = _posterior(seed=2)
    total, parts = build_objective("info_vae", 3)(mu, logvar, z, torch.Generator().manual_seed(0))
    assert total.item() == pytest.approx(parts["kl"].item() + 500.0 * parts["mmd"].item(), rel=1e-12)
    objective = build_objective("factor_vae", 3, {"disc_hidden": 4, "disc_layers": 1})
    objective.discriminator.double()
    total, parts = objective(mu, logvar, z)
    assert total.item() == pytest.approx(parts["kl"].item() + 35.0 * parts["tc"].item(), rel=1e-12)
