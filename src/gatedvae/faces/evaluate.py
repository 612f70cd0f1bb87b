"""The faces evaluation stage: every run of the recipe study and of the main runs scored, and the
main runs' figures.

Each run (`<gating>-<recipe>`) and seed is scored the same way (scoring.run_scores): placement
and DCI against the synthetic faces' true factors where they exist and, always, against the
extractor's own pose and AU features (weak labels: all real CelebA has), the held-out ELBO, the
share of pixel variance the reconstructions explain and the collapse diagnostics. The recipe
study (faces.study: runs x seeds at faces.train.epochs) compares recipes at one cheap budget;
the main runs (faces.main_runs: one gated and one un-gated recipe of the study, trained for
faces.main_runs.epochs over faces.main_runs.seeds) are the faces results, reported as `gated`
and `ungated` with mean and std over seeds and the paired gated - un-gated differences with 95%
intervals (gatedvae.seeds, as dSprites' Table I), and the paper-faithful gated study run beside
them as `faithful`. Reconstructions, traversals and Hinton diagrams come from the main runs'
fine-tuned models (seed faces.train.seed). The pair methods of faces.main_runs.baselines
(docs/baselines.md) are scored like the main runs, as `baselines.<method>`, with their paired
difference from the gated main run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import inputs
from gatedvae.atomic import save_figure, save_json, save_text
from gatedvae.evaluation.evaluate import split_rows
from gatedvae.evaluation.metrics.placement import partition_bounds
from gatedvae.evaluation.plots import hinton, reconstruction_grid, traversal_grid
from gatedvae.faces import config
from gatedvae.faces.scoring import (extractor_labels, load_ground_truth, most_active_dims,
                                    pair_variance_explained, run_scores, truth_labels, variance_explained)
from gatedvae.faces.spec import AU_INTENSITIES, PARTITIONS
from gatedvae.training.checkpoint import load_model
from gatedvae.training.config import PAIRS
from gatedvae.training.infer import encode_mean, reconstruct, traverse

FAITHFUL = "gated-faithful"


def model_path(models: str | Path, run: str, seed: int, kind: str = "model", *, main: bool = False) -> Path:
    """models/faces/<run>-<seed>/<kind>.pt for the study, models/faces/main/<run>-<seed>/<kind>.pt
    for a main run (kind: model or finetuned), as dvc.yaml writes them."""
    return Path(models) / ("main" if main else "") / f"{run}-{seed}" / f"{kind}.pt"


SCORE_COLUMNS_LEFT_OUT = ["run", "gating", "recipe", "seed", "budget"]


def _aggregate(rows: pd.DataFrame) -> dict:
    """The rows (one per run and seed) as gatedvae.seeds aggregates them, under one model name:
    {gating: {score: {mean, std, n}}, gated_minus_ungated: {score: {mean, ci95_low, ...}}}."""
    from gatedvae.seeds import aggregate_runs

    return aggregate_runs(_as_runs(rows, "faces"))["faces"]


def _as_runs(rows: pd.DataFrame, model: str) -> list[dict]:
    """Score rows as gatedvae.seeds runs of `model` (its gating and seed from each row)."""
    return [{"model": model, "gating": r["gating"], "seed": int(r["seed"]),
             "metrics": {k: float(v) for k, v in r.drop(labels=SCORE_COLUMNS_LEFT_OUT, errors="ignore").items()}}
            for _, r in rows.iterrows()]


def summarise(rows: pd.DataFrame) -> dict:
    """One run's seeds: mean and std of every score (gatedvae.seeds, as for dSprites), the seed
    count and how many collapsed."""
    arm = _aggregate(rows)[rows["gating"].iloc[0]]
    return {"mean": {k: round(v["mean"], 4) for k, v in arm.items()},
            "std": {k: round(v["std"], 4) for k, v in arm.items()},
            "seeds": int(len(rows)), "collapsed_seeds": int(rows["collapsed"].sum())}


def paired_differences(rows: pd.DataFrame) -> dict:
    """The main runs' gated - un-gated difference of every score over the seeds both have, with
    its 95% Student's t interval (gatedvae.seeds, as dSprites' Table I); the interval is null
    with one common seed."""
    from gatedvae.seeds import PAIRED

    return {key: {stat: (round(v, 4) if isinstance(v, float) else v) for stat, v in stats.items()}
            for key, stats in _aggregate(rows).get(PAIRED, {}).items()}


def baseline_results(frame: pd.DataFrame, gated_run: str, methods: list[str], epochs: int) -> dict:
    """Each pair method's seeds summarised like a main run, and its paired difference from the
    gated main run seed by seed (`minus_gated`: method - gated, 95% interval; gatedvae.seeds)."""
    from gatedvae.seeds import aggregate_runs

    gated = frame[(frame["budget"] == "main") & (frame["run"] == gated_run)]
    out = {}
    for method in methods:
        rows = frame[(frame["budget"] == "baseline") & (frame["recipe"] == method)]
        versus = aggregate_runs(_as_runs(gated, "faces") + _as_runs(rows, method), pairs_reference=("faces", "gated"))[method].get(f"{PAIRS}_minus_gated", {})
        out[method] = {**summarise(rows), "epochs": epochs, "run": config.baseline_run(method),
                       "minus_gated": {key: {stat: (round(v, 4) if isinstance(v, float) else v)
                                             for stat, v in stats.items()} for key, stats in versus.items()}}
    return out


def placement_prefix(has_truth: bool) -> str:
    """The row keys' prefix of the placement that ranks runs: the truth where it exists, else the
    extractor's labels."""
    return "" if has_truth else "extractor_"


