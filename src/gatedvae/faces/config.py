"""faces.train params -> the shared engine's TrainConfig; errors name the params.yaml key."""

from __future__ import annotations

from gatedvae.engine import PARTITION_ORDERS, TrainConfig
from gatedvae.objectives import OBJECTIVES
from gatedvae.params import ParamError, check, choice, get, number

GATINGS = ("gated", "ungated")
PARTITIONS = ("pose", "expression")   # the groups.parquet columns, in latent order
KEYS = {"net": "net", "hidden": "hidden", "latent_dim": "partition_sizes", "partitions": "partition_sizes",
        "objective": "objective", "objective_params": "objective_params", "epochs": "epochs",
        "batch_size": "batch_size", "lr": "lr", "partition_order": "partition_order",
        "target_noise": "target_noise", "image_size": "faces.align.size"}


def train_config(params: dict, *, gating: str, image_size: int) -> TrainConfig:
    key = "faces.train"
    check(gating in GATINGS, "gating", f"must be one of {GATINGS}, got {gating!r}")
    sizes = get(params, f"{key}.partition_sizes")
    check(isinstance(sizes, list) and len(sizes) == len(PARTITIONS) and all(isinstance(s, int) for s in sizes),
          f"{key}.partition_sizes", f"must be two integers (pose, expression), got {sizes!r}")
    objective = choice(params, f"{key}.objective", sorted(OBJECTIVES))
    objective_params = get(params, f"{key}.objective_params", {}) or {}
    check(isinstance(objective_params, dict), f"{key}.objective_params", "must be a mapping of weights")
    cfg = TrainConfig(
        net=str(get(params, f"{key}.net")),
        hidden=number(params, f"{key}.hidden", integer=True, positive=True),
        latent_dim=sum(sizes), partitions=list(sizes),
        objective=objective, objective_params=dict(objective_params),
        gated=gating == "gated",
        gate_regulariser=bool(get(params, f"{key}.gate_regulariser")),
        partition_order=choice(params, f"{key}.partition_order", PARTITION_ORDERS),
        target_noise=number(params, f"{key}.target_noise", minimum=0.0),
        epochs=number(params, f"{key}.epochs", integer=True, positive=True),
        batch_size=number(params, f"{key}.batch_size", integer=True, positive=True),
        lr=number(params, f"{key}.lr", positive=True),
        seed=number(params, f"{key}.seed", integer=True),
        device=str(get(params, f"{key}.device")),
        pixel_max=255, image_size=image_size,
    )
    for field_name, problem in cfg.problems():
        where = KEYS.get(field_name, field_name)
        raise ParamError(f"params.yaml: `{where if '.' in where else f'{key}.{where}'}` {problem}")
    return cfg
