"""The training engine shared by every dataset and model: gated, un-gated and decoder fine-tuning.

Images stay resident as uint8 ([N, H, W]); each step indexes a batch of anchors (and, when gated,
their pair targets) from a generator seeded by (seed, epoch), so a run is deterministic and an
interrupted run resumes from its last per-epoch checkpoint to exactly the same weights.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gatedvae import timing
from gatedvae.atomic import atomic_path
from gatedvae.errors import StageError
from gatedvae.training.config import TrainConfig
from gatedvae.training.diagnostics import collapse_diagnostics, partition_names, probe_rows
from gatedvae.training.gating import gate, partition_masks
from gatedvae.training.infer import resolve_device, to_float
from gatedvae.training.models import build_net
from gatedvae.training.models.base import VAE
from gatedvae.training.objectives import build_objective
from gatedvae.training import weak
from gatedvae.training.config import PAIR_METHODS
from gatedvae.training.pairs import KFactorSampler, PairSampler, partition_pairs
from gatedvae.training.precision import Precision


class TrainingDiverged(StageError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    model: VAE
    history: list[dict]
    images_per_second: float
    seconds: float
    singletons: list[int] = field(default_factory=list)


def _epoch_seed(seed: int, epoch: int, stream: str) -> int:
    digest = hashlib.sha256(f"{stream}:{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _data_fingerprint(images: np.ndarray, groups: np.ndarray | None) -> str:
    h = hashlib.sha1(str(images.shape).encode())
    stride = max(1, len(images) // 512)
    h.update(np.ascontiguousarray(images[::stride]).tobytes())
    if groups is not None:
        h.update(np.ascontiguousarray(groups).tobytes())
    return h.hexdigest()


def bernoulli_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over pixels, averaged over the batch."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(logits)


class _Live:
    """dvclive logging that can be rebuilt from the checkpoint's history after a resume."""

    def __init__(self, log_dir: Path | None, history: list[dict]):
        self.live = None
        if log_dir is None:
            return
        from dvclive import Live
        shutil.rmtree(log_dir, ignore_errors=True)
        self.live = Live(dir=str(log_dir), save_dvc_exp=False, dvcyaml=None, report=None)
        for row in history:
            self.log(row)

    def log(self, row: dict) -> None:
        if self.live is None:
            return
        for key, value in row.items():
            if key != "epoch":
                self.live.log_metric(key, value)
        self.live.next_step()

    def close(self) -> None:
        if self.live is not None:
            self.live.end()


def step_loss(model: VAE, objective, x: torch.Tensor, x_target: torch.Tensor,
              mask: torch.Tensor | None, eps: torch.Tensor, *, gate_regulariser: bool = True,
              generator: torch.Generator | None = None, reg_weight: float = 1.0,
              free_bits: torch.Tensor | None = None, masks: torch.Tensor | None = None):
    """One training step's loss: (loss, recon, regulariser, parts, z).

    mask None: a plain VAE step. mask [M] bool: a gated step; the forward pass uses all of z with
    unchanged values, the encoder gets gradient only through the masked dims, the decoder fully.
    reg_weight scales the regulariser (KL warm-up). free_bits [P] (nats, with masks [P, M], the
    partitions): partition p's KL term stops pulling once it is below free_bits[p] (Kingma et
    al. 2016), i.e. its value is max(KL_p, free_bits[p]) and its gradient is 0 below the floor.
    """
    mu, logvar = model.encode(x)  # float32 in every precision (VAE.precision)
    mu_g, logvar_g = (gate(mu, mask), gate(logvar, mask)) if mask is not None else (mu, logvar)
    z = mu_g + eps * torch.exp(0.5 * logvar_g)
    recon = bernoulli_nll(model.decode(z), x_target)
    if mask is not None and not gate_regulariser:
        mu_r, logvar_r = mu, logvar
        reg, parts = objective(mu, logvar, mu + eps * torch.exp(0.5 * logvar), generator)
    else:
        mu_r, logvar_r = mu_g, logvar_g
        reg, parts = objective(mu_g, logvar_g, z, generator)
    if free_bits is not None:
        reg = reg + free_bits_penalty(objective, mu_r, logvar_r, masks, free_bits)
    if reg_weight != 1.0:
        reg = reg * reg_weight
    return recon + reg, recon, reg, parts, z


