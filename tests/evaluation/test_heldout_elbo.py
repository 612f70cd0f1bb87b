"""Held-out reconstruction error and ELBO: known answers from nets whose outputs are fixed."""

import math

import numpy as np
import pytest
import torch

from gatedvae.evaluation.evaluate import reconstruction_and_elbo
from gatedvae.training.models import build_net

MU = np.array([1.0, -2.0, 0.5])
LOGVAR = np.array([0.0, math.log(4.0), -1.0])


def fixed_net(pixel_logits: np.ndarray, size: int = 8) -> torch.nn.Module:
    """An MLP whose encoder outputs (MU, LOGVAR) for every image and whose decoder outputs
    `pixel_logits` for every code (last layers' weights zeroed, biases set)."""
    net = build_net("mlp", latent_dim=len(MU), image_size=size, hidden=16)
    head, out = net.encoder[-1], net.decoder[-2]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor(np.concatenate([MU, LOGVAR]), dtype=torch.float32))
        out.weight.zero_()
        out.bias.copy_(torch.tensor(pixel_logits.ravel(), dtype=torch.float32))
    return net


def expected_bce(images01: np.ndarray, logits: np.ndarray) -> float:
    # -log p(x) per pixel for Bernoulli(sigmoid(l)): softplus(l) - x * l
    per_pixel = np.logaddexp(0.0, logits)[None] - images01 * logits[None]
    return float(per_pixel.reshape(len(images01), -1).sum(axis=1).mean())


@pytest.mark.parametrize("pixel_max", [1, 255])
def test_known_answer_for_fixed_encoder_and_decoder(pixel_max):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 8))
    images = rng.integers(0, pixel_max + 1, size=(37, 8, 8)).astype(np.uint8)
    result = reconstruction_and_elbo(fixed_net(logits), images, pixel_max=pixel_max, device="cpu")
    bce = expected_bce(images / pixel_max, logits)
    kl = 0.5 * float((MU ** 2 + np.exp(LOGVAR) - 1.0 - LOGVAR).sum())
    assert result["recon_bce"] == pytest.approx(bce, rel=1e-5)
    # the decoder ignores z here, so the sampled reconstruction term equals the mean's
    assert result["recon_sampled"] == pytest.approx(bce, rel=1e-5)
    assert result["kl"] == pytest.approx(kl, rel=1e-5)
    assert result["elbo"] == pytest.approx(-(bce + kl), rel=1e-5)


def test_sampled_term_is_seeded_and_batching_does_not_change_the_mean_terms():
    torch.manual_seed(0)
    net = build_net("mlp", latent_dim=4, image_size=8, hidden=16)
    images = np.random.default_rng(1).integers(0, 2, size=(50, 8, 8)).astype(np.uint8)
    a = reconstruction_and_elbo(net, images, pixel_max=1, seed=3, device="cpu")
    b = reconstruction_and_elbo(net, images, pixel_max=1, seed=3, device="cpu")
    c = reconstruction_and_elbo(net, images, pixel_max=1, seed=4, device="cpu")
    small = reconstruction_and_elbo(net, images, pixel_max=1, seed=3, batch_size=7, device="cpu")
    assert a == b
    assert a["recon_sampled"] != c["recon_sampled"] and a["recon_bce"] == c["recon_bce"]
    for key in ("recon_bce", "kl"):
        assert small[key] == pytest.approx(a[key], rel=1e-5)
    assert a["elbo"] == pytest.approx(-(a["recon_sampled"] + a["kl"]))


def test_no_images_is_an_error():
    with pytest.raises(ValueError, match="no images"):
        reconstruction_and_elbo(fixed_net(np.zeros((8, 8))), np.zeros((0, 8, 8), np.uint8), pixel_max=1)
