"""params.yaml's `dsprites` section -> validated settings. Every error names the key to fix.

Each dSprites stage calls `check_dsprites` first (inside `unrecorded`: checking a value is not
using it), so a bad value anywhere stops `dvc repro` at the first stage, before any work. Then
the stage builds just the settings it uses with the functions below, which are the same ones
the check runs. No torch import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gatedvae.devices import device_problem
from gatedvae.dsprites.spec import DSPRITES_MD5, DSPRITES_URL, FACTOR_NAMES, N_GRID, SOURCES
from gatedvae.evaluation.settings import EvalSettings
from gatedvae.params import ParamError, check, choice, flag, get, number, unrecorded
from gatedvae.schema import check_keys
from gatedvae.training.config import (GATINGS, NET_NAMES, OBJECTIVE_DEFAULTS, PAIR_METHODS, PAIR_SAMPLERS,
                                      PAIRS, PARTITION_ORDERS, FinetuneSettings, TrainConfig)

# TrainConfig field -> the params.yaml key it comes from (for error messages)
TRAIN_KEYS = {
    "net": "dsprites.net.name", "hidden": "dsprites.net.hidden", "latent_dim": "dsprites.net.latent_dim",
    "partitions": "dsprites.net.partition_sizes", "epochs": "dsprites.train.epochs",
    "batch_size": "dsprites.train.batch_size", "lr": "dsprites.train.lr",
    "partition_order": "dsprites.train.partition_order", "target_noise": "dsprites.train.target_noise",
    "gate_regulariser": "dsprites.train.gate_regulariser", "device": "dsprites.train.device",
    "precision": "dsprites.train.precision", "pair_sampler": "dsprites.baselines.pair_sampler",
    "pair_k": "dsprites.baselines.pair_k",
}


@dataclass
class AcquireSettings:
    source: str
    n_images: int
    seed: int
    path: str | None
    url: str
    md5: str | None
    download_dir: str | None


def acquire_settings(params: dict) -> AcquireSettings:
    key = "dsprites.acquire"
    check(isinstance(get(params, key), dict), key, "must be a mapping")
    source = choice(params, f"{key}.source", SOURCES)
    npz_path = get(params, f"{key}.path", None)
    url = get(params, f"{key}.url", None) or DSPRITES_URL
    md5 = get(params, f"{key}.md5", DSPRITES_MD5)
    download_dir = get(params, f"{key}.download_dir", None)
    check(npz_path is None or isinstance(npz_path, str), f"{key}.path",
          f"must be a file path or null, got {npz_path!r}")
    check(npz_path is not None, f"{key}.path",
          "must name the dSprites .npz file, or a folder holding it (for source `path`; "
          "a dependency of dsprites_acquire whatever the source)")
    if source == "path":
        check(Path(npz_path).exists(), f"{key}.path",
              f"{npz_path}: not found; place the .npz file there or point this key at it")
    check(isinstance(url, str) and url.startswith(("http://", "https://")), f"{key}.url",
          f"must be an http(s) URL, got {url!r}")
    check(md5 is None or (isinstance(md5, str) and re.fullmatch(r"[0-9a-fA-F]{32}", md5)),
          f"{key}.md5", f"must be 32 hex digits or null (no check), got {md5!r}")
    check(download_dir is None or isinstance(download_dir, str), f"{key}.download_dir",
          f"must be a folder path or null, got {download_dir!r}")
    return AcquireSettings(source=source, n_images=number(params, f"{key}.n_images", integer=True, minimum=0),
                           seed=number(params, f"{key}.seed", integer=True, minimum=0), path=npz_path,
                           url=url, md5=md5, download_dir=download_dir)


def sweep(params: dict) -> tuple[list[str], list[int]]:
    """(models, seeds) of the main matrix."""
    models = get(params, "dsprites.sweep.models")
    check(isinstance(models, list) and models, "dsprites.sweep.models", "must be a non-empty list")
    for model in models:
        check(model in OBJECTIVE_DEFAULTS, "dsprites.sweep.models",
              f"names unknown model {model!r}; known: {sorted(OBJECTIVE_DEFAULTS)}")
    check(len(set(models)) == len(models), "dsprites.sweep.models",
          f"lists a value twice: {models!r} (DVC runs it once)")
    return list(models), _seed_list(params, "dsprites.sweep.seeds")


def _seed_list(params: dict, key: str) -> list[int]:
    seeds = get(params, key)
    check(isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds),
          key, f"must be a non-empty list of integers, got {seeds!r}")
    check(len(set(seeds)) == len(seeds), key, f"lists a value twice: {seeds!r} (DVC runs it once)")
    return list(seeds)


def baselines(params: dict) -> tuple[list[str], list[int]]:
    """(pair methods, seeds) of the baseline rows beside the main matrix (docs/baselines.md)."""
    key = "dsprites.baselines"
    methods = get(params, f"{key}.methods")
    check(isinstance(methods, list) and methods and all(m in PAIR_METHODS for m in methods)
          and len(set(methods)) == len(methods), f"{key}.methods",
          f"must list distinct pair methods from {sorted(PAIR_METHODS)}, got {methods!r}")
    return list(methods), _seed_list(params, f"{key}.seeds")


def train_config(params: dict, *, model: str, gating: str, seed: int, pixel_max: int = 1,
                 image_size: int = 64) -> TrainConfig:
    """A main-matrix run (gating gated | ungated, a regulariser) or a baseline (gating pairs, a
    pair method of dsprites.baselines)."""
    check(model in OBJECTIVE_DEFAULTS, "dsprites.sweep.models",
          f"names unknown model {model!r}; known: {sorted(OBJECTIVE_DEFAULTS)}")
    check(gating in (*GATINGS, PAIRS), "gating", f"must be one of {(*GATINGS, PAIRS)}, got {gating!r}")
    pairs = gating == PAIRS
    check(pairs == (model in PAIR_METHODS), "gating",
          f"`{PAIRS}` goes with the pair methods {sorted(PAIR_METHODS)} (dsprites.baselines.methods) "
          f"and they with it, got model {model!r} with gating {gating!r}")
    sizes = get(params, "dsprites.net.partition_sizes")
    check(isinstance(sizes, list) and all(isinstance(s, int) for s in sizes),
          "dsprites.net.partition_sizes", f"must be a list of integers, got {sizes!r}")
    objective_key = f"dsprites.objectives.{model}"
    objective_params = get(params, objective_key, {}) or {}
    check(isinstance(objective_params, dict), objective_key, "must be a mapping of weights")
    for key, value in objective_params.items():
        check(isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0,
              f"{objective_key}.{key}", f"must be a number >= 0, got {value!r}")
    cfg = TrainConfig(
        net=choice(params, "dsprites.net.name", NET_NAMES),
        hidden=number(params, "dsprites.net.hidden", integer=True, positive=True),
        latent_dim=number(params, "dsprites.net.latent_dim", integer=True, positive=True),
        partitions=list(sizes),
        objective=model, objective_params=dict(objective_params),
        gated=gating == "gated",
        gate_regulariser=flag(params, "dsprites.train.gate_regulariser", True),
        partition_order=choice(params, "dsprites.train.partition_order", PARTITION_ORDERS, "round_robin"),
        # the noise study's knob is for gated pairs; the baselines take the pairs as they are
        target_noise=0.0 if pairs else number(params, "dsprites.train.target_noise", minimum=0.0, default=0.0),
        epochs=number(params, "dsprites.train.epochs", integer=True, positive=True),
        batch_size=number(params, "dsprites.train.batch_size", integer=True, positive=True),
        lr=number(params, "dsprites.train.lr", positive=True),
        seed=int(seed), device=get(params, "dsprites.train.device", "auto"),
        precision=str(get(params, "dsprites.train.precision", "fp32")),
        pixel_max=pixel_max, image_size=image_size,
        **(pair_settings(params) if pairs else {}),
    )
    for field_name, problem in cfg.problems():
        raise ParamError(f"params.yaml: `{TRAIN_KEYS.get(field_name, objective_key)}` {problem}")
    return cfg


def pair_settings(params: dict) -> dict:
    """The baselines' pair source (TrainConfig.pair_sampler, pair_k)."""
    return {"pair_sampler": choice(params, "dsprites.baselines.pair_sampler", PAIR_SAMPLERS, "partition"),
            "pair_k": number(params, "dsprites.baselines.pair_k", integer=True, minimum=0, default=1)}


