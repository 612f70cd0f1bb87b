"""Network registry: every VAE net registers under a name that params.yaml can use."""

from __future__ import annotations

from typing import Callable

from gatedvae.models.base import VAE

NETS: dict[str, type[VAE]] = {}


def register_net(name: str) -> Callable[[type[VAE]], type[VAE]]:
    def add(cls: type[VAE]) -> type[VAE]:
        NETS[name] = cls
        return cls
    return add


def _load_builtin_nets() -> None:
    # Imported for their registration side effect; conv is optional until the faces branch lands.
    import importlib
    for module in ("gatedvae.models.mlp", "gatedvae.models.conv"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


def build_net(name: str, *, latent_dim: int, image_size: int = 64, hidden: int = 256) -> VAE:
    _load_builtin_nets()
    if name not in NETS:
        raise KeyError(f"unknown net {name!r}; registered: {sorted(NETS)}")
    return NETS[name](latent_dim=latent_dim, image_size=image_size, hidden=hidden)
