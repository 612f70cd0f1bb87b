"""params.yaml's `faces` section -> validated settings. Every error names the key to fix.

Each faces stage calls `check_faces` first (inside `unrecorded`: checking a value is not using
it), so a bad value anywhere stops `dvc repro` at the first stage rather than after training;
then it builds just the settings it uses with the functions below, which the check runs too.
No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass

from gatedvae.devices import device_problem
from gatedvae.evaluation.settings import EvalSettings
from gatedvae.faces.spec import (AU_INTENSITIES, EXTRACTORS, IMAGE_SETS, PARTITIONS, SOURCES, Needs,
                                 SyntheticConfig, config_from_dict)
from gatedvae.params import ParamError, check, choice, flag, get, number, unrecorded
from gatedvae.schema import check_keys, leaves, unknown_keys
from gatedvae.training.config import (GATINGS, NET_NAMES, OBJECTIVE_DEFAULTS, PAIR_METHODS, PAIRS,
                                      PARTITION_ORDERS, REMEDIES, FinetuneSettings, TrainConfig)

KEYS = {"net": "net", "hidden": "hidden", "latent_dim": "partition_sizes", "partitions": "partition_sizes",
        "objective": "objective", "objective_params": "objective_params", "epochs": "epochs",
        "batch_size": "batch_size", "lr": "lr", "partition_order": "partition_order",
        "target_noise": "target_noise", "image_size": "faces.align.size"}


def source(params: dict) -> str:
    return choice(params, "faces.acquire.source", SOURCES)


def acquire_needs(params: dict):
    """What the chosen stages read from the raw folder (acquire.Needs): acquisition checks and
    installs just that."""
    chosen = extractor(params)
    csv = get(params, "faces.features.openface.csv") if chosen == "openface" else None
    if csv is not None:
        check(isinstance(csv, str) and csv and not csv.startswith(("/", "..")),
              "faces.features.openface.csv", f"must be a path inside faces.acquire.path, got {csv!r}")
    return Needs(image_set=image_set(params), attributes=chosen == "celeba_annotations",
                 openface_csv=csv)


def synthetic_config(params: dict) -> SyntheticConfig:
    values = get(params, "faces.acquire.synthetic")
    check(isinstance(values, dict), "faces.acquire.synthetic", "must be a mapping")
    number(params, "faces.acquire.synthetic.n_images", integer=True, minimum=1)
    try:
        return config_from_dict(values)
    except (TypeError, ValueError) as e:
        raise ParamError(f"params.yaml: `faces.acquire.synthetic` {e}") from e


@dataclass
class AlignSettings:
    image_set: str
    size: int
    face_scale: float
    min_eye_distance: float
    max_residual: float
    workers: int


def image_set(params: dict) -> str:
    """CelebA's image set the faces branch reads (`wild` or `aligned`; see spec.IMAGE_SETS)."""
    return choice(params, "faces.align.image_set", IMAGE_SETS)


def align_settings(params: dict) -> AlignSettings:
    key = "faces.align"
    return AlignSettings(image_set=image_set(params),
                         size=number(params, f"{key}.size", integer=True, minimum=8),
                         face_scale=number(params, f"{key}.face_scale", positive=True),
                         min_eye_distance=number(params, f"{key}.min_eye_distance", positive=True),
                         max_residual=number(params, f"{key}.max_residual", positive=True),
                         workers=number(params, f"{key}.workers", integer=True, minimum=0))


def sheet_size(params: dict) -> tuple[int, int]:
    """(rows, cols) of the greyscale stage's contact sheet."""
    return (number(params, "faces.greyscale.sheet_rows", integer=True, minimum=1),
            number(params, "faces.greyscale.sheet_cols", integer=True, minimum=1))


def extractor(params: dict) -> str:
    return choice(params, "faces.features.extractor", EXTRACTORS)


