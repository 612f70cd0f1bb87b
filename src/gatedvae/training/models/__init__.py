"""Network registry: every VAE net registers under a name that params.yaml can use."""

from __future__ import annotations

from typing import Callable

from gatedvae.training.models.base import VAE

NETS: dict[str, type[VAE]] = {}


def register_net(name: str) -> Callable[[type[VAE]], type[VAE]]:
    def add(cls: type[VAE]) -> type[VAE]:
        NETS[name] = cls
        return cls
    return add


def build_net(name: str, *, latent_dim: int, image_size: int = 64, hidden: int = 256) -> VAE:
    if name not in NETS:
        raise KeyError(f"unknown net {name!r}; registered: {sorted(NETS)}")
    return NETS[name](latent_dim=latent_dim, image_size=image_size, hidden=hidden)


# The built-in nets register themselves on import (plain imports, so the stages' dependency test
# sees them).
from gatedvae.training.models import conv, mlp  # noqa: E402,F401
