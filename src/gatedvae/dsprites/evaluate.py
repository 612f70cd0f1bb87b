"""The dSprites evaluation stage: every metric and figure of one trained run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gatedvae import inputs
from gatedvae import timing
from gatedvae.atomic import save_figure, save_json
from gatedvae.dsprites import config, spec
from gatedvae.errors import StageError
from gatedvae.evaluation.evaluate import evaluate_model, reconstruction_and_elbo, split_rows
from gatedvae.evaluation.plots import hinton, reconstruction_grid, traversal_grid
from gatedvae.evaluation.settings import REGRESSORS
from gatedvae.training.checkpoint import load_model
from gatedvae.training.infer import reconstruct, traverse


def evaluate(params, *, images: str, factors: str, trained: str, finetuned: str, out: str) -> None:
    """DCI (Lasso and random forest), partition placement, the other metrics, test-set
    reconstruction error and ELBO, Hinton diagrams, reconstructions and traversals. The run's
    name (figure titles) is its folder: out's parent."""
    data = inputs.images(images)
    config.check_dsprites(params, n_images=len(data))
    out = Path(out)
    name = out.parent.name
    factor_table = inputs.table(factors)
    if len(factor_table) != len(data):
        raise StageError(f"{factors}: {len(factor_table)} rows but {images} has {len(data)} "
                         "images; rerun dsprites_acquire")
    trained_model, cfg, _ = load_model(trained)
    finetuned_model, _, _ = load_model(finetuned)
    parts = config.partitions(params)
    settings = config.eval_settings(params)
    names = list(spec.FACTOR_NAMES)
    # The encoder is frozen during fine-tuning, so codes of either model are the same.
    metrics, importance = evaluate_model(
        finetuned_model, data, factor_table[names].to_numpy(), pixel_max=cfg.pixel_max,
        partition_sizes=cfg.partitions, intended=config.intended_partition(parts),
        factor_names=names, settings=settings)
    for key, r in importance.items():
        fig = hinton(r, [f"z{i}" for i in range(cfg.latent_dim)], names,
                     partition_sizes=cfg.partitions, partition_labels=list(parts),
                     title=f"{name} ({key})")
        save_figure(out / f"hinton_{key}.png", fig, dpi=100)

    _, test_rows = split_rows(len(data), settings)
    # metrics["test"] scores the fine-tuned model; this shows what fine-tuning bought.
    metrics["test_before_finetune"] = reconstruction_and_elbo(
        trained_model, data[test_rows], pixel_max=cfg.pixel_max, seed=settings.seed)
    with timing.phase("figures"):
        shown = test_rows[:10]
        grid = reconstruction_grid(
            [np.asarray(data[shown]) * (255 // cfg.pixel_max),
             reconstruct(trained_model, data[shown], pixel_max=cfg.pixel_max),
             reconstruct(finetuned_model, data[shown], pixel_max=cfg.pixel_max)],
            ["input", "gated training" if cfg.gated else "training", "decoder fine-tuned"])
        save_figure(out / "reconstructions.png", grid, dpi=100)

        # Traversals (paper Fig. 5 style): one test image, every dim from -2 to +2, others at its mean
        values = np.linspace(-2.0, 2.0, 7)
        owner = [part for part, size in zip(parts, cfg.partitions) for _ in range(size)]
        cells = traverse(finetuned_model, data[test_rows[0]], list(range(cfg.latent_dim)), values,
                         pixel_max=cfg.pixel_max)
        fig = traversal_grid(cells, [f"z{d} ({owner[d]})" for d in range(cfg.latent_dim)], values,
                             title=f"{name}: traversals")
        save_figure(out / "traversals.png", fig, dpi=100)
    save_json(out / "metrics.json", metrics)
    for key in REGRESSORS:
        m = metrics[key]
        print(f"{name} {key}: D {m['disentanglement']['avg']:.3f}  C {m['completeness']['avg']:.3f}  "
              f"I(NRMSE) {m['informativeness']['avg']:.3f}")
    for key in ("test_before_finetune", "test"):
        t = metrics[key]
        print(f"{name} {key}: recon BCE {t['recon_bce']:.1f}  ELBO {t['elbo']:.1f} nats/image")
