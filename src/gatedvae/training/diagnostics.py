"""Posterior-collapse diagnostics: is the encoder telling the decoder anything, and through which
partition?

A collapsed VAE sets q(z|x) = N(0, I) for every x: the KL is ~0, the posterior means do not vary
across images, and the decoder draws the same face for all of them. Three numbers show it, per
partition where they can:
  kl_<partition>       KL(q(z|x) || N(0, I)) of that partition's dims, nats, averaged over images;
  active_<partition>   dims whose posterior mean varies across images, Var_x(mu_d) > 0.01
                       (Burda et al.'s activity statistic, their threshold);
  recon_vs_mean_face   the reconstruction NLL of the posterior mean over the NLL of drawing the
                       mean image for every input: 1 means the codes help no more than the mean face.
A partition with no active dim carries nothing, so its placement scores are not evidence of
disentanglement, only of where noise went; `collapsed_partitions` names them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from gatedvae.training.infer import to_float
from gatedvae.training.models.base import VAE

ACTIVE_VARIANCE = 0.01  # Burda et al. 2016, "Importance Weighted Autoencoders", section 5.2


def partition_names(partitions: Sequence[int], names: Sequence[str] | None = None) -> list[str]:
    """The partitions' names for diagnostics keys: the given names, else p0, p1, ..."""
    if names is not None:
        if len(names) != len(partitions):
            raise ValueError(f"{len(names)} partition names {list(names)} for {len(partitions)} partitions")
        return list(names)
    return [f"p{i}" for i in range(len(partitions))]


def probe_rows(n_images: int, size: int = 1024) -> np.ndarray:
    """A fixed, evenly spread subset of the training images, so epochs are compared on the same
    images and no random stream of training is touched."""
    return np.unique(np.linspace(0, n_images - 1, min(size, n_images)).astype(np.int64))


@torch.no_grad()
def collapse_diagnostics(model: VAE, images: torch.Tensor | np.ndarray, partitions: Sequence[int], *,
                         pixel_max: int, names: Sequence[str] | None = None,
                         batch_size: int = 512) -> dict[str, float]:
    """The diagnostics above on uint8 images [N, H, W] (a tensor on the model's device, or numpy).
    The model is put in eval mode and left there; the caller restores train mode."""
    names = partition_names(partitions, names)
    if len(images) < 2:
        raise ValueError("collapse diagnostics need at least 2 images (a variance across images)")
    device = next(model.parameters()).device
    model.eval()
    mus, kls, recon, pixel_sum = [], [], 0.0, None
    batches = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        batch = torch.as_tensor(np.asarray(batch) if isinstance(batch, np.ndarray) else batch).to(device)
        x = to_float(batch, pixel_max)
        mu, logvar = model.encode(x)
        mus.append(mu)
        kls.append(0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0))
        recon += float(F.binary_cross_entropy_with_logits(model.decode(mu), x, reduction="sum"))
        pixel_sum = x.sum(0) if pixel_sum is None else pixel_sum + x.sum(0)
        batches.append(x)
    n = len(images)
    mean_face = (pixel_sum / n).clamp(1e-4, 1 - 1e-4)
    baseline = sum(float(F.binary_cross_entropy(mean_face.expand_as(x), x, reduction="sum"))
                   for x in batches)
    mu = torch.cat(mus)
    kl_dims = torch.cat(kls).mean(0)
    active = mu.var(0, unbiased=False) > ACTIVE_VARIANCE
    out = {"kl_total": float(kl_dims.sum()), "active_total": int(active.sum())}
    start = 0
    for name, size in zip(names, partitions):
        out[f"kl_{name}"] = float(kl_dims[start:start + size].sum())
        out[f"active_{name}"] = int(active[start:start + size].sum())
        start += size
    out["mean_code_recon"] = recon / n  # not `recon`: the training row already has that key
    out["mean_face_recon"] = baseline / n
    out["recon_vs_mean_face"] = recon / baseline if baseline > 0 else float("nan")
    return out


def collapsed_partitions(diagnostics: dict, names: Sequence[str]) -> list[str]:
    """The partitions with no active dim (their codes do not vary with the image)."""
    return [name for name in names if diagnostics.get(f"active_{name}", 0) == 0]
