"""Regularisers against independent computations."""

import numpy as np
import pytest
import torch

from gatedvae.training.objectives import (build_objective, dip_covariance, kl_to_standard_normal,
                                 mmd_unbiased)


def test_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu = torch.tensor([[0.5, -1.0, 0.0]], dtype=torch.float64)
    logvar = torch.tensor([[-0.5, 0.3, 0.0]], dtype=torch.float64)
    z = mu + torch.randn(400_000, 3, dtype=torch.float64) * torch.exp(0.5 * logvar)
    log_q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    mc = (log_q - log_p).mean().item()
    assert kl_to_standard_normal(mu, logvar).item() == pytest.approx(mc, abs=0.01)
    assert kl_to_standard_normal(torch.zeros(2, 4), torch.zeros(2, 4)).tolist() == [0.0, 0.0]


def test_mmd_unbiased_matches_direct_sum():
    rng = np.random.default_rng(0)
    x, y, s2 = rng.normal(size=(7, 3)), rng.normal(1.0, 1.0, size=(5, 3)), 1.7
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * s2))
    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(5)) / (7 * 5)
    got = mmd_unbiased(torch.tensor(x), torch.tensor(y), s2).item()
    assert got == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_mmd_is_near_zero_for_same_distribution_and_positive_otherwise():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 4, generator=g), torch.randn(500, 4, generator=g)
    assert abs(mmd_unbiased(a, b, 4.0).item()) < 0.01
    assert mmd_unbiased(a, b + 2.0, 4.0).item() > 0.2


def test_dip_covariance_matches_numpy():
    rng = np.random.default_rng(1)
    mu, logvar = rng.normal(size=(64, 5)), rng.normal(scale=0.3, size=(64, 5))
    expected = np.cov(mu, rowvar=False, bias=True) + np.diag(np.exp(logvar).mean(axis=0))
    got = dip_covariance(torch.tensor(mu), torch.tensor(logvar)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_dip_penalty_terms():
    rng = np.random.default_rng(2)
    mu, logvar = rng.normal(size=(32, 3)), rng.normal(scale=0.2, size=(32, 3))
    cov = np.cov(mu, rowvar=False, bias=True) + np.diag(np.exp(logvar).mean(axis=0))
    objective = build_objective("dip_vae_ii", 3, {"kl": 0.0, "lambda_od": 2.0, "lambda_d": 3.0})
    total, parts = objective(torch.tensor(mu), torch.tensor(logvar), torch.tensor(mu))
    off = (cov ** 2).sum() - (np.diag(cov) ** 2).sum()
    on = ((np.diag(cov) - 1) ** 2).sum()
    assert parts["dip_off_diag"].item() == pytest.approx(off)
    assert parts["dip_diag"].item() == pytest.approx(on)
    assert total.item() == pytest.approx(2.0 * off + 3.0 * on)


def test_beta_vae_is_beta_times_kl():
    mu, logvar = torch.randn(8, 4), torch.randn(8, 4)
    total, parts = build_objective("beta_vae", 4, {"beta": 4.0})(mu, logvar, mu)
    assert total.item() == pytest.approx(4.0 * kl_to_standard_normal(mu, logvar).mean().item())


@pytest.mark.parametrize("name,params,message", [
    ("beta_vae", {"beta": -1.0}, "beta"),
    ("info_vae", {"lambda": 1.0}, "unknown parameter"),
])
def test_bad_objective_params_are_named(name, params, message):
    with pytest.raises(ValueError, match=message):
        build_objective(name, 4, params)


def test_permute_dims_shuffles_each_dimension_across_the_batch():
    from gatedvae.training.objectives import permute_dims
    z = torch.arange(40, dtype=torch.float32).reshape(10, 4)  # column j holds 4i + j
    p = permute_dims(z, torch.Generator().manual_seed(0))
    for j in range(4):  # each column is a permutation of itself: values never move across dims
        assert sorted(p[:, j].tolist()) == z[:, j].tolist()
    assert not torch.equal(p, z)
    rows_kept = sum(torch.equal(p[i], z[i]) for i in range(10))
    assert rows_kept < 10  # rows are broken up (the within-sample bug would keep each row's values)


def test_factor_vae_discriminator_learns_to_spot_correlated_codes():
    torch.manual_seed(0)
    objective = build_objective("factor_vae", 2, {"disc_hidden": 32, "disc_layers": 2, "disc_lr": 1e-2})
    g = torch.Generator().manual_seed(1)
    base = torch.randn(256, 1, generator=g)
    correlated = torch.cat([base, base + 0.05 * torch.randn(256, 1, generator=g)], dim=1)
    for _ in range(300):
        objective.after_step(correlated, g)
    _, parts = objective(torch.zeros(256, 2), torch.zeros(256, 2), correlated)
    assert parts["tc"].item() > 1.0  # the TC estimate of strongly dependent codes is large
    independent = torch.randn(256, 2, generator=g)
    _, parts = objective(torch.zeros(256, 2), torch.zeros(256, 2), independent)
    assert parts["tc"].item() < 0.5
