"""The faces evaluation stage: scores and figures of the gated and un-gated models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.atomic import save_figure, save_json
from gatedvae.evaluation.evaluate import reconstruction_and_elbo, split_rows
from gatedvae.evaluation.metrics.placement import partition_bounds
from gatedvae.evaluation.plots import hinton, reconstruction_grid, traversal_grid
from gatedvae.faces import config
from gatedvae.faces.scoring import (factor_scores, load_ground_truth, most_active_dims,
                                    pair_variance_explained)
from gatedvae.faces.spec import FACTOR_NAMES, PARTITIONS
from gatedvae.training.checkpoint import load_model
from gatedvae.training.config import GATINGS
from gatedvae.training.infer import encode_mean, reconstruct, traverse


def evaluate(params, *, images: str, groups: str, raw: str, aligned: str, models: str,
             runs: str, figures: str, metrics: str) -> None:
    """Traversals and reconstructions of the gated and un-gated models (models/<gating>/); with
    synthetic faces, DCI against the true pose and expression factors and partition placement.
    Per-run figures go to runs/<gating>/eval, the report's figures to `figures`."""
    data = np.load(images, mmap_mode="r")
    config.check_faces(params, n_images=len(data))
    settings = config.eval_settings(params, n_images=len(data))
    shown_cfg = config.traversal_settings(params)
    runs, figures = Path(runs), Path(figures)
    train_rows, test_rows = split_rows(len(data), settings)
    truth = load_ground_truth(raw, aligned)  # synthetic faces only
    pair_index = pd.read_parquet(groups)
    # How much of the pixel variance pair partners share, per partition (see pair_variance_explained).
    results, details = {"pair_variance_explained": {
        part: round(pair_variance_explained(data, pair_index[part].to_numpy()), 4) for part in PARTITIONS}}, {}
    values = np.linspace(-shown_cfg.span, shown_cfg.span, shown_cfg.steps)
    for gating in GATINGS:
        trained, cfg, _ = load_model(Path(models) / gating / "model.pt")
        finetuned, _, _ = load_model(Path(models) / gating / "finetuned.pt")
        # Fine-tuning freezes the encoder, so either model gives the same codes.
        codes_train = encode_mean(finetuned, data[train_rows], pixel_max=cfg.pixel_max)
        codes_test = encode_mean(finetuned, data[test_rows], pixel_max=cfg.pixel_max)
        # held-out reconstruction error and ELBO (nats per image) of the fine-tuned model
        results[gating] = {"test": reconstruction_and_elbo(finetuned, data[test_rows],
                                                           pixel_max=cfg.pixel_max, seed=settings.seed)}
        if truth is not None:
            details[gating] = {}
            scores = factor_scores(codes_train, truth[train_rows], codes_test, truth[test_rows],
                                   partition_sizes=cfg.partitions, settings=settings)
            for short, (summary, detail, importance) in scores.items():
                results[gating][short] = summary
                details[gating][short] = detail
                if short == "rf":
                    results[gating]["placement"] = detail["groups"]
                fig = hinton(importance, [f"z{i}" for i in range(cfg.latent_dim)], FACTOR_NAMES,
                             partition_sizes=cfg.partitions, partition_labels=list(PARTITIONS),
                             title=f"faces {gating} ({short})")
                save_figure(runs / gating / "eval" / f"hinton_{short}.png", fig, dpi=80)
        shown = test_rows[:8]
        grid = reconstruction_grid(
            [np.asarray(data[shown]), reconstruct(trained, data[shown], pixel_max=cfg.pixel_max),
             reconstruct(finetuned, data[shown], pixel_max=cfg.pixel_max)],
            ["input", f"{gating} training", "decoder fine-tuned"], title=f"faces {gating}")
        save_figure(figures / f"faces_reconstructions_{gating}.png", grid, dpi=80)
        codes = np.concatenate([codes_train, codes_test])
        n_shown = shown_cfg.images
        for part, (start, stop) in zip(PARTITIONS, partition_bounds(cfg.partitions, cfg.latent_dim)):
            dims = most_active_dims(codes, start, stop, shown_cfg.max_dims)
            cells = np.concatenate([traverse(finetuned, data[row], dims, values, pixel_max=cfg.pixel_max)
                                    for row in test_rows[:n_shown]], axis=1)
            fig = traversal_grid(cells, [f"z{d}" for d in dims], np.tile(values, n_shown),
                                 title=f"faces {gating}: {part} partition, {n_shown} images, "
                                       f"z in [-{shown_cfg.span:g}, {shown_cfg.span:g}]")
            save_figure(figures / f"faces_traversal_{gating}_{part}.png", fig, dpi=64)
    save_json(runs / "eval_details.json", details)
    save_json(metrics, results)
    print("pixel variance explained by the pair groups: " + ", ".join(
        f"{k} {v:.3f}" for k, v in results["pair_variance_explained"].items()))
    for gating in GATINGS:
        m = results[gating]
        if "rf" in m:
            print(f"faces {gating}: placement pose {m['placement']['pose']:.3f} expression "
                  f"{m['placement']['expression']:.3f}; RF D {m['rf']['disentanglement']:.3f} "
                  f"C {m['rf']['completeness']:.3f} I(NRMSE) {m['rf']['informativeness']:.3f}")