def synthetic_features(params: dict) -> dict:
    """The synthetic extractor's noise settings (keyword arguments of extractors.from_synthetic)."""
    key = "faces.features.synthetic"
    return dict(pose_noise_deg=number(params, f"{key}.pose_noise_deg", minimum=0),
                au_noise=number(params, f"{key}.au_noise", minimum=0),
                failure_rate=number(params, f"{key}.failure_rate", minimum=0),
                seed=number(params, f"{key}.seed", integer=True))


@dataclass(frozen=True)
class ClusterConfig:
    """k-means settings of one partition (gatedvae.faces.clustering)."""
    n_clusters: int
    seed: int = 0
    min_mean_size: float = 4.0     # cap k at n / min_mean_size for small data sets
    algorithm: str = "minibatch"   # or "full" (Lloyd's KMeans)
    n_init: int = 3
    batch_size: int = 4096
    merge_singletons: bool = True


def cluster_config(params: dict, part: str) -> ClusterConfig:
    """k-means settings of one partition (`pose` or `expression`)."""
    key = "faces.cluster"
    return ClusterConfig(
        n_clusters=number(params, f"{key}.{part}_clusters", integer=True, minimum=1),
        seed=number(params, f"{key}.seed", integer=True),
        min_mean_size=number(params, f"{key}.min_mean_size", positive=True),
        algorithm=choice(params, f"{key}.algorithm", ("minibatch", "full")),
        n_init=number(params, f"{key}.n_init", integer=True, minimum=1),
        batch_size=number(params, f"{key}.batch_size", integer=True, minimum=1),
        merge_singletons=flag(params, f"{key}.merge_singletons"))


def check_cluster_counts(params: dict, n_images: int) -> None:
    """Each partition needs at least 2 clusters among `n_images` after the small-data cap
    (k = min(<part>_clusters, n_images // min_mean_size)): with one, every pair shares the
    partition and its pairing says nothing."""
    for part in PARTITIONS:
        cfg = cluster_config(params, part)
        k = min(cfg.n_clusters, int(n_images // cfg.min_mean_size))
        if k >= 2:
            continue
        if cfg.n_clusters < 2:
            raise ParamError(f"params.yaml: `faces.cluster.{part}_clusters` ({cfg.n_clusters}) must be "
                             "at least 2: with one cluster every pair shares the partition")
        raise ParamError(
            f"params.yaml: `faces.cluster.min_mean_size` ({cfg.min_mean_size:g}) leaves {part} "
            f"{k} cluster(s) for {n_images} images (k = min({cfg.n_clusters}, {n_images} // "
            f"{cfg.min_mean_size:g})); at least 2 are needed: lower it to {n_images / 2:g} or "
            f"less, or use at least {int(2 * cfg.min_mean_size)} images")


def expression_aus(params: dict) -> list[str] | None:
    """The AU columns clustered for expression; None for all of them."""
    aus = get(params, "faces.cluster.expression_aus")
    check(aus == "all" or (isinstance(aus, list) and aus and all(a in AU_INTENSITIES for a in aus)),
          "faces.cluster.expression_aus", f"must be `all` or a list drawn from {list(AU_INTENSITIES)}")
    return None if aus == "all" else list(aus)


def recipe_names(params: dict) -> list[str]:
    recipes = get(params, "faces.recipes")
    check(isinstance(recipes, dict) and recipes and all(isinstance(k, str) for k in recipes),
          "faces.recipes", "must map recipe names to their remedies (`faithful: {}` for none)")
    return list(recipes)


def recipe_remedies(params: dict, recipe: str) -> dict:
    """The TrainConfig fields a recipe sets (faces.recipes.<recipe>), partition names as indices."""
    check(recipe in recipe_names(params), "faces.recipes",
          f"has no recipe {recipe!r}; it has {recipe_names(params)}")
    key = f"faces.recipes.{recipe}"
    values = get(params, key) or {}
    check(isinstance(values, dict), key, "must be a mapping of remedies (or {} for none)")
    unknown = sorted(set(values) - set(REMEDIES))
    check(not unknown, key, f"has unknown remedies {unknown}; known: {list(REMEDIES)}")
    out = dict(values)
    if "self_target_partitions" in out:
        names = out["self_target_partitions"]
        check(isinstance(names, list) and all(n in PARTITIONS for n in names),
              f"{key}.self_target_partitions", f"must be a list drawn from {list(PARTITIONS)}, got {names!r}")
        out["self_target_partitions"] = [PARTITIONS.index(n) for n in names]
    return out


def parse_run(params: dict, run: str) -> tuple[str, str]:
    """A faces run's name, `<gating>-<recipe>` (e.g. gated-self_target), as (gating, recipe)."""
    gating, _, recipe = run.partition("-")
    check(gating in GATINGS and recipe in recipe_names(params), "faces.study.runs",
          f"names runs `<gating>-<recipe>` with gating in {GATINGS} and a recipe of faces.recipes "
          f"({recipe_names(params)}); got {run!r}")
    return gating, recipe


def study_runs(params: dict) -> list[str]:
    runs = get(params, "faces.study.runs")
    check(isinstance(runs, list) and runs and len(set(runs)) == len(runs), "faces.study.runs",
          f"must be a list of distinct run names, got {runs!r}")
    for run in runs:
        parse_run(params, run)
    return list(runs)


def study_seeds(params: dict) -> list[int]:
    seeds = get(params, "faces.study.seeds")
    check(isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool)
                                                    for s in seeds) and len(set(seeds)) == len(seeds),
          "faces.study.seeds", f"must be a list of distinct integers, got {seeds!r}")
    return list(seeds)


