"""Convolutional VAE for square greyscale images (FactorVAE paper, Table 3: 3D Faces).

Encoder: 4x4 stride-2 convolutions 32-32-64-64 with ReLU (64 -> 4 pixels), FC `hidden` (256 in
the table), linear head to (mu, logvar). Decoder: FC `hidden`, FC to 64x4x4, transposed 4x4
stride-2 convolutions 64-32-32-1, logits out. Other sizes that are 4 * 2^k use k stride-2 layers
with the last channel counts of that schedule.
"""

from __future__ import annotations

import math

from torch import nn

from gatedvae.training.models import register_net
from gatedvae.training.models.base import VAE

CHANNELS = (32, 32, 64, 64)


def _schedule(image_size: int) -> list[int]:
    layers = int(round(math.log2(image_size / 4))) if image_size >= 8 else 0
    if layers < 1 or 4 * 2 ** layers != image_size:
        raise ValueError(f"conv net: image_size must be 4 * 2^k with k >= 1 (8, 16, 32, 64, 128, ...), "
                         f"got {image_size}")
    return ([CHANNELS[0]] * max(0, layers - len(CHANNELS)) + list(CHANNELS))[-layers:]


@register_net("conv")
class ConvVAE(VAE):
    def __init__(self, latent_dim: int, image_size: int = 64, hidden: int = 256):
        super().__init__(latent_dim, image_size)
        channels = _schedule(image_size)
        flat = channels[-1] * 4 * 4
        encoder: list[nn.Module] = []
        previous = 1
        for c in channels:
            encoder += [nn.Conv2d(previous, c, 4, stride=2, padding=1), nn.ReLU(inplace=True)]
            previous = c
        self.encoder = nn.Sequential(*encoder, nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(inplace=True),
                                     nn.Linear(hidden, 2 * latent_dim))
        decoder: list[nn.Module] = [nn.Linear(latent_dim, hidden), nn.ReLU(inplace=True),
                                    nn.Linear(hidden, flat), nn.ReLU(inplace=True),
                                    nn.Unflatten(1, (channels[-1], 4, 4))]
        ups = list(reversed(channels))[1:] + [1]
        previous = channels[-1]
        for i, c in enumerate(ups):
            decoder.append(nn.ConvTranspose2d(previous, c, 4, stride=2, padding=1))
            if i < len(ups) - 1:
                decoder.append(nn.ReLU(inplace=True))
            previous = c
        self.decoder = nn.Sequential(*decoder)