def partitions(params: dict) -> dict[str, list[str]]:
    """Partition name -> the factor columns a pair for it shares."""
    key = "dsprites.pairs.partitions"
    parts = get(params, key)
    check(isinstance(parts, dict) and parts, key, "must map each partition name to a list of factor columns")
    for name, cols in parts.items():
        check(isinstance(cols, list) and cols and all(c in FACTOR_NAMES for c in cols),
              f"{key}.{name}", f"must be a non-empty list drawn from {FACTOR_NAMES}, got {cols!r}")
    return parts


def intended_partition(parts: dict[str, list[str]], factors=FACTOR_NAMES) -> list[int | None]:
    """For each factor, the index of the partition whose pairs share it alone (else None)."""
    out = []
    for factor in factors:
        owners = [i for i, cols in enumerate(parts.values()) if factor in cols]
        out.append(owners[0] if len(owners) == 1 else None)
    return out


def eval_settings(params: dict, n_images: int | None = None) -> EvalSettings:
    return EvalSettings.from_params(params, "dsprites.evaluate", n_images=n_images)


def subset_size(n_images: int, held: int, path) -> int:
    """How many images acquisition takes from a file holding `held` (n_images 0: all)."""
    check(n_images <= held, "dsprites.acquire.n_images",
          f"({n_images:,}) is more than the {held:,} images {path} holds; set at most {held:,}, "
          "or 0 to take them all")
    return n_images or held


def check_dsprites(params: dict, n_images: int | None = None) -> None:
    """Validate the whole dSprites branch at once; n_images: the data's size when known (else
    what dsprites.acquire.n_images asks for; acquisition from a file passes what it will take)."""
    with unrecorded(params):
        check_keys(params)
        acquire = acquire_settings(params)
        models, seeds = sweep(params)
        parts = partitions(params)
        sizes = get(params, "dsprites.net.partition_sizes")
        check(isinstance(sizes, list) and len(sizes) == len(parts), "dsprites.net.partition_sizes",
              f"must have one size per partition in dsprites.pairs.partitions ({len(parts)}), got {sizes!r}")
        for model in models:
            cfg = train_config(params, model=model, gating="gated", seed=seeds[0])
        methods, baseline_seeds = baselines(params)
        outside = [s for s in baseline_seeds if s not in seeds]
        check(not outside, "dsprites.baselines.seeds",
              f"names seed(s) {outside} that dsprites.sweep.seeds ({seeds}) lacks: each baseline is "
              "paired with the sweep's gated run of its seed")
        for method in methods:
            train_config(params, model=method, gating=PAIRS, seed=seeds[0])
        check(device_problem(cfg.device) is None, "dsprites.train.device", str(device_problem(cfg.device)))
        n = n_images if n_images is not None else (acquire.n_images or N_GRID)
        batch = get(params, "dsprites.train.batch_size")
        check(batch <= n, "dsprites.train.batch_size", f"({batch}) is larger than the data ({n} images)")
        FinetuneSettings.from_params(params, "dsprites.finetune")
        eval_settings(params, n_images=n)
