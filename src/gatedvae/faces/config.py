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


def check_faces(params: dict) -> None:
    """Validate every faces section at once; each faces stage calls it first, so a bad value stops
    `dvc repro` at the first stage rather than after training."""
    from gatedvae.faces import extractors, synthetic
    from gatedvae.faces.openface import AU_INTENSITIES

    source = choice(params, "faces.acquire.source", ("synthetic", "path", "download"))
    if source == "synthetic":
        values = get(params, "faces.acquire.synthetic")
        check(isinstance(values, dict), "faces.acquire.synthetic", "must be a mapping")
        try:
            synthetic.config_from_dict(values)
        except (TypeError, ValueError) as e:
            raise ParamError(f"params.yaml: `faces.acquire.synthetic` {e}") from e
        n_images = number(params, "faces.acquire.synthetic.n_images", integer=True, minimum=1)
    else:
        check(isinstance(get(params, "faces.acquire.path"), str), "faces.acquire.path", "must be a folder path")
        n_images = None
    choice(params, "faces.align.image_set", ("wild", "aligned"))
    size = number(params, "faces.align.size", integer=True, minimum=8)
    for key in ("face_scale", "min_eye_distance", "max_residual"):
        number(params, f"faces.align.{key}", positive=True)
    number(params, "faces.align.workers", integer=True, minimum=0)
    extractor = choice(params, "faces.features.extractor", extractors.EXTRACTORS)
    if extractor == "synthetic":
        check(source == "synthetic", "faces.features.extractor",
              "synthetic needs faces.acquire.source: synthetic (the ground truth)")
    for part in PARTITIONS:
        number(params, f"faces.cluster.{part}_clusters", integer=True, minimum=1)
    number(params, "faces.cluster.min_mean_size", positive=True)
    choice(params, "faces.cluster.algorithm", ("minibatch", "full"))
    aus = get(params, "faces.cluster.expression_aus")
    check(aus == "all" or (isinstance(aus, list) and aus and all(a in AU_INTENSITIES for a in aus)),
          "faces.cluster.expression_aus", f"must be `all` or a list drawn from {list(AU_INTENSITIES)}")
    cfg = train_config(params, gating="gated", image_size=size)
    if n_images is not None:
        check(cfg.batch_size <= n_images, "faces.train.batch_size",
              f"({cfg.batch_size}) is larger than the data ({n_images} images)")
    number(params, "faces.finetune.epochs", integer=True, minimum=0)
    number(params, "faces.finetune.lr", positive=True)
    n_train = number(params, "faces.evaluate.n_train", integer=True, positive=True)
    n_test = number(params, "faces.evaluate.n_test", integer=True, positive=True)
    if n_images is not None:
        check(n_train + n_test <= n_images, "faces.evaluate.n_train",
              f"+ faces.evaluate.n_test ({n_train} + {n_test}) exceed the data ({n_images} images)")
    number(params, "faces.evaluate.traversal_steps", integer=True, minimum=2)
    for key in ("traversal_images", "traversal_max_dims", "rf_trees", "rf_depth"):
        number(params, f"faces.evaluate.{key}", integer=True, positive=True)
    number(params, "faces.evaluate.traversal_range", positive=True)
    number(params, "faces.evaluate.lasso_alpha", positive=True)
