"""Gated training gates the partition whose pair targets it draws.

A test-only net, registered for one test, records per training step (a) the anchors the encoder
sees (each image's pixels hold its own index), (b) which latent dims of mu receive gradient, and
(c) the decoder targets, read back exactly from the gradient of the decoder's logits: for the
Bernoulli loss summed over pixels and averaged over the batch, d loss / d logits =
(sigmoid(logits) - target) / B. Each partition's groups differ, so the targets share the anchor's
group in exactly one partition; that partition's dims must be the ones the encoder learns through.
"""

import numpy as np
import pytest
import torch
from torch import nn

from gatedvae.training.config import TrainConfig

from gatedvae.training.fit import train
from gatedvae.training.gating import partition_masks
from gatedvae.training.models import NETS, register_net
from gatedvae.training.models.base import VAE

N_IMAGES, SIZE, PIXEL_MAX = 48, 4, 255


class _RecordingVAE(VAE):
    """A real (linear) VAE that records what each training step sees and sends back."""

    def __init__(self, latent_dim: int, image_size: int = SIZE, hidden: int = 1):
        super().__init__(latent_dim, image_size)
        pixels = image_size * image_size
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, pixels),
                                     nn.Unflatten(1, (1, image_size, image_size)))
        self.steps: list[dict] = []

    def encode(self, x):
        mu, logvar = super().encode(x)
        if torch.is_grad_enabled():
            step = {"anchors": (x[:, 0, 0, 0] * PIXEL_MAX).round().long().tolist()}
            self.steps.append(step)
            mu.register_hook(lambda g: step.__setitem__("mu_grad", g.detach().clone()))
        return mu, logvar

    def decode(self, z):
        logits = super().decode(z)
        if torch.is_grad_enabled():
            step = self.steps[-1]

            def targets_from_grad(g, logits=logits.detach()):
                target = torch.sigmoid(logits) - len(logits) * g  # BCE-with-logits gradient
                step["targets"] = (target[:, 0, 0, 0].double() * PIXEL_MAX).tolist()
            logits.register_hook(targets_from_grad)
        return logits


@pytest.fixture
def recording_net():
    """Registered for this test only, so nothing looping over NETS sees it."""
    register_net("recording_test_net")(_RecordingVAE)
    yield "recording_test_net"
    NETS.pop("recording_test_net")


def _data():
    index = np.arange(N_IMAGES)
    images = np.broadcast_to(index[:, None, None], (N_IMAGES, SIZE, SIZE)).astype(np.uint8)
    # partition 0 pairs images in blocks of 4, partition 1 by residue mod 4: two images share
    # both groups only if they are the same image
    groups = np.stack([index // 4, index % 4], axis=1)
    return images, groups


@pytest.mark.parametrize("order", ["round_robin", "random"])
def test_encoder_gradient_goes_to_the_partition_whose_pairs_are_drawn(tmp_path, recording_net, order):
    images, groups = _data()
    cfg = TrainConfig(net=recording_net, hidden=1, latent_dim=5, partitions=[2, 3], epochs=2,
                      batch_size=8, lr=1e-2, seed=0, device="cpu", pixel_max=PIXEL_MAX,
                      image_size=SIZE, partition_order=order, objective="beta_vae")
    model = train(images, groups, cfg, checkpoint_dir=tmp_path / "ckpt", progress=False).model
    masks = partition_masks(cfg.partitions)
    steps = model.steps
    assert len(steps) == 2 * N_IMAGES // 8
    used = set()
    for i, step in enumerate(steps):
        anchors = np.array(step["anchors"])
        targets_f = np.array(step["targets"])
        targets = np.round(targets_f).astype(int)
        np.testing.assert_allclose(targets_f, targets, atol=0.05)  # recovered exactly, up to float32
        assert set(anchors) <= set(range(N_IMAGES)) and set(targets) <= set(range(N_IMAGES))
        assert not np.any(targets == anchors)  # no singletons here: a partner is another image

        trained = (step["mu_grad"] != 0).any(dim=0)
        matches = [p for p in range(len(masks)) if torch.equal(trained, masks[p])]
        assert len(matches) == 1, f"step {i}: encoder gradient on dims {trained.tolist()}"
        p = matches[0]
        used.add(p)
        assert np.array_equal(groups[targets, p], groups[anchors, p]), (
            f"step {i}: gradient reaches partition {p}'s dims but the targets do not share the "
            f"anchors' partition-{p} group")
        other = 1 - p
        assert not np.any(groups[targets, other] == groups[anchors, other])
    assert used == {0, 1}
