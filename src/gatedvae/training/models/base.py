"""What every VAE net provides to the training engine."""

from __future__ import annotations

import torch
from torch import nn


class VAE(nn.Module):
    """A VAE split into `encoder` (trunk and latent heads) and `decoder`.

    `encoder(x)` returns a [B, 2M] tensor read as (mu, logvar); `decoder(z)` returns logits shaped
    like x ([B, 1, H, W]). Decoder fine-tuning freezes `encoder` as a whole, so every parameter
    that shapes q(z|x) must live inside it.
    """

    encoder: nn.Module
    decoder: nn.Module

    def __init__(self, latent_dim: int, image_size: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_size = image_size

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Deterministic reconstruction from the mean: (logits, mu, logvar)."""
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar
