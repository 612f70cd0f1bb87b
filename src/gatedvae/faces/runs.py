"""The faces training stages: one run of the recipe study or one main run trained, or a main
run's decoder fine-tuned. A run is `<gating>-<recipe>` (faces.study.runs): the faithful preset
(faces.train) gated or un-gated, plus the recipe's remedies (faces.recipes.<recipe>). A main run
(faces.main_runs) is one of them trained again for faces.main_runs.epochs; a baseline
(faces.main_runs.baselines) is a pair method, run `pairs-<method>`, at the main runs' budget."""

from __future__ import annotations

import numpy as np

from gatedvae import inputs
from gatedvae.faces import config
from gatedvae.faces.spec import PARTITIONS
from gatedvae.params import check
from gatedvae.training.config import FinetuneSettings
from gatedvae.training.run import finetune_and_save, train_and_save


def train(params, *, run: str, seed: int, images: str, groups: str, out: str, log_dir: str,
          main: bool = False) -> None:
    """The convolutional VAE on greyscale faces for one run and seed: a run of the recipe study,
    or with `main` the main run of its gating (at faces.main_runs.epochs)."""
    data = np.asarray(inputs.images(images))
    config.check_faces(params, n_images=len(data))
    method = config.parse_baseline(run)
    if method is not None:  # a pair method beside the main runs
        check(main and method in config.baselines(params), "faces.main_runs.baselines",
              f"does not list {method!r}, yet stage run {run!r} was asked for (with --main)")
        cfg = config.baseline_train_config(params, method=method, image_size=data.shape[1], seed=seed)
    elif main:
        gating = config.parse_run(params, run)[0]
        chosen = config.main_runs(params)[gating]
        check(run == chosen, "faces.main_runs.runs", f"names {chosen!r} as the {gating} main run, not {run!r}")
        cfg = config.main_train_config(params, gating=gating, image_size=data.shape[1], seed=seed)
    else:
        gating, recipe = config.parse_run(params, run)
        cfg = config.train_config(params, gating=gating, image_size=data.shape[1], recipe=recipe, seed=seed)
    needs_pairs = cfg.gated or method is not None
    pair_index = inputs.table(groups)[list(PARTITIONS)].to_numpy(np.int64) if needs_pairs else None
    result = train_and_save(data, pair_index, cfg, model_out=out, log_dir=log_dir,
                            partition_names=PARTITIONS)
    print(f"faces {'main ' if main else ''}{run} seed {seed}: {cfg.epochs} epochs, "
          f"{result.images_per_second:.0f} images/s over {result.seconds:.1f} s")


def finetune(params, *, images: str, model: str, out: str, log_dir: str) -> None:
    """Decoder fine-tuning (encoder frozen, plain VAE steps), paper Fig. 4."""
    data = np.asarray(inputs.images(images))
    config.check_faces(params, n_images=len(data))
    settings = FinetuneSettings.from_params(params, "faces.finetune")
    finetune_and_save(model, data, epochs=settings.epochs, lr=settings.lr, model_out=out, log_dir=log_dir)
