"""A trained model on disk: its weights with the config that built it (written atomically)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gatedvae.atomic import atomic_path
from gatedvae.errors import InputError
from gatedvae.training.config import TrainConfig
from gatedvae.training.models import build_net
from gatedvae.training.models.base import VAE


def save_model(path, model: VAE, cfg: TrainConfig, **extra) -> None:
    with atomic_path(path) as tmp:
        torch.save({"config": dataclasses.asdict(cfg), "state_dict": model.cpu().state_dict(),
                    **extra}, tmp)


def load_model(path) -> tuple[VAE, TrainConfig, dict]:
    if not Path(path).is_file():
        raise InputError(path, "not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        state["config"], state["state_dict"]
    except Exception as e:  # torch raises RuntimeError, EOFError, UnpicklingError... on bad bytes
        raise InputError(path, f"not a readable model file (truncated or corrupt?): "
                               f"{type(e).__name__}: {e}") from e
    cfg = TrainConfig(**state["config"])
    model = build_net(cfg.net, latent_dim=cfg.latent_dim, image_size=cfg.image_size, hidden=cfg.hidden)
    model.load_state_dict(state["state_dict"])
    model.precision = cfg.precision  # test time runs in the arithmetic it was trained in
    extra = {k: v for k, v in state.items() if k not in ("config", "state_dict")}
    return model, cfg, extra