MAIN_RUNS_KEYS = ("runs", "seeds", "epochs")
MAIN_RUNS_OPTIONAL = ("baselines",)  # the pair methods trained beside the main runs (docs/baselines.md)


def _main_section(params: dict) -> dict:
    """faces.main_runs: {runs, seeds, epochs}, every key known (the schema leaves the section to
    this module, so a misspelt key is refused here, with a did-you-mean)."""
    section = get(params, "faces.main_runs")
    check(isinstance(section, dict), "faces.main_runs",
          "must be a mapping {runs: [<gated run>, <un-gated run>], seeds: [...], epochs: N}, "
          f"got {section!r}")
    problems = unknown_keys(section, leaves(*MAIN_RUNS_KEYS, *MAIN_RUNS_OPTIONAL), "faces.main_runs.")
    check(not problems, "faces.main_runs", "; ".join(problems))
    missing = [k for k in MAIN_RUNS_KEYS if k not in section]
    check(not missing, "faces.main_runs", f"lacks {missing}: it needs runs, seeds and epochs")
    return section


def main_runs(params: dict) -> dict[str, str]:
    """gating -> the run the main faces results and figures come from (faces.main_runs.runs): one
    gated and one un-gated run of the recipe study, trained again for longer (main_epochs) over
    main_seeds."""
    runs, study = _main_section(params)["runs"], study_runs(params)
    check(isinstance(runs, list) and len(runs) == len(GATINGS) and all(r in study for r in runs)
          and {parse_run(params, r)[0] for r in runs} == set(GATINGS), "faces.main_runs.runs",
          f"must name one gated and one un-gated run of faces.study.runs {study}, got {runs!r}")
    return {parse_run(params, run)[0]: run for run in runs}


def main_seeds(params: dict) -> list[int]:
    """The seeds each main run is trained with (faces.main_runs.seeds; at least two at the
    default scale, so the gated - un-gated difference has an interval)."""
    seeds = _main_section(params)["seeds"]
    check(isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool)
                                                    for s in seeds) and len(set(seeds)) == len(seeds),
          "faces.main_runs.seeds", f"must be a list of distinct integers, got {seeds!r}")
    return list(seeds)


def baselines(params: dict) -> list[str]:
    """The pair methods trained beside the main runs (faces.main_runs.baselines; none if absent):
    the faithful preset's net, data, beta and budget, the pair index's pose / expression pairs."""
    methods = _main_section(params).get("baselines", [])
    check(isinstance(methods, list) and all(m in PAIR_METHODS for m in methods)
          and len(set(methods)) == len(methods), "faces.main_runs.baselines",
          f"must list distinct pair methods from {sorted(PAIR_METHODS)}, got {methods!r}")
    check(all(PAIR_METHODS[m][1] != "known_k" for m in methods), "faces.main_runs.baselines",
          "k_gvae needs pairs that change k factors; the faces pairs share one partition")
    return list(methods)