def free_bits_penalty(objective, mu, logvar, masks: torch.Tensor, free_bits: torch.Tensor) -> torch.Tensor:
    """What lifts each partition's KL to its floor: kl_weight * sum_p (max(KL_p, b_p) - KL_p)."""
    kl_partitions = masks.to(mu.dtype) @ (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)).mean(0)
    return objective.kl_weight * (torch.maximum(kl_partitions, free_bits) - kl_partitions).sum()


def pair_step_loss(model: VAE, objective, x1: torch.Tensor, x2: torch.Tensor, shared_partitions: torch.Tensor,
                   n_changed: torch.Tensor, masks: torch.Tensor, eps: torch.Tensor, *,
                   generator: torch.Generator | None = None, reg_weight: float = 1.0,
                   free_bits: torch.Tensor | None = None):
    """One step of a pair method (objectives.PairObjective, training/weak.py): (loss, recon,
    regulariser, parts, z) over the 2B images of B pairs (x1[i], x2[i]).

    Both images are encoded in one batch; the dims the method judges shared get the pair's
    aggregate posterior; each image is reconstructed from a sample of its own (partly aggregated)
    posterior; the loss is the mean of the images' ELBOs with beta on the KL (eps: [2B, M])."""
    b = len(x1)
    mu, logvar = model.encode(torch.cat([x1, x2]))
    mu1, mu2, logvar1, logvar2 = mu[:b], mu[b:], logvar[:b], logvar[b:]
    with torch.no_grad():  # which dims are shared is a decision, not a path for gradient
        shared = objective.shared(weak.pair_kl(mu1, logvar1, mu2, logvar2), shared_partitions.to(mu.device),
                                  masks, n_changed.to(mu.device))
    agg1_mu, agg1_logvar, agg2_mu, agg2_logvar = objective.aggregate(mu1, logvar1, mu2, logvar2, shared)
    mu_p, logvar_p = torch.cat([agg1_mu, agg2_mu]), torch.cat([agg1_logvar, agg2_logvar])
    z = mu_p + eps * torch.exp(0.5 * logvar_p)
    recon = bernoulli_nll(model.decode(z), torch.cat([x1, x2]))
    reg, parts = objective(mu_p, logvar_p, z, generator)
    parts = {**parts, "shared_dims": shared.to(mu.dtype).sum(1).mean()}
    if free_bits is not None:
        reg = reg + free_bits_penalty(objective, mu_p, logvar_p, masks, free_bits)
    if reg_weight != 1.0:
        reg = reg * reg_weight
    return recon + reg, recon, reg, parts, z


def kl_warmup_weight(global_step: int, total_steps: int, fraction: float) -> float:
    """The regulariser's weight at a step: rises linearly from 1/n to 1 over the first
    n = fraction * total_steps steps, then stays 1 (fraction 0: always 1)."""
    if fraction <= 0:
        return 1.0
    return min(1.0, (global_step + 1) / max(1.0, fraction * total_steps))


def step_plan(cfg: TrainConfig, sampler: PairSampler | None, masks: torch.Tensor,
              anchors: torch.Tensor, p: int, epoch: int, g: torch.Generator):
    """(targets, mask): what a step reconstructs and where the encoder's gradient goes.

    Gated: a pair target of each anchor through partition p (mask p). Plain (no sampler): the
    anchor itself through all of z (mask None). The remedies: during the un-gated warm-up
    epochs a gated run takes plain steps; on a self-target step (probability self_target_prob)
    it reconstructs the anchor itself with gradient through the self_target_partitions only.
    The self-target draw comes from g only when that remedy is on, so a run without it keeps
    its random stream (and its bytes)."""
    gated = sampler is not None and epoch >= cfg.ungated_warmup_epochs
    if not gated:
        return anchors, None
    if cfg.self_target_prob > 0 and float(torch.rand(1, generator=g)) < cfg.self_target_prob:
        return anchors, masks[list(cfg.self_target_partitions)].any(0)
    return sampler.targets(anchors, p, g), masks[p]


def _resume(checkpoint: Path, fingerprint: str, device, epochs: int, **state_of) -> tuple[list[dict], int]:
    """(history, epochs done) from the last checkpoint of this very run, loading the states of
    `state_of` (model, optimizer, objective) in place; ([], 0) when there is none."""
    if not checkpoint.exists():
        return [], 0
    state = torch.load(checkpoint, map_location=device, weights_only=False)
    if state.get("fingerprint") != fingerprint:
        print(f"ignoring {checkpoint}: it belongs to another config or data set")
        return [], 0
    for key, module in state_of.items():
        module.load_state_dict(state[key])
    print(f"resuming from {checkpoint} after epoch {state['epoch']}/{epochs}")
    return state["history"], state["epoch"]


def _save_checkpoint(checkpoint: Path, fingerprint: str, epochs_done: int, history: list[dict],
                     **state_of) -> None:
    with atomic_path(checkpoint) as tmp:
        torch.save({"fingerprint": fingerprint, "epoch": epochs_done,
                    **{key: module.state_dict() for key, module in state_of.items()},
                    "history": history}, tmp)


def _epoch_row(epoch: int, totals: dict, steps: int, model: VAE, probe: torch.Tensor, cfg: TrainConfig,
               names: list[str]) -> dict:
    """An epoch's mean losses and the collapse diagnostics on the fixed probe images."""
    row = {"epoch": epoch + 1, **{k: float(v) / steps for k, v in totals.items()}}
    diagnostics = collapse_diagnostics(model, probe, cfg.partitions, pixel_max=cfg.pixel_max, names=names)
    clash = sorted(set(diagnostics) & set(row))
    if clash:  # a diagnostic must never overwrite a training loss in the log
        raise KeyError(f"collapse diagnostics {clash} clash with the training row's keys {sorted(row)}")
    return {**row, **diagnostics}


