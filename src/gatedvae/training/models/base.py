"""What every VAE net provides to the training engine."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class VAE(nn.Module):
    """A VAE split into `encoder` (trunk and latent heads) and `decoder`.

    `encoder(x)` returns a [B, 2M] tensor read as (mu, logvar); `decoder(z)` returns logits shaped
    like x ([B, 1, H, W]). Decoder fine-tuning freezes `encoder` as a whole, so every parameter
    that shapes q(z|x) must live inside it.

    `precision` (TrainConfig.precision, set by the engine and by load_model) is the arithmetic of
    both nets, in training and at test time alike: under bf16/fp16 they run in autocast, and
    encode/decode still return float32, so the gating, losses and metrics never see low precision.
    """

    encoder: nn.Module
    decoder: nn.Module
    precision: str = "fp32"

    def __init__(self, latent_dim: int, image_size: int):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_size = image_size

    def _autocast(self, x: torch.Tensor):
        dtype = AUTOCAST_DTYPES.get(self.precision)
        return contextlib.nullcontext() if dtype is None else torch.autocast(x.device.type, dtype=dtype)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self._autocast(x):
            out = self.encoder(x)
        mu, logvar = out.float().chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        with self._autocast(z):
            return self.decoder(z).float()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Deterministic reconstruction from the mean: (logits, mu, logvar)."""
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar
