"""DVC stage faces_evaluate: traversals and reconstructions for both models; with synthetic
faces, DCI against the true pose and expression factors and partition placement."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from faces_common import ALIGNED, FIGURES, GREY, GROUPS, METRICS, MODELS, RAW, RUNS, setup_logging, run_stage
from gatedvae import params as P
from gatedvae.atomic import save_figure, save_json
from gatedvae.engine import encode_mean, load_model, reconstruct, traverse
from gatedvae.evaluation import REGRESSORS, EvalSettings, reconstruction_and_elbo, split_rows
from gatedvae.faces.config import GATINGS, PARTITIONS, check_faces
from gatedvae.faces.evaluation import (FACTOR_NAMES, factor_scores, load_ground_truth,
                                       most_active_dims, pair_variance_explained)
from gatedvae.metrics.placement import partition_bounds
from gatedvae.plots import hinton, reconstruction_grid, traversal_grid

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    setup_logging()
    params = P.load(args.params)
    check_faces(params)
    key = "faces.evaluate"
    n_train = P.number(params, f"{key}.n_train", integer=True, positive=True)
    n_test = P.number(params, f"{key}.n_test", integer=True, positive=True)
    seed = P.number(params, f"{key}.seed", integer=True)
    n_shown = P.number(params, f"{key}.traversal_images", integer=True, positive=True)
    steps = P.number(params, f"{key}.traversal_steps", integer=True, minimum=2)
    span = P.number(params, f"{key}.traversal_range", positive=True)
    max_dims = P.number(params, f"{key}.traversal_max_dims", integer=True, positive=True)
    images = np.load(GREY, mmap_mode="r")
    n = len(images)
    P.check(n_train + n_test <= n, f"{key}.n_train",
            f"+ {key}.n_test ({n_train} + {n_test}) exceed the data ({n} aligned images)")
    train_rows, test_rows = split_rows(n, EvalSettings(n_train=n_train, n_test=n_test, seed=seed))
    truth = load_ground_truth(RAW, ALIGNED)  # synthetic faces only
    names = FACTOR_NAMES

    groups = pd.read_parquet(GROUPS)
    # How much of the pixel variance pair partners share, per partition (see pair_variance_explained).
    metrics, details = {"pair_variance_explained": {
        part: round(pair_variance_explained(images, groups[part].to_numpy()), 4) for part in PARTITIONS}}, {}
    values = np.linspace(-span, span, steps)
    for gating in GATINGS:
        trained, cfg, _ = load_model(MODELS / gating / "model.pt")
        finetuned, _, _ = load_model(MODELS / gating / "finetuned.pt")
        # Fine-tuning freezes the encoder, so either model gives the same codes.
        codes_train = encode_mean(finetuned, images[train_rows], pixel_max=cfg.pixel_max)
        codes_test = encode_mean(finetuned, images[test_rows], pixel_max=cfg.pixel_max)
        # held-out reconstruction error and ELBO (nats per image) of the fine-tuned model
        metrics[gating] = {"test": reconstruction_and_elbo(finetuned, images[test_rows],
                                                           pixel_max=cfg.pixel_max, seed=seed)}
        if truth is not None:
            details[gating] = {}
            for short, regressor in REGRESSORS.items():
                summary, detail, importance = factor_scores(
                    codes_train, truth[train_rows], codes_test, truth[test_rows],
                    partition_sizes=cfg.partitions, factor_names=names, regressor=regressor,
                    lasso_alpha=P.number(params, f"{key}.lasso_alpha", positive=True),
                    rf_trees=P.number(params, f"{key}.rf_trees", integer=True, positive=True),
                    rf_depth=P.number(params, f"{key}.rf_depth", integer=True, positive=True), seed=seed)
                metrics[gating][short] = summary
                details[gating][short] = detail
                if short == "rf":
                    metrics[gating]["placement"] = detail["groups"]
                fig = hinton(importance, [f"z{i}" for i in range(cfg.latent_dim)], names,
                             partition_sizes=cfg.partitions, partition_labels=list(PARTITIONS),
                             title=f"faces {gating} ({short})")
                save_figure(RUNS / gating / "eval" / f"hinton_{short}.png", fig, dpi=80)
        shown = test_rows[:8]
        grid = reconstruction_grid(
            [np.asarray(images[shown]), reconstruct(trained, images[shown], pixel_max=cfg.pixel_max),
             reconstruct(finetuned, images[shown], pixel_max=cfg.pixel_max)],
            ["input", f"{gating} training", "decoder fine-tuned"], title=f"faces {gating}")
        save_figure(FIGURES / f"faces_reconstructions_{gating}.png", grid, dpi=80)
        codes = np.concatenate([codes_train, codes_test])
        for part, (start, stop) in zip(PARTITIONS, partition_bounds(cfg.partitions, cfg.latent_dim)):
            dims = most_active_dims(codes, start, stop, max_dims)
            cells = np.concatenate([traverse(finetuned, images[row], dims, values, pixel_max=cfg.pixel_max)
                                    for row in test_rows[:n_shown]], axis=1)
            fig = traversal_grid(cells, [f"z{d}" for d in dims], np.tile(values, n_shown),
                                 title=f"faces {gating}: {part} partition, {n_shown} images, "
                                       f"z in [-{span:g}, {span:g}]")
            save_figure(FIGURES / f"faces_traversal_{gating}_{part}.png", fig, dpi=64)
    save_json(RUNS / "eval_details.json", details)
    save_json(METRICS, metrics)
    print("pixel variance explained by the pair groups: " + ", ".join(
        f"{k} {v:.3f}" for k, v in metrics["pair_variance_explained"].items()))
    for gating in GATINGS:
        m = metrics[gating]
        if "rf" in m:
            print(f"faces {gating}: placement pose {m['placement']['pose']:.3f} expression "
                  f"{m['placement']['expression']:.3f}; RF D {m['rf']['disentanglement']:.3f} "
                  f"C {m['rf']['completeness']:.3f} I(NRMSE) {m['rf']['informativeness']:.3f}")
    return 0


if __name__ == "__main__":
    run_stage(main)
