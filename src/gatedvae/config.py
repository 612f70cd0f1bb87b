"""params.yaml -> validated configs. Every error names the params.yaml key to fix.

Checked before any work: each stage calls `check_dsprites(params)` first, so a bad value stops
`dvc repro` at the first stage instead of after an hour of training.
"""

from __future__ import annotations

from gatedvae.engine import PARTITION_ORDERS, TrainConfig
from gatedvae.objectives import OBJECTIVES
from gatedvae.params import ParamError, check, choice, get, number

DSPRITES_FACTORS = ("shape", "scale", "orientation", "pos_x", "pos_y")
GATINGS = ("gated", "ungated")

# TrainConfig field -> the params.yaml key it comes from (for error messages)
TRAIN_KEYS = {
    "net": "net.name", "hidden": "net.hidden", "latent_dim": "net.latent_dim",
    "partitions": "net.partition_sizes", "epochs": "train.epochs",
    "batch_size": "train.batch_size", "lr": "train.lr", "partition_order": "train.partition_order",
    "target_noise": "train.target_noise", "gate_regulariser": "train.gate_regulariser",
    "device": "train.device",
}


def train_config(params: dict, *, model: str, gating: str, seed: int, pixel_max: int = 1,
                 image_size: int = 64) -> TrainConfig:
    check(model in OBJECTIVES, "sweep.models", f"names unknown model {model!r}; known: {sorted(OBJECTIVES)}")
    check(gating in GATINGS, "gating", f"must be one of {GATINGS}, got {gating!r}")
    sizes = get(params, "net.partition_sizes")
    check(isinstance(sizes, list) and all(isinstance(s, int) for s in sizes),
          "net.partition_sizes", f"must be a list of integers, got {sizes!r}")
    objective_params = get(params, f"objectives.{model}", {}) or {}
    check(isinstance(objective_params, dict), f"objectives.{model}", "must be a mapping of weights")
    for key, value in objective_params.items():
        check(isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0,
              f"objectives.{model}.{key}", f"must be a number >= 0, got {value!r}")
    cfg = TrainConfig(
        net=get(params, "net.name"),
        hidden=number(params, "net.hidden", integer=True, positive=True),
        latent_dim=number(params, "net.latent_dim", integer=True, positive=True),
        partitions=list(sizes),
        objective=model, objective_params=dict(objective_params),
        gated=gating == "gated",
        gate_regulariser=bool(get(params, "train.gate_regulariser", True)),
        partition_order=choice(params, "train.partition_order", PARTITION_ORDERS, "round_robin"),
        target_noise=number(params, "train.target_noise", minimum=0.0, default=0.0),
        epochs=number(params, "train.epochs", integer=True, positive=True),
        batch_size=number(params, "train.batch_size", integer=True, positive=True),
        lr=number(params, "train.lr", positive=True),
        seed=int(seed), device=str(get(params, "train.device", "auto")),
        pixel_max=pixel_max, image_size=image_size,
    )
    for field_name, problem in cfg.problems():
        key = TRAIN_KEYS.get(field_name, f"objectives.{model}")
        raise ParamError(f"params.yaml: `{key}` {problem}")
    return cfg


def partitions(params: dict) -> dict[str, list[str]]:
    parts = get(params, "pairs.partitions")
    check(isinstance(parts, dict) and parts, "pairs.partitions",
          "must map each partition name to a list of factor columns")
    for name, cols in parts.items():
        check(isinstance(cols, list) and cols and all(c in DSPRITES_FACTORS for c in cols),
              f"pairs.partitions.{name}", f"must be a non-empty list drawn from {DSPRITES_FACTORS}, got {cols!r}")
    return parts


def intended_partition(parts: dict[str, list[str]], factors=DSPRITES_FACTORS) -> list[int | None]:
    """For each factor, the index of the partition whose pairs share it alone (else None)."""
    out = []
    for factor in factors:
        owners = [i for i, cols in enumerate(parts.values()) if factor in cols]
        out.append(owners[0] if len(owners) == 1 else None)
    return out


def check_dsprites(params: dict, n_images: int | None = None) -> None:
    """Validate every dSprites section at once (called first by every dSprites stage)."""
    models = get(params, "sweep.models")
    check(isinstance(models, list) and models, "sweep.models", "must be a non-empty list")
    for model in models:
        check(model in OBJECTIVES, "sweep.models", f"names unknown model {model!r}; known: {sorted(OBJECTIVES)}")
    seeds = get(params, "sweep.seeds")
    check(isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds),
          "sweep.seeds", f"must be a non-empty list of integers, got {seeds!r}")
    parts = partitions(params)
    sizes = get(params, "net.partition_sizes")
    check(isinstance(sizes, list) and len(sizes) == len(parts), "net.partition_sizes",
          f"must have one size per partition in pairs.partitions ({len(parts)}), got {sizes!r}")
    for model in models:
        train_config(params, model=model, gating="gated", seed=seeds[0])
    n_cfg = number(params, "dsprites.n_images", integer=True, minimum=0)
    n = n_images if n_images is not None else (n_cfg or 737_280)
    batch = get(params, "train.batch_size")
    check(batch <= n, "train.batch_size", f"({batch}) is larger than the data ({n} images)")
    number(params, "finetune.epochs", integer=True, minimum=0)
    number(params, "finetune.lr", positive=True)
    n_train = number(params, "evaluate.n_train", integer=True, positive=True)
    n_test = number(params, "evaluate.n_test", integer=True, positive=True)
    check(n_train + n_test <= n, "evaluate.n_train",
          f"+ evaluate.n_test ({n_train} + {n_test}) exceed the data ({n} images)")
    number(params, "evaluate.lasso_alpha", positive=True)
    number(params, "evaluate.rf_trees", integer=True, positive=True)
    number(params, "evaluate.rf_depth", integer=True, positive=True)