def baseline_run(method: str) -> str:
    """A faces baseline's run name (its models/faces/main/<run>-<seed> folder): pairs-<method>."""
    return f"{PAIRS}-{method}"


def parse_baseline(run: str) -> str | None:
    """The pair method of a baseline run's name, None for a run of the study."""
    prefix = f"{PAIRS}-"
    return run[len(prefix):] if run.startswith(prefix) and run[len(prefix):] in PAIR_METHODS else None


def baseline_train_config(params: dict, *, method: str, image_size: int, seed: int | None = None) -> TrainConfig:
    """A pair method on faces: the faithful preset (faces.train, no remedies), the method's
    objective with faces.train's beta, at faces.main_runs.epochs (as the main runs)."""
    cfg = train_config(params, gating="ungated", image_size=image_size, seed=seed)
    check(cfg.objective == "beta_vae", "faces.train.objective",
          f"is {cfg.objective!r}; the pair baselines (faces.main_runs.baselines) put beta-VAE's ELBO on "
          "each image, so they need beta_vae (its beta is theirs)")
    cfg.objective, cfg.objective_params = method, {"beta": float(cfg.objective_params.get("beta", 1.0))}
    cfg.target_noise = 0.0
    cfg.epochs = main_epochs(params)
    for field_name, problem in cfg.problems():
        raise ParamError(f"params.yaml: faces.main_runs.baselines {method!r}: `{field_name}` {problem}")
    return cfg


def main_epochs(params: dict) -> int:
    """Epochs of the main runs (faces.main_runs.epochs); the study's runs train faces.train.epochs."""
    return number(params, "faces.main_runs.epochs", integer=True, positive=True)


def main_train_config(params: dict, *, gating: str, image_size: int, seed: int | None = None) -> TrainConfig:
    """The main run of `gating`: its recipe's TrainConfig at faces.main_runs.epochs."""
    cfg = train_config(params, gating=gating, image_size=image_size,
                       recipe=parse_run(params, main_runs(params)[gating])[1], seed=seed)
    cfg.epochs = main_epochs(params)
    for field_name, problem in cfg.problems():
        raise ParamError(f"params.yaml: `faces.main_runs.epochs` ({cfg.epochs}) does not suit the main "
                         f"{gating} run {main_runs(params)[gating]!r}: {field_name} {problem}")
    return cfg


def train_config(params: dict, *, gating: str, image_size: int, recipe: str = "faithful",
                 seed: int | None = None) -> TrainConfig:
    """The faithful preset (faces.train) with a recipe's remedies (faces.recipes.<recipe>) and,
    when given, another seed."""
    key = "faces.train"
    check(gating in GATINGS, "gating", f"must be one of {GATINGS}, got {gating!r}")
    sizes = get(params, f"{key}.partition_sizes")
    check(isinstance(sizes, list) and len(sizes) == len(PARTITIONS) and all(isinstance(s, int) for s in sizes),
          f"{key}.partition_sizes", f"must be two integers (pose, expression), got {sizes!r}")
    objective = choice(params, f"{key}.objective", sorted(OBJECTIVE_DEFAULTS))
    objective_params = get(params, f"{key}.objective_params", {}) or {}
    check(isinstance(objective_params, dict), f"{key}.objective_params", "must be a mapping of weights")
    cfg = TrainConfig(
        net=choice(params, f"{key}.net", NET_NAMES),
        hidden=number(params, f"{key}.hidden", integer=True, positive=True),
        latent_dim=sum(sizes), partitions=list(sizes),
        objective=objective, objective_params=dict(objective_params),
        gated=gating == "gated",
        gate_regulariser=flag(params, f"{key}.gate_regulariser"),
        partition_order=choice(params, f"{key}.partition_order", PARTITION_ORDERS),
        target_noise=number(params, f"{key}.target_noise", minimum=0.0),
        epochs=number(params, f"{key}.epochs", integer=True, positive=True),
        batch_size=number(params, f"{key}.batch_size", integer=True, positive=True),
        lr=number(params, f"{key}.lr", positive=True),
        seed=number(params, f"{key}.seed", integer=True),
        device=get(params, f"{key}.device"),
        precision=str(get(params, f"{key}.precision", "fp32")),
        pixel_max=255, image_size=image_size,
    )
    for field_name, value in recipe_remedies(params, recipe).items():
        setattr(cfg, field_name, value)
    if seed is not None:
        cfg.seed = seed
    for field_name, problem in cfg.problems():
        if field_name in REMEDIES:
            raise ParamError(f"params.yaml: `faces.recipes.{recipe}.{field_name}` {problem}")
        where = KEYS.get(field_name, field_name)
        raise ParamError(f"params.yaml: `{where if '.' in where else f'{key}.{where}'}` {problem}")
    return cfg


