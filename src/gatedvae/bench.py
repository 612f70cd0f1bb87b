"""`gatedvae bench`: training throughput of the engine against a per-item DataLoader baseline.

Both sides train the same net with the same gated step on the same synthetic binary images.
The engine keeps images resident as uint8 and draws anchors and pair targets by tensor indexing;
the baseline is the common recipe: a map-style Dataset that builds each (anchor, target) pair in
Python (random.choice within the group) and a DataLoader that collates float tensors.
Reported as images/s and as the engine / baseline ratio, measured in the same process.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np
import torch

from gatedvae.training.config import TrainConfig

from gatedvae.training.fit import new_model, step_loss, train
from gatedvae.training.gating import partition_masks
from gatedvae.training.objectives import build_objective
from gatedvae.training.pairs import PairSampler


class _PerItemPairs(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, groups: np.ndarray, partition: int):
        self.images, self.groups, self.partition = images, groups, partition
        self.members: dict[int, list[int]] = {}
        for i, g in enumerate(groups[:, partition].tolist()):
            self.members.setdefault(g, []).append(i)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        j = random.choice(self.members[int(self.groups[i, self.partition])])
        return (torch.from_numpy(self.images[i].astype(np.float32)),
                torch.from_numpy(self.images[j].astype(np.float32)))


def baseline_images_per_second(images, groups, cfg: TrainConfig, n_steps: int) -> float:
    model = new_model(cfg).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)  # as the engine
    objective = build_objective(cfg.objective, cfg.latent_dim, cfg.objective_params)
    masks = partition_masks(cfg.partitions)
    loaders = [iter(torch.utils.data.DataLoader(_PerItemPairs(images, groups, p),
                                                batch_size=cfg.batch_size, shuffle=True))
               for p in range(len(cfg.partitions))]
    t0 = time.perf_counter()
    for step in range(n_steps):
        p = step % len(cfg.partitions)
        x, target = next(loaders[p])
        eps = torch.randn(len(x), cfg.latent_dim)
        loss, *_ = step_loss(model, objective, x.unsqueeze(1), target.unsqueeze(1), masks[p], eps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return n_steps * cfg.batch_size / (time.perf_counter() - t0)


def sampler_pairs_per_second(groups: np.ndarray, n: int) -> tuple[float, float]:
    """(vectorised PairSampler, per-item Python) pairs drawn per second."""
    sampler = PairSampler(groups)
    anchors = torch.randint(len(groups), (n,))
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    sampler.targets(anchors, 3, g)
    fast = n / (time.perf_counter() - t0)
    members: dict[int, list[int]] = {}
    for i, v in enumerate(groups[:, 3].tolist()):
        members.setdefault(v, []).append(i)
    t0 = time.perf_counter()
    [random.choice(members[groups[a, 3]]) for a in anchors.tolist()]
    slow = n / (time.perf_counter() - t0)
    return fast, slow


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--baseline-steps", type=int, default=150)
    parser.add_argument("--json", help="also write the results here")


def run(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(0)
    images = (rng.random((args.images, 64, 64)) < 0.1).astype(np.uint8)
    groups = np.stack([rng.integers(0, 3, args.images), rng.integers(0, 6, args.images),
                       rng.integers(0, 40, args.images), rng.integers(0, 1024, args.images)], axis=1)
    cfg = TrainConfig(hidden=args.hidden, epochs=args.epochs, device="cpu")
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        engine = train(images, groups, cfg, checkpoint_dir=tmp, progress=False).images_per_second
    baseline = baseline_images_per_second(images, groups, cfg, args.baseline_steps)
    fast, slow = sampler_pairs_per_second(groups, 200_000)
    result = {"torch_threads": torch.get_num_threads(), "hidden": args.hidden,
              "engine_images_per_s": round(engine, 1), "dataloader_images_per_s": round(baseline, 1),
              "training_speedup": round(engine / baseline, 2),
              "sampler_pairs_per_s": round(fast), "python_pairs_per_s": round(slow),
              "sampler_speedup": round(fast / slow, 1)}
    print(json.dumps(result, indent=2))
    if args.json:
        from gatedvae.atomic import save_json
        save_json(args.json, result)
    return 0
