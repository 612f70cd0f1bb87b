"""The common recipe the engine replaces, as baselines: a map-style Dataset that builds each
(anchor, target) pair in Python (random.choice within the group) behind a DataLoader that
collates float tensors; and per-item Python pair drawing against the vectorised PairSampler.
"""

from __future__ import annotations

import random
import time

import numpy as np
import torch

from gatedvae.bench.loops import step_parts, timed_images_per_second
from gatedvae.training.config import TrainConfig
from gatedvae.training.fit import step_loss
from gatedvae.training.pairs import PairSampler


class PerItemPairs(torch.utils.data.Dataset):
    """(anchor, target) float pairs for one partition, one item at a time."""

    def __init__(self, images: np.ndarray, groups: np.ndarray, partition: int, pixel_max: int):
        self.images, self.groups, self.partition = images, groups, partition
        self.scale = 1.0 / pixel_max
        self.members: dict[int, list[int]] = {}
        for i, g in enumerate(groups[:, partition].tolist()):
            self.members.setdefault(g, []).append(i)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        j = random.choice(self.members[int(self.groups[i, self.partition])])
        return (torch.from_numpy(self.images[i].astype(np.float32) * self.scale),
                torch.from_numpy(self.images[j].astype(np.float32) * self.scale))


def dataloader_images_per_second(cfg: TrainConfig, images: np.ndarray, groups: np.ndarray, *,
                                 steps: int, warmup_steps: int) -> float:
    """cfg's gated step fed by one per-item DataLoader per partition (round robin); needs
    (warmup_steps + steps) * batch_size images."""
    parts = step_parts(cfg)
    device, precision, model, optimizer, objective, masks = (
        parts.device, parts.precision, parts.model, parts.optimizer, parts.objective, parts.masks)
    random.seed(cfg.seed)
    loaders = [iter(torch.utils.data.DataLoader(PerItemPairs(images, groups, p, cfg.pixel_max),
                                                batch_size=cfg.batch_size, shuffle=True))
               for p in range(len(cfg.partitions))]

    def one_step(step: int) -> None:
        p = step % len(loaders)
        x, target = (t.unsqueeze(1).to(device) for t in next(loaders[p]))
        eps = torch.randn(len(x), cfg.latent_dim, device=device)
        loss, *_ = step_loss(model, objective, x, target, masks[p], eps,
                             gate_regulariser=cfg.gate_regulariser)
        optimizer.zero_grad(set_to_none=True)
        precision.backward_and_step(loss, optimizer)

    return timed_images_per_second(one_step, warmup_steps=warmup_steps, steps=steps,
                                   images_per_step=cfg.batch_size, device=device)


def pairs_per_second(groups: np.ndarray, n: int, partition: int = 0) -> tuple[float, float]:
    """(vectorised PairSampler, per-item Python random.choice) targets drawn per second."""
    sampler = PairSampler(groups)
    anchors = torch.randint(len(groups), (n,), generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    sampler.targets(anchors, partition, torch.Generator().manual_seed(0))
    vectorised = n / (time.perf_counter() - start)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups[:, partition].tolist()):
        members.setdefault(g, []).append(i)
    column = groups[:, partition]
    start = time.perf_counter()
    [random.choice(members[column[a]]) for a in anchors.tolist()]
    per_item = n / (time.perf_counter() - start)
    return vectorised, per_item
