"""The default `gatedvae bench`: ratios of training throughput, each against a baseline measured
in the same process and run, for the dSprites MLP and the faces conv net.

Per net: engine / compute bound, engine / per-item DataLoader, bf16 / fp32 (engine, where the
device runs bf16) and gated / un-gated (engine); for the MLP, its first layer as a sum over lit
pixels against the dense product (engine); plus the pair sampler against per-item Python.
Every configuration is measured once per round, the rounds interleaved, and the best round kept
(a machine shared with other work slows some rounds; the best is the least disturbed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from gatedvae.bench.dataloader_baseline import dataloader_images_per_second, pairs_per_second
from gatedvae.bench.loops import compute_bound_images_per_second, engine_images_per_second
from gatedvae.bench.report import Ratio, bf16_supported
from gatedvae.bench.synthetic import synthetic_groups, synthetic_images
from gatedvae.training.config import TrainConfig
from gatedvae.training.infer import resolve_device
from gatedvae.training.models.pixel_linear import dense_product


@dataclass
class BenchNet:
    label: str          # e.g. "mlp h256 b128"
    cfg: TrainConfig    # fp32, gated: the reference configuration
    steps: int          # timed steps per measurement


@dataclass
class Budget:
    mlp_steps: int = 150
    conv_steps: int = 48
    warmup_steps: int = 5
    rounds: int = 3
    sampler_pairs: int = 200_000


QUICK = Budget(mlp_steps=6, conv_steps=4, warmup_steps=1, rounds=1, sampler_pairs=20_000)


def bench_nets(hidden: int, device: str, budget: Budget) -> list[BenchNet]:
    """The default-scale shapes of params.yaml: dSprites MLP (batch 128, 4 partitions of 2) and
    faces conv net (hidden 256, batch 64, partitions [6, 18], greyscale 0..255)."""
    mlp = TrainConfig(net="mlp", hidden=hidden, latent_dim=8, partitions=[2, 2, 2, 2],
                      batch_size=128, lr=1e-4, device=device)
    conv = TrainConfig(net="conv", hidden=256, latent_dim=24, partitions=[6, 18], batch_size=64,
                       lr=5e-4, pixel_max=255, device=device)
    return [BenchNet(f"mlp h{hidden} b128", mlp, budget.mlp_steps),
            BenchNet("conv h256 b64", conv, budget.conv_steps)]


def measure_net(net: BenchNet, budget: Budget, with_bf16: bool) -> dict[str, list[float]]:
    """images/s of each configuration, one figure per round."""
    cfg, steps, warmup = net.cfg, net.steps, budget.warmup_steps
    images = synthetic_images((warmup + steps) * cfg.batch_size, cfg.pixel_max, cfg.image_size)
    groups = synthetic_groups(len(images), len(cfg.partitions))
    timed = steps * cfg.batch_size  # the engine's epoch; its warm-up epoch is a prefix
    configurations = {
        "compute_bound": lambda: compute_bound_images_per_second(
            cfg, images[:cfg.batch_size], steps=steps, warmup_steps=warmup),
        "engine": lambda: engine_images_per_second(cfg, images[:timed], groups[:timed],
                                                   warmup_steps=warmup),
        "engine_ungated": lambda: engine_images_per_second(
            dataclasses.replace(cfg, gated=False), images[:timed], None, warmup_steps=warmup),
        "dataloader": lambda: dataloader_images_per_second(cfg, images, groups, steps=steps,
                                                           warmup_steps=warmup),
    }
    if cfg.net == "mlp":
        def engine_dense_first_layer():
            with dense_product():
                return engine_images_per_second(cfg, images[:timed], groups[:timed], warmup_steps=warmup)
        configurations["engine_dense_first_layer"] = engine_dense_first_layer
    if with_bf16:
        configurations["engine_bf16"] = lambda: engine_images_per_second(
            dataclasses.replace(cfg, precision="bf16"), images[:timed], groups[:timed],
            warmup_steps=warmup)
    figures: dict[str, list[float]] = {name: [] for name in configurations}
    for _ in range(budget.rounds):
        for name, measure in configurations.items():
            figures[name].append(measure())
    return figures


def ratios(label: str, best: dict[str, float]) -> list[Ratio]:
    rows = [Ratio("engine vs compute bound", label, best["compute_bound"], best["engine"]),
            Ratio("engine vs per-item DataLoader", label, best["dataloader"], best["engine"])]
    if "engine_dense_first_layer" in best:
        rows.append(Ratio("first layer: lit-pixel sum vs dense (engine)", label,
                          best["engine_dense_first_layer"], best["engine"]))
    if "engine_bf16" in best:
        rows.append(Ratio("bf16 vs fp32 (engine)", label, best["engine"], best["engine_bf16"]))
    rows.append(Ratio("gated vs un-gated (engine)", label, best["engine_ungated"], best["engine"]))
    return rows


def run_throughput(*, hidden: int, device: str, budget: Budget, progress=print) -> dict:
    """Every ratio, and each configuration's figures per round."""
    dev = resolve_device(device)
    with_bf16 = bf16_supported(dev)
    rows: list[Ratio] = []
    figures = {}
    for net in bench_nets(hidden, str(dev), budget):
        progress(f"measuring {net.label}: {net.steps} steps per configuration, "
                 f"{budget.rounds} round(s)")
        per_round = measure_net(net, budget, with_bf16)
        best = {name: max(values) for name, values in per_round.items()}
        figures[net.label] = {"config": dataclasses.asdict(net.cfg), "steps": net.steps,
                              "images_per_s_per_round": per_round}
        rows += ratios(net.label, best)
    groups = synthetic_groups(100_000, 4)
    vectorised, per_item = pairs_per_second(groups, budget.sampler_pairs, partition=3)
    rows.append(Ratio("pair sampler vs per-item Python (pairs/s)", "-", per_item, vectorised))
    return {"rows": rows, "figures": figures, "bf16": with_bf16,
            "budget": dataclasses.asdict(budget), "torch_threads": torch.get_num_threads()}