def best_gated_run(recipes: dict, prefix: str = "") -> str | None:
    """The gated run with the highest mean RF placement (pose and expression averaged; `prefix`
    picks the labels) among those where no seed collapsed; None when every gated run collapsed."""
    scored = {run: np.mean([s["mean"][f"{prefix}rf_placement_{p}"] for p in PARTITIONS])
              for run, s in recipes.items() if run.startswith("gated-") and s["collapsed_seeds"] == 0
              and f"{prefix}rf_placement_{PARTITIONS[0]}" in s["mean"]}
    return max(scored, key=scored.get) if scored else None


def evaluate(params, *, images: str, groups: str, features: str, raw: str, aligned: str, models: str,
             runs: str, figures: str, metrics: str, table: str) -> None:
    data = inputs.images(images)
    config.check_faces(params, n_images=len(data))
    settings = config.eval_settings(params, n_images=len(data))
    shown_cfg = config.traversal_settings(params)
    study_runs, study_seeds, main = config.study_runs(params), config.study_seeds(params), config.main_runs(params)
    main_seeds = config.main_seeds(params)
    preset = config.train_config(params, gating="gated", image_size=data.shape[1])
    figure_seed = preset.seed  # one of faces.main_runs.seeds (check_faces)
    runs, figures = Path(runs), Path(figures)
    truth = load_ground_truth(raw, aligned)  # synthetic faces only
    weak = extractor_labels(features, aligned, config.expression_aus(params) or list(AU_INTENSITIES))
    labels = [label for label in (truth_labels(truth), weak) if label is not None]
    pair_index = inputs.table(groups)
    results: dict = {"pair_variance_explained": {
        part: round(pair_variance_explained(data, pair_index[part].to_numpy()), 4) for part in PARTITIONS}}
    results["labels"] = {
        "ground_truth": truth is not None, "extractor": weak.source,
        "extractor_labels": weak.groups, "extractor_labels_left_out": weak.dropped,
        "images_with_extractor_labels": int(weak.usable.sum()), "images": len(data),
        "ranked_by": "ground truth" if truth is not None else f"{weak.source} features (weak labels)"}
    shares = factor_shares(data, raw, aligned)
    if shares is not None:
        results["factor_variance_shares"] = shares

    rows = []
    main_importances = {}  # the main runs' Hinton diagrams reuse these (see main_figures)
    prefix = placement_prefix(truth is not None)
    methods = config.baselines(params)
    budgets = [("study", run, seed) for run in study_runs for seed in study_seeds] + \
              [("main", run, seed) for run in main.values() for seed in main_seeds] + \
              [("baseline", config.baseline_run(m), seed) for m in methods for seed in main_seeds]
    for budget, run, seed in budgets:
        method = config.parse_baseline(run)
        gating, recipe = (PAIRS, method) if method else config.parse_run(params, run)
        model, cfg, _ = load_model(model_path(models, run, seed, main=budget != "study"))
        row, _, importances = run_scores(model, cfg, data, labels, settings)
        if budget == "main" and seed == figure_seed:
            main_importances[run] = importances
        rows.append({"budget": budget, "run": run, "gating": gating, "recipe": recipe, "seed": seed, **row})
        print(f"{budget} {run} seed {seed} ({cfg.epochs} epochs): " + ", ".join(
            f"{k} {row[k]:.3f}" for k in (f"{prefix}rf_placement_pose", f"{prefix}rf_placement_expression",
                                          f"{prefix}rf_disentanglement", "test_variance_explained",
                                          "test_kl") if k in row)
              + f", active dims {row['active_pose']}/{row['active_expression']}")
    frame = pd.DataFrame(rows)
    save_text(table, frame.to_csv(index=False, float_format="%.6g"))
    study, main_rows = frame[frame["budget"] == "study"], frame[frame["budget"] == "main"]
    recipes = {run: summarise(study[study["run"] == run]) for run in study_runs}
    results["main_runs"] = main
    results["budget"] = {"study": {"epochs": preset.epochs, "seeds": study_seeds},
                         "main": {"epochs": config.main_epochs(params), "seeds": main_seeds}}
    for gating, run in main.items():
        results[gating] = summarise(main_rows[main_rows["run"] == run])
        results[gating]["epochs"] = config.main_epochs(params)
    results["gated_minus_ungated"] = paired_differences(main_rows)
    if methods:
        results["baselines"] = baseline_results(frame, main["gated"], methods, config.main_epochs(params))
    if FAITHFUL in recipes:
        results["faithful"] = recipes[FAITHFUL]
    results["recipes"] = recipes
    results["best_gated_run"] = best_gated_run(recipes, prefix)
    save_figure(figures / "faces_recipes.png",
                recipe_figure(study, study_runs, main, preset.partitions, prefix=prefix,
                              labels=results["labels"]["ranked_by"]), dpi=80)
    effects = None
    if truth is not None:
        effects = traversal_effect_scores(main, models, main_seeds, figure_seed, data, truth, settings, shown_cfg)
        results["traversal_effects"] = effects
    finetuned = main_figures(main, models, figure_seed, data, labels, settings, shown_cfg, runs, figures,
                             main_importances, effects)
    for gating, numbers in finetuned.items():
        results[gating]["finetuned"] = numbers
    save_json(metrics, results)
    print("pixel variance explained by the pair groups: " + ", ".join(
        f"{k} {v:.3f}" for k, v in results["pair_variance_explained"].items()))
    print(f"main runs {main}; best gated run by placement ({results['labels']['ranked_by']}) "
          f"without collapse: {results['best_gated_run']}")


TRAVERSAL_IMAGES = 100   # held-out faces per traversed dim (the effect is a mean over them)


def traversal_effect_scores(main, models, seeds, figure_seed, data, truth, settings, shown_cfg) -> dict:
    """What each partition's traversal changes in the decoded faces (traversal_effects.py), for
    every seed of the main runs (trained decoder) and the figure seed's fine-tuned decoder; with
    the image estimator's R^2 on held-out real faces and on each model's reconstructions."""
    from gatedvae.faces import traversal_effects as effects
    from gatedvae.training.infer import encode_mean, reconstruct

    train_rows, test_rows = split_rows(len(data), settings)
    estimator = effects.FactorEstimator().fit(np.asarray(data[train_rows]) / 255.0, truth[train_rows])
    shown = test_rows[:TRAVERSAL_IMAGES]
    values = np.linspace(-shown_cfg.span, shown_cfg.span, shown_cfg.steps)
    out: dict = {"estimator": "ridge regression from pixels to the true factors (alpha 10), fitted on "
                              "the training rows", "estimator_r2_held_out": estimator.r2(np.asarray(data[test_rows]) / 255.0,
                                                                                 truth[test_rows]),
                 "images": len(shown), "values": [round(float(v), 4) for v in values]}
    for gating, run in main.items():
        per_model = {}
        for seed in seeds:
            for kind in (("model", "finetuned") if seed == figure_seed else ("model",)):
                model, cfg, _ = load_model(model_path(models, run, seed, kind, main=True))
                codes = encode_mean(model, data[test_rows], pixel_max=cfg.pixel_max)
                scores = effects.partition_effects(model, cfg, data[shown], effects.active_dims(codes, cfg.partitions),
                                                   values, estimator)
                scores["estimator_r2_on_reconstructions"] = estimator.r2(
                    reconstruct(model, data[shown], pixel_max=cfg.pixel_max), truth[shown])
                per_model[f"{'trained' if kind == 'model' else 'fine-tuned'} seed {seed}"] = scores
        trained = [v for k, v in per_model.items() if k.startswith("trained")]
        out[gating] = {"run": run, "models": per_model, "trained_mean": {
            key: round(float(np.nanmean([m[key] for m in trained])), 4) for key in ("pose_selectivity", "expression_selectivity")}}
        print(f"traversal effects {run}: " + "; ".join(
            f"{name} pose selectivity {m['pose_selectivity']:.2f}, expression {m['expression_selectivity']:.2f}"
            for name, m in per_model.items()))
    return out