def eval_settings(params: dict, n_images: int | None = None) -> EvalSettings:
    return EvalSettings.from_params(params, "faces.evaluate", n_images=n_images)


@dataclass
class TraversalSettings:
    images: int       # test images shown per partition
    steps: int        # values per dim
    span: float       # values in [-span, span]
    max_dims: int     # the most active dims shown per partition


def traversal_settings(params: dict) -> TraversalSettings:
    key = "faces.evaluate"
    return TraversalSettings(images=number(params, f"{key}.traversal_images", integer=True, positive=True),
                             steps=number(params, f"{key}.traversal_steps", integer=True, minimum=2),
                             span=number(params, f"{key}.traversal_range", positive=True),
                             max_dims=number(params, f"{key}.traversal_max_dims", integer=True, positive=True))


def check_faces(params: dict, n_images: int | None = None) -> None:
    """Validate the whole faces branch at once; n_images: the aligned data's size when known
    (else, for synthetic faces, how many are rendered)."""
    with unrecorded(params):
        check_keys(params)
        kind = source(params)
        check(isinstance(get(params, "faces.acquire.path"), str), "faces.acquire.path",
              "must be a folder path (a dependency of faces_acquire whatever the source)")
        if kind == "synthetic":
            n_images = n_images if n_images is not None else synthetic_config(params).n_images
            check(image_set(params) == "wild", "faces.align.image_set",
                  "must be `wild` with faces.acquire.source: synthetic (it renders in-the-wild "
                  "images, img_celeba/)")
        else:
            acquire_needs(params)
        if kind == "download":
            check(isinstance(get(params, "faces.acquire.download_dir"), str),
                  "faces.acquire.download_dir", "must be a folder path (where downloads are kept)")
        size = align_settings(params).size
        sheet_size(params)
        if extractor(params) == "synthetic":
            check(kind == "synthetic", "faces.features.extractor",
                  "synthetic needs faces.acquire.source: synthetic (the ground truth)")
        for part in PARTITIONS:
            cluster_config(params, part)
        expression_aus(params)
        cfg = train_config(params, gating="gated", image_size=size)
        for run in study_runs(params):
            gating, recipe = parse_run(params, run)
            train_config(params, gating=gating, image_size=size, recipe=recipe)
        study_seeds(params)
        main_runs(params)
        seeds = main_seeds(params)
        check(cfg.seed in seeds, "faces.train.seed",
              f"({cfg.seed}) names the seed of the main runs' figures, so it must be one of "
              f"faces.main_runs.seeds {seeds}")
        check(device_problem(cfg.device) is None, "faces.train.device", str(device_problem(cfg.device)))
        for gating in GATINGS:
            main_train_config(params, gating=gating, image_size=size)
        for method in baselines(params):
            baseline_train_config(params, method=method, image_size=size)
        if n_images is not None:
            check(cfg.batch_size <= n_images, "faces.train.batch_size",
                  f"({cfg.batch_size}) is larger than the data ({n_images} images)")
            check_cluster_counts(params, n_images)
        FinetuneSettings.from_params(params, "faces.finetune")
        eval_settings(params, n_images=n_images)
        traversal_settings(params)