def _fit(model: VAE, images: np.ndarray, groups: np.ndarray | None, cfg: TrainConfig, *,
         mode: str, epochs: int, lr: float, checkpoint_dir: Path, log_dir: Path | None,
         progress: bool, on_epoch_end=None, partition_names_given=None) -> TrainResult:
    """mode: 'gated' (pairs per partition), 'pairs' (a pair method: objectives.PairObjective),
    'plain' (x' = x) or 'finetune' (plain, encoder frozen).

    The remedies in cfg (kl_warmup, self_target_*, ungated_warmup_epochs, free_bits) apply to
    'gated' and 'plain' training, never to fine-tuning. Each epoch's row also holds the collapse
    diagnostics (training/diagnostics.py) on a fixed probe of the training images."""
    device = resolve_device(cfg.device)
    precision = Precision(cfg.precision, device)  # loss scaling (fp16) and CUDA matmul modes
    model.precision = cfg.precision
    model.to(device)
    if mode == "finetune":
        model.encoder.requires_grad_(False)
        trainable = list(model.decoder.parameters())
    else:
        trainable = list(model.parameters())
    # fused: one kernel for all parameters (measured here: 1.3x the training throughput on a CPU)
    optimizer = torch.optim.Adam(trainable, lr=lr, fused=True)
    with torch.random.fork_rng(devices=[]):  # its own seeded init (FactorVAE's discriminator)
        torch.manual_seed(_epoch_seed(cfg.seed, 0, "objective"))
        objective = build_objective(cfg.objective, cfg.latent_dim, cfg.objective_params).to(device)
    masks = partition_masks(cfg.partitions).to(device)
    remedies = mode != "finetune"
    free_bits = (torch.tensor(cfg.free_bits, dtype=torch.float32, device=device)
                 if remedies and any(b > 0 for b in cfg.free_bits) else None)
    sampler = None
    if mode == "gated" or (mode == "pairs" and cfg.pair_sampler == "partition"):
        sampler = PairSampler(groups, cfg.target_noise)
    elif mode == "pairs":
        sampler = KFactorSampler(groups, cfg.pair_k)
    if sampler is not None and sampler.n_partitions != len(cfg.partitions):
        raise ValueError(f"the pair index has {sampler.n_partitions} partitions but the config has "
                         f"{len(cfg.partitions)} partition sizes {cfg.partitions}")
    # a pair method's step encodes B/2 pairs: as many images per step, and steps, as the others
    anchors_per_step = cfg.batch_size // 2 if mode == "pairs" else cfg.batch_size
    if len(images) < cfg.batch_size:
        raise ValueError(f"batch_size {cfg.batch_size} is larger than the data ({len(images)} images)")

    data = torch.from_numpy(np.array(images, dtype=np.uint8)).to(device)  # resident, uint8
    n = len(data)
    steps = n // cfg.batch_size
    probe = data[torch.from_numpy(probe_rows(n)).to(device)]
    names = partition_names(cfg.partitions, partition_names_given)
    fingerprint = f"{mode}:{cfg.fingerprint()}:{epochs}:{lr}:{_data_fingerprint(images, groups)}"
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint_dir / "last.pt"
    history, start_epoch = _resume(checkpoint, fingerprint, device, epochs,
                                   model=model, optimizer=optimizer, objective=objective)
    live = _Live(log_dir, history)

    seen, t0 = 0, time.perf_counter()
    for epoch in range(start_epoch, epochs):
        model.train()
        if mode == "finetune":
            model.encoder.eval()  # frozen: BatchNorm statistics must not move either
        g = torch.Generator().manual_seed(_epoch_seed(cfg.seed, epoch, mode))
        g_dev = g if device.type == "cpu" else torch.Generator(device).manual_seed(
            _epoch_seed(cfg.seed, epoch, mode + ":device"))
        order = torch.randperm(n, generator=g)
        totals: dict[str, torch.Tensor] = {}
        bar = tqdm(range(steps), desc=f"{mode} epoch {epoch + 1}/{epochs}",
                   disable=None if progress else True,  # None: only on a terminal
                   leave=False, mininterval=1.0)
        for step in bar:
            global_step = epoch * steps + step
            anchors = order[step * anchors_per_step:(step + 1) * anchors_per_step]
            if cfg.partition_order == "round_robin":
                p = global_step % len(cfg.partitions)
            else:
                p = int(torch.randint(len(cfg.partitions), (1,), generator=g))
            reg_weight = kl_warmup_weight(global_step, epochs * steps, cfg.kl_warmup) if remedies else 1.0
            if mode == "pairs":
                targets, shared, n_changed = (partition_pairs(sampler, anchors, p, g)
                                              if isinstance(sampler, PairSampler) else sampler.targets(anchors, g))
                x = to_float(data[anchors.to(device)], cfg.pixel_max)
                x2 = to_float(data[targets.to(device)], cfg.pixel_max)
                eps = torch.randn((2 * len(x), cfg.latent_dim), generator=g_dev, device=device)
                loss, recon, reg, parts, z = pair_step_loss(
                    model, objective, x, x2, shared, n_changed, masks, eps, generator=g_dev,
                    reg_weight=reg_weight, free_bits=free_bits)
            else:
                targets, mask = step_plan(cfg, sampler, masks, anchors, p, epoch, g)
                x = to_float(data[anchors.to(device)], cfg.pixel_max)
                x_target = x if targets is anchors else to_float(data[targets.to(device)], cfg.pixel_max)

                eps = torch.randn((len(x), cfg.latent_dim), generator=g_dev, device=device)
                loss, recon, reg, parts, z = step_loss(
                    model, objective, x, x_target, mask, eps,
                    gate_regulariser=cfg.gate_regulariser, generator=g_dev, reg_weight=reg_weight,
                    free_bits=free_bits, masks=masks)
            if not torch.isfinite(loss):
                live.close()
                kept = f"the last good checkpoint is {checkpoint}" if checkpoint.exists() else \
                    "no checkpoint was written yet"
                raise TrainingDiverged(
                    f"loss became {loss.item()} at epoch {epoch + 1}, step {step + 1} "
                    f"(partition {p}, recon {recon.item():.4g}, regulariser {reg.item():.4g}); "
                    f"{kept}. Lower the learning rate or the regulariser weights and rerun.")
            optimizer.zero_grad(set_to_none=True)
            precision.backward_and_step(loss, optimizer)
            if mode != "finetune":
                parts = {**parts, **objective.after_step(z.detach(), g_dev)}
            for key, value in {"loss": loss, "recon": recon, "regulariser": reg, **parts}.items():
                totals[key] = totals.get(key, 0.0) + value.detach()
            seen += len(z)
        row = _epoch_row(epoch, totals, steps, model, probe, cfg, names)
        history.append(row)
        _save_checkpoint(checkpoint, fingerprint, epoch + 1, history,
                         model=model, optimizer=optimizer, objective=objective)
        live.log(row)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if progress:
            print(f"{mode} epoch {epoch + 1}/{epochs}: " +
                  ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch"), flush=True)
    live.close()
    seconds = time.perf_counter() - t0
    if mode == "finetune":
        model.encoder.requires_grad_(True)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)  # finished: the saved model is the output
    return TrainResult(model=model, history=history, seconds=seconds,
                       images_per_second=seen / seconds if seconds > 0 else math.nan,
                       singletons=getattr(sampler, "singletons", []) if sampler is not None else [])