def factor_shares(data, raw, aligned) -> dict | None:
    """The share of pixel variance pose, expression and identity each explain (synthetic faces)."""
    factors_path = Path(raw) / "factors.parquet"
    if not factors_path.exists():
        return None
    from gatedvae.faces.variance import factor_variance_shares

    ids = inputs.table(Path(aligned) / "index.parquet")["image_id"]
    factors = inputs.table(factors_path).set_index("image_id").loc[ids].reset_index()
    return {k: round(float(v), 4) for k, v in factor_variance_shares(np.asarray(data), factors).items()}


def main_figures(main, models, seed, data, labels, settings, shown_cfg, runs: Path, figures: Path,
                 importances_by_run: dict, effects: dict | None = None) -> dict:
    """Reconstructions, per-partition traversals and Hinton diagrams (one per kind of label and
    regressor) of the main runs; returns, per gating, the fine-tuned decoder's test scores.
    importances_by_run: run -> the importances run_scores gave the trained model of `seed`;
    fine-tuning freezes the encoder, so the fine-tuned model's codes, and so its importances, are
    the same. effects: traversal_effect_scores' output (synthetic faces), which picks and labels
    the traversed dims by what they measurably change (shown_dims); without it, the most active."""
    train_rows, test_rows = split_rows(len(data), settings)
    values = np.linspace(-shown_cfg.span, shown_cfg.span, shown_cfg.steps)
    names = {("" if label.source == "ground truth" else "extractor_"): label for label in labels}
    finetuned_scores = {}
    for gating, run in main.items():
        trained, cfg, _ = load_model(model_path(models, run, seed, main=True))
        finetuned, _, _ = load_model(model_path(models, run, seed, "finetuned", main=True))
        for key, importance in importances_by_run[run].items():
            label = names["extractor_" if key.startswith("extractor_") else ""]
            title = (f"faces {run} ({key.removeprefix('extractor_')}, against "
                     + ("the true factors)" if label.source == "ground truth" else f"{label.source} features: weak labels)"))
            fig = hinton(importance, [f"z{i}" for i in range(cfg.latent_dim)], label.names,
                         partition_sizes=cfg.partitions, partition_labels=list(PARTITIONS), title=title)
            save_figure(runs / gating / "eval" / f"hinton_{key}.png", fig, dpi=80)
        test_recon = reconstruct(finetuned, data[test_rows], pixel_max=cfg.pixel_max)
        finetuned_scores[gating] = {"seed": seed, "test_variance_explained": round(
            variance_explained(data[test_rows], test_recon, pixel_max=cfg.pixel_max), 4)}
        shown = test_rows[:8]
        grid = reconstruction_grid(
            [np.asarray(data[shown]), reconstruct(trained, data[shown], pixel_max=cfg.pixel_max),
             test_recon[:8]],
            ["input", f"{run} training", "decoder fine-tuned"], title=f"faces {run}")
        save_figure(figures / f"faces_reconstructions_{gating}.png", grid, dpi=80)
        # Fine-tuning freezes the encoder, so either model gives the same codes.
        codes = encode_mean(finetuned, data[np.concatenate([train_rows, test_rows])], pixel_max=cfg.pixel_max)
        n_shown = shown_cfg.images
        measured = (effects or {}).get(gating, {}).get("models", {}).get(f"fine-tuned seed {seed}")
        for part, (start, stop) in zip(PARTITIONS, partition_bounds(cfg.partitions, cfg.latent_dim)):
            if measured is not None:
                dims, row_labels = shown_dims(measured[part]["per_dim"], part, shown_cfg.max_dims)
                how = "dims ordered by the measured change of their own factor group per unit of z"
            else:
                dims = most_active_dims(codes, start, stop, shown_cfg.max_dims)
                row_labels, how = [f"z{d}" for d in dims], "the most active dims"
            if not dims:  # a collapsed partition: nothing to traverse
                dims = most_active_dims(codes, start, stop, shown_cfg.max_dims)
                row_labels, how = [f"z{d} (inactive)" for d in dims], "no active dim: the partition collapsed"
            cells = np.concatenate([traverse(finetuned, data[row], dims, values, pixel_max=cfg.pixel_max)
                                    for row in test_rows[:n_shown]], axis=1)
            fig = traversal_grid(cells, row_labels, np.tile(values, n_shown),
                                 title=f"faces {run}: {part} partition, {n_shown} held-out faces, "
                                       f"z in [-{shown_cfg.span:g}, {shown_cfg.span:g}]\n({how})")
            save_figure(figures / f"faces_traversal_{gating}_{part}.png", fig, dpi=64)
    return finetuned_scores


