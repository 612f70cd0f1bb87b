"""The dSprites MLP (a reproduction decision; the paper's Fig. 6 is not in its text).

Encoder 4096-H-H with BatchNorm+ReLU (the first layer a sum over lit pixels, pixel_linear.py) and a linear head to (mu, logvar); decoder M-H-H-4096 with
BatchNorm+ReLU and logits out (the sigmoid is folded into the Bernoulli loss). H = 1200 at the
paper's scale, 256 on a CPU.
"""

from __future__ import annotations

from torch import nn

from gatedvae.training.models import register_net
from gatedvae.training.models.base import VAE
from gatedvae.training.models.pixel_linear import PixelLinear


def _block(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(inplace=True)]


@register_net("mlp")
class MLPVAE(VAE):
    def __init__(self, latent_dim: int, image_size: int = 64, hidden: int = 1200):
        super().__init__(latent_dim, image_size)
        pixels = image_size * image_size
        self.encoder = nn.Sequential(
            nn.Flatten(), PixelLinear(pixels, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            *_block(hidden, hidden),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            *_block(latent_dim, hidden), *_block(hidden, hidden), nn.Linear(hidden, pixels),
            nn.Unflatten(1, (1, image_size, image_size)),
        )
