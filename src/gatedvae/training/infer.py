"""A trained model at test time: posterior means, reconstructions and latent traversals."""

from __future__ import annotations

import numpy as np
import torch

from gatedvae import timing
from gatedvae.errors import StageError
from gatedvae.training.models.base import VAE


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):  # params validation says so first; this guards a skipped check
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            raise StageError(f"device {device!r} asked for, but torch sees {count} CUDA device(s) here "
                             f"(torch {torch.__version__}): set the train section's `device` to auto or cpu")
    return torch.device(device)


def to_float(batch_u8: torch.Tensor, pixel_max: int) -> torch.Tensor:
    """uint8 [B, H, W] -> float [B, 1, H, W] in [0, 1]."""
    return batch_u8.unsqueeze(1).float().mul_(1.0 / pixel_max)


@torch.no_grad()
def encode_mean(model: VAE, images: np.ndarray, *, pixel_max: int, batch_size: int = 1024,
                device: str = "auto") -> np.ndarray:
    dev = resolve_device(device)
    model.to(dev).eval()
    out = []
    with timing.phase("encoding"):
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.array(images[start:start + batch_size], dtype=np.uint8)).to(dev)
            out.append(model.encode(to_float(batch, pixel_max))[0].cpu())
        return torch.cat(out).numpy()


@torch.no_grad()
def reconstruct(model: VAE, images: np.ndarray, *, pixel_max: int, device: str = "auto") -> np.ndarray:
    """Decode the posterior mean: float [n, H, W] in [0, 1]."""
    dev = resolve_device(device)
    model.to(dev).eval()
    x = to_float(torch.from_numpy(np.array(images, dtype=np.uint8)).to(dev), pixel_max)
    return torch.sigmoid(model(x)[0]).squeeze(1).cpu().numpy()


@torch.no_grad()
def traverse(model: VAE, image_u8: np.ndarray, dims: list[int], values, *, pixel_max: int,
             device: str = "auto") -> np.ndarray:
    """Decode one image's posterior mean with latent dim d set to each value in turn (the other
    dims kept): float [len(dims), len(values), H, W] in [0, 1]."""
    dev = resolve_device(device)
    model.to(dev).eval()
    x = to_float(torch.from_numpy(np.array(image_u8, dtype=np.uint8)[None]).to(dev), pixel_max)
    mu = model.encode(x)[0][0]
    values = torch.as_tensor(np.asarray(values, dtype=np.float32), device=dev)
    z = mu.repeat(len(dims), len(values), 1)  # [D, S, M]
    for row, d in enumerate(dims):
        z[row, :, d] = values
    out = torch.sigmoid(model.decode(z.reshape(-1, mu.numel())))
    return out.reshape(len(dims), len(values), *out.shape[-2:]).cpu().numpy()