def shown_dims(per_dim: list[dict], part: str, limit: int) -> tuple[list[int], list[str]]:
    """The traversed dims of a partition to show, with row labels: those that measurably move the
    partition's own factor group most first (pose partition: pose change; expression partition:
    expression change), each labelled with both changes per unit of z, so a reader sees beside
    each row what the estimator read in it."""
    own = "pose_change" if part == "pose" else "expression_change"
    chosen = sorted(per_dim, key=lambda d: -d[own])[:limit]
    return ([d["dim"] for d in chosen],
            [f"z{d['dim']}: pose {d['pose_change']:.1f}\u00b0, expr {d['expression_change']:.2f}" for d in chosen])


def recipe_figure(frame: pd.DataFrame, study_runs: list[str], main: dict, partition_sizes: list[int],
                  *, prefix: str = "", labels: str = "ground truth"):
    """Placement of pose and expression per run (bars: mean over seeds, dots: seeds) against
    `labels` (row keys `prefix`rf_placement_*), with the partition shares as the chance level
    (dashed), and active dims per partition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    xs = np.arange(len(study_runs))
    width = 0.38
    for i, part in enumerate(PARTITIONS):
        column = f"{prefix}rf_placement_{part}"
        means = [frame.loc[frame["run"] == r, column].mean() for r in study_runs]
        left.bar(xs + (i - 0.5) * width, means, width, label=part, color=f"C{i}", alpha=0.75)
        for x, run in zip(xs, study_runs):
            values = frame.loc[frame["run"] == run, column]
            left.scatter(np.full(len(values), x + (i - 0.5) * width), values, color="k", s=10, zorder=3)
        # chance: a partition's share of the latent dims (what placement is with no structure)
        chance = partition_sizes[i] / sum(partition_sizes)
        left.axhline(chance, color=f"C{i}", linestyle="--", linewidth=1, label=f"chance ({part})")
        actives = [frame.loc[frame["run"] == r, f"active_{part}"].mean() for r in study_runs]
        right.bar(xs + (i - 0.5) * width, actives, width, label=part, color=f"C{i}", alpha=0.75)
    labels = [r + (" *" if r in main.values() else "") for r in study_runs]
    for ax in (left, right):
        ax.set_xticks(xs, labels, rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=8)
    left.set_ylim(0, 1)
    left.set_ylabel("RF placement in own partition")
    left.set_title(f"Faces recipe study: placement against {labels} (bars: mean, dots: seeds; "
                   "* main runs)", fontsize=9)
    right.set_ylabel("active latent dims (Var mu > 0.01)")
    right.set_title("Posterior use per partition (0: collapsed)", fontsize=9)
    fig.tight_layout()
    return fig
