"""Numeric precision of the networks' arithmetic: `train.precision` in params.yaml.

- fp32: plain float32 everywhere (on CUDA, TF32 matmuls are switched off too).
- bf16: the encoder and decoder run under autocast to bfloat16 (CPU with AVX-512 BF16, or CUDA),
  in training and at test time (models/base.py); weights, optimizer state, losses and the
  regulariser stay float32, so the gating, the KL and every objective see float32 tensors.
- tf32 (CUDA only): float32 tensors, TensorFloat-32 matmuls and convolutions.
- fp16 (CUDA only): autocast to float16 with a dynamic loss scale (GradScaler).

On a CPU every mode is deterministic: the same seed gives the same bytes.
"""

from __future__ import annotations

import torch

from gatedvae.errors import StageError
from gatedvae.training.config import CUDA_ONLY_PRECISIONS as CUDA_ONLY, PRECISIONS


class PrecisionError(StageError, ValueError):
    """A precision the device cannot run (tf32 or fp16 without CUDA)."""


def precision_problem(precision: str, device: torch.device | None = None) -> str | None:
    """What is wrong with `precision` on `device` (None: any device), or None."""
    if precision not in PRECISIONS:
        return f"must be one of {PRECISIONS}, got {precision!r}"
    if device is not None and device.type != "cuda" and precision in CUDA_ONLY:
        return (f"{precision!r} needs a CUDA device (this run is on {device.type}); "
                "use fp32 or bf16 on a CPU")
    return None


class Precision:
    """What the engine does for one precision beyond the nets' autocast (VAE.precision): the CUDA
    matmul modes and, in fp16, the loss scale."""

    def __init__(self, precision: str, device: torch.device):
        problem = precision_problem(precision, device)
        if problem:
            raise PrecisionError(f"precision: {problem} (train.precision in params.yaml)")
        self.name, self.device = precision, device
        if device.type == "cuda":
            fast = precision == "tf32"
            torch.backends.cuda.matmul.allow_tf32 = fast
            torch.backends.cudnn.allow_tf32 = fast
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