def new_model(cfg: TrainConfig) -> VAE:
    torch.manual_seed(cfg.seed)
    model = build_net(cfg.net, latent_dim=cfg.latent_dim, image_size=cfg.image_size, hidden=cfg.hidden)
    model.precision = cfg.precision
    return model


def train(images: np.ndarray, groups: np.ndarray | None, cfg: TrainConfig, *, checkpoint_dir,
          log_dir=None, progress: bool = True, on_epoch_end=None,
          partition_names: list[str] | None = None, model: VAE | None = None) -> TrainResult:
    """Gated training when cfg.gated (groups required), else a plain VAE (x' = x).

    on_epoch_end(epoch, row) is called after each epoch's checkpoint is written; partition_names
    name the diagnostics' keys (kl_<name>, active_<name>; else p0, p1, ...). model: the freshly
    built new_model(cfg) to train in place (for a callback that evaluates it), else one is built.
    """
    problems = cfg.problems()
    if problems:
        raise ValueError("invalid training config: " + "; ".join(f"{k}: {v}" for k, v in problems))
    pairs = cfg.objective in PAIR_METHODS
    if (cfg.gated or pairs) and groups is None:
        raise ValueError(f"{'gated training' if cfg.gated else cfg.objective} needs the pair index (groups)")
    with timing.phase("training"):
        return _fit(model if model is not None else new_model(cfg), images, groups, cfg,
                    mode="gated" if cfg.gated else "pairs" if pairs else "plain",
                    epochs=cfg.epochs, lr=cfg.lr, checkpoint_dir=Path(checkpoint_dir),
                    log_dir=Path(log_dir) if log_dir else None, progress=progress,
                    on_epoch_end=on_epoch_end, partition_names_given=partition_names)


def finetune_decoder(model: VAE, images: np.ndarray, cfg: TrainConfig, *, epochs: int, lr: float,
                     checkpoint_dir, log_dir=None, progress: bool = True) -> TrainResult:
    """Freeze the encoder (and its BatchNorm statistics); train the decoder as a plain VAE."""
    with timing.phase("fine-tuning"):
        return _fit(model, images, None, cfg, mode="finetune", epochs=epochs, lr=lr,
                    checkpoint_dir=Path(checkpoint_dir), log_dir=Path(log_dir) if log_dir else None,
                    progress=progress)
