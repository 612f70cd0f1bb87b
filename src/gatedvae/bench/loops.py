"""Timed training loops: the engine itself, and the compute bound of its step.

engine: `fit.train` over one epoch, images/s as the engine reports it (the epoch loop: indexing
the resident uint8 images, pair sampling, the step, and the epoch's checkpoint).
compute bound: the same step (step_loss, zero_grad, backward and Adam under the same Precision)
repeated on one resident float batch: no indexing, no pair sampling, no checkpoint.
Both warm up first (untimed) so that kernel selection and allocator growth are not timed.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gatedvae.training.config import TrainConfig
from gatedvae.training.fit import new_model, step_loss, train
from gatedvae.training.gating import partition_masks
from gatedvae.training.infer import resolve_device, to_float
from gatedvae.training.objectives import build_objective
from gatedvae.training.precision import Precision


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_images_per_second(one_step, *, warmup_steps: int, steps: int, images_per_step: int,
                            device: torch.device) -> float:
    """images/s of `one_step(step)` over `steps` steps, after `warmup_steps` untimed ones."""
    for step in range(warmup_steps):
        one_step(step)
    synchronize(device)
    start = time.perf_counter()
    for step in range(warmup_steps, warmup_steps + steps):
        one_step(step)
    synchronize(device)
    return steps * images_per_step / (time.perf_counter() - start)


def engine_images_per_second(cfg: TrainConfig, images: np.ndarray, groups: np.ndarray | None, *,
                             warmup_steps: int) -> float:
    """One engine epoch over all of `images` (gated: `groups` is the pair index), after an
    untimed warm-up epoch over the first warmup_steps batches."""
    cfg = dataclasses.replace(cfg, epochs=1)
    with tempfile.TemporaryDirectory(prefix="gatedvae-bench-") as tmp:
        if warmup_steps > 0:
            n = warmup_steps * cfg.batch_size
            train(images[:n], None if groups is None else groups[:n], cfg,
                  checkpoint_dir=Path(tmp) / "warmup", progress=False)
        return train(images, groups, cfg, checkpoint_dir=Path(tmp) / "timed",
                     progress=False).images_per_second


@dataclasses.dataclass
class StepParts:
    """What one hand-written training step needs, built as the engine builds it."""
    device: torch.device
    precision: Precision
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    objective: torch.nn.Module
    masks: torch.Tensor


def step_parts(cfg: TrainConfig) -> StepParts:
    device = resolve_device(cfg.device)
    model = new_model(cfg).to(device).train()
    return StepParts(device=device, precision=Precision(cfg.precision, device), model=model,
                     optimizer=torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True),  # as the engine
                     objective=build_objective(cfg.objective, cfg.latent_dim,
                                               cfg.objective_params).to(device),
                     masks=partition_masks(cfg.partitions).to(device))


def compute_bound_images_per_second(cfg: TrainConfig, batch: np.ndarray, *, steps: int,
                                    warmup_steps: int) -> float:
    """cfg's training step repeated on one resident batch (uint8 [B, H, W]); gated steps take
    the partitions in turn, as the engine's round robin does."""
    parts = step_parts(cfg)
    device, precision, model, optimizer, objective, masks = (
        parts.device, parts.precision, parts.model, parts.optimizer, parts.objective, parts.masks)
    x = to_float(torch.from_numpy(np.array(batch, dtype=np.uint8)).to(device), cfg.pixel_max)
    generator = torch.Generator(device).manual_seed(cfg.seed)

    def one_step(step: int) -> None:
        mask = masks[step % len(masks)] if cfg.gated else None
        eps = torch.randn((len(x), cfg.latent_dim), generator=generator, device=device)
        loss, *_ = step_loss(model, objective, x, x, mask, eps,
                             gate_regulariser=cfg.gate_regulariser, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        precision.backward_and_step(loss, optimizer)

    return timed_images_per_second(one_step, warmup_steps=warmup_steps, steps=steps,
                                   images_per_step=len(x), device=device)
