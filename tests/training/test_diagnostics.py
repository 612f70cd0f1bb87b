"""Collapse diagnostics against known answers: a collapsed encoder, an encoder that uses one dim."""

import numpy as np
import pytest
import torch
from torch import nn

from gatedvae.training.diagnostics import (ACTIVE_VARIANCE, collapse_diagnostics, collapsed_partitions,
                                           probe_rows)
from gatedvae.training.models.base import VAE


class _Fixed(VAE):
    """A VAE whose encoder is a fixed function of the image's mean brightness: mu_0 = scale *
    (brightness - 0.5), every other dim at the prior (mu 0, logvar 0); the decoder draws a flat
    image of the brightness that z_0 encodes."""

    def __init__(self, scale: float, latent_dim: int = 3):
        super().__init__(latent_dim, image_size=4)
        self.scale = scale
        self.dummy = nn.Parameter(torch.zeros(1))

    def encode(self, x):
        b = x.mean(dim=(1, 2, 3))
        mu = torch.zeros(len(x), self.latent_dim)
        mu[:, 0] = self.scale * (b - 0.5)
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        p = (0.5 + z[:, :1] / self.scale).clamp(1e-4, 1 - 1e-4) if self.scale else torch.full((len(z), 1), 0.5)
        return torch.logit(p)[:, :, None, None].expand(len(z), 1, 4, 4)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar


def _images():
    levels = np.linspace(0, 255, 16).astype(np.uint8)
    return np.repeat(levels[:, None, None], 4, axis=1).repeat(4, axis=2)  # 16 flat images


def test_a_collapsed_encoder_is_flagged():
    d = collapse_diagnostics(_Fixed(scale=0.0), _images(), [1, 2], pixel_max=255, names=["pose", "expr"])
    assert d["kl_total"] == pytest.approx(0.0, abs=1e-6)
    assert d["active_pose"] == 0 and d["active_expr"] == 0
    assert d["recon_vs_mean_face"] == pytest.approx(1.0, abs=0.01)  # p = 0.5 is the mean face here
    assert collapsed_partitions(d, ["pose", "expr"]) == ["pose", "expr"]


def test_one_informative_dim_is_active_and_carries_the_kl():
    scale = 4.0
    d = collapse_diagnostics(_Fixed(scale=scale), _images(), [1, 2], pixel_max=255, names=["pose", "expr"])
    b = np.linspace(0, 1, 16)
    mu = scale * (b - 0.5)
    assert d["kl_pose"] == pytest.approx(0.5 * np.mean(mu ** 2), rel=1e-4)  # logvar 0: KL = mu^2 / 2
    assert d["kl_expr"] == pytest.approx(0.0, abs=1e-6)
    assert d["active_pose"] == 1 and mu.var() > ACTIVE_VARIANCE
    assert d["recon_vs_mean_face"] < 0.9  # each image's brightness beats the mean face
    assert collapsed_partitions(d, ["pose", "expr"]) == ["expr"]


def test_probe_rows_are_fixed_and_spread():
    rows = probe_rows(10_000, 1024)
    assert len(rows) == 1024 and rows[0] == 0 and rows[-1] == 9_999
    assert np.array_equal(rows, probe_rows(10_000, 1024))
    assert np.array_equal(probe_rows(5, 1024), np.arange(5))
