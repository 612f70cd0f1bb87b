"""The report's faces section, from reports/metrics/faces.json (faces_evaluate) and the faces
figures: the recipe study, the main runs beside the paper-faithful one, and their figures.

A run with a collapsed seed (a partition with no active latent dim) is flagged, and its placement
is printed as not interpretable rather than as a result. Scores against the true factors (keys
rf_*; synthetic faces only) and against the extractor's features (extractor_rf_*; weak labels,
always) are told apart wherever they appear."""

from __future__ import annotations

import json
from pathlib import Path

from gatedvae.faces.spec import PARTITIONS
from gatedvae.report.document import Report


def _cell(summary: dict, key: str, digits: int = 3) -> str | None:
    if key not in summary["mean"]:
        return None
    return f"{summary['mean'][key]:.{digits}f} ± {summary['std'][key]:.{digits}f}"


def _placement(summary: dict, part: str, prefix: str = "") -> str | None:
    cell = _cell(summary, f"{prefix}rf_placement_{part}")
    if cell is None:
        return None
    return f"collapsed ({cell})" if summary["collapsed_seeds"] else cell


def remedies_text(remedies: dict | None) -> str:
    """A recipe's remedies as `name value` pairs (`none` for the faithful preset)."""
    if not remedies:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in remedies.items())


def recipe_rows(recipes: dict, main: dict, remedies: dict, prefix: str = "") -> list[list]:
    rows = []
    for run, s in recipes.items():
        recipe = run.partition("-")[2]
        rows.append([run + (" (main)" if run in main.values() else ""), remedies_text(remedies.get(recipe)),
                     *[_placement(s, part, prefix) for part in PARTITIONS],
                     _cell(s, f"{prefix}rf_disentanglement"), _cell(s, f"{prefix}rf_informativeness"),
                     _cell(s, "test_variance_explained"),
                     " / ".join(f"{s['mean'][f'kl_{p}']:.2f}" for p in PARTITIONS),
                     " / ".join(f"{s['mean'][f'active_{p}']:.1f}" for p in PARTITIONS),
                     _cell(s, "recon_vs_mean_face"), _cell(s, "test_elbo", 1),
                     f"{s['collapsed_seeds']} of {s['seeds']}"])
    return rows


# The faces budget's parts: (what, the stage kinds it runs, the params key of its epochs per run)
BUDGET_PARTS = [
    ("data: acquire, align, greyscale, features, cluster",
     ("faces_acquire", "faces_align", "faces_greyscale", "faces_features", "faces_cluster"), None),
    ("main runs", ("faces_main_train",), "faces.main_runs.epochs"),
    ("pair-method baselines (docs/baselines.md)", ("faces_baseline_train",), "faces.main_runs.epochs"),
    ("decoder fine-tuning of the main runs", ("faces_finetune",), "faces.finetune.epochs"),
    ("recipe study", ("faces_train",), "faces.train.epochs"),
    ("cluster-count study", ("faces_cluster_study", "faces_cluster_baseline"), "studies.faces_clusters.epochs"),
    ("evaluation, figures and sweeps", ("faces_evaluate", "faces_sweeps"), None),
]
BUDGET_MINUTES = 15.0   # the faces branch's target on 2 cores (the faces issue)


def budget_rows(stage_rows: list[dict], epochs: dict[str, int]) -> tuple[list[list], float]:
    """The faces budget per part: stage runs, epochs per run and minutes (the stages' measured
    seconds summed); and the total minutes. stage_rows: report.timings.per_stage rows;
    epochs: params key -> value."""
    by_kind = {r["stage"]: r for r in stage_rows}
    rows, total = [], 0.0
    for what, kinds, key in BUDGET_PARTS:
        found = [by_kind[k] for k in kinds if k in by_kind]
        if not found:
            continue
        seconds = sum(r["total"] for r in found)
        total += seconds
        rows.append([what, ", ".join(k for k in kinds if k in by_kind), str(sum(r["runs"] for r in found)),
                     str(epochs.get(key, "")) if key else "", f"{seconds / 60:.1f}"])
    return rows, total / 60


def speed_rows(conv_step: dict) -> list[list]:
    """benchmarks/conv_step.py's results as table rows: option, images/s, ratio to today's step,
    and whether it keeps today's bytes (the first row is today's step; the benchmark compares
    bytes only for options that keep the step and fp32: a batch-size row is another step, the rest
    reduce the precision)."""
    rows = []
    for i, r in enumerate(conv_step["rows"]):
        same = r["same_bytes_as_today"]
        if same is None:
            kept = "(baseline)" if i == 0 else "(another step)" if r["option"].startswith("batch") \
                else "no (reduced precision)"
        else:
            kept = "yes" if same["identical"] else f"no (max difference {same['max_abs_difference']:.1e})"
        rows.append([r["option"], f"{r['images_per_second']:,.0f}", f"{r['ratio']:.2f}x", kept])
    return rows


def faces_section(report: Report, faces_metrics: Path, figures: Path, partition_sizes: list[int],
                  remedies: dict, stage_rows: list[dict] | None = None, epochs: dict | None = None,
                  conv_step: Path | None = None) -> None:
    """remedies: params.yaml's faces.recipes (recipe -> its remedies); stage_rows, epochs: the
    measured stage times (report.timings.per_stage) and the epochs per run of each part, for the
    budget table; conv_step: benchmarks/conv_step.py's results, for the speed table."""
    metrics = json.loads(faces_metrics.read_text())
    main = metrics.get("main_runs", {})
    recipes = metrics.get("recipes", {})
    total = sum(partition_sizes)
    shares = {p: size / total for p, size in zip(PARTITIONS, partition_sizes)}
    report.heading("Faces: head pose vs expression")
    report.paragraph(
        "Convolutional VAE on 64x64 greyscale aligned faces; a pose partition and an expression "
        "partition, gated by pairs within k-means clusters of head pose and of action units. "
        "Placement: the share of the pose (expression) factors' RF importance that lies in the "
        "pose (expression) partition; a model that ignores the partitions scores their sizes, "
        + ", ".join(f"{p} {shares[p]:.2f}" for p in PARTITIONS) + ". "
        "The paper-faithful preset is beta 1, the KL gated with the reconstruction, partitions in "
        "turn, targets never the anchor (docs/faces.md); the recipes add one remedy each. A run is "
        "**collapsed** when a partition has no active latent dim (Var of the posterior mean "
        "over test images under 0.01) or its codes reconstruct the test images no better than the "
        "mean face does: its placement then measures noise, not disentanglement.")
    labels = metrics.get("labels", {"ground_truth": True})
    truth = labels.get("ground_truth", True)
    prefix = "" if truth else "extractor_"
    extractor = labels.get("extractor", "the extractor")
    weak = labels.get("extractor_labels", {})
    weak_text = (f"{extractor}'s features (pose: {', '.join(weak.get('pose', []))}; expression: "
                 f"{', '.join(weak.get('expression', [])) or 'none'}), on the "
                 f"{labels.get('images_with_extractor_labels', '?')} of {labels.get('images', '?')} "
                 "images it succeeded on")
    if truth:
        report.paragraph(
            "Scores against the synthetic faces' true factors, and beside them against " + weak_text
            + ": weak, noisy labels, the only ones real CelebA has. The second set shows how far "
            "such labels lead a reader from the truth.")
    else:
        report.paragraph(
            "**No ground truth** (real photographs): placement, DCI and the Hinton diagrams are "
            "computed against " + weak_text + ". These are weak, noisy labels: a code can agree "
            "with the extractor's errors, so placement here measures agreement with "
            f"{extractor}, not with the true head pose and expression. Reconstructions, variance "
            "explained, traversals, KL, active dims and the collapse flags need no labels.")
    variance = metrics.get("factor_variance_shares")
    if variance:
        report.paragraph("Share of pixel variance each factor group explains in the aligned greyscale "
                         "faces: " + ", ".join(f"{k} {v:.3f}" for k, v in variance.items())
                         + "; shared by pair partners: " + ", ".join(
                             f"{k} {v:.3f}" for k, v in metrics.get("pair_variance_explained", {}).items()) + ".")
    if recipes:
        report.heading("Faces: the recipe study", 3)
        report.paragraph("Each run trained once per seed at the study's budget (the main runs below train "
                         "longer); mean ± std over seeds; "
                         "placement and RF scores against " + ("the true factors" if truth else
                                                               f"{extractor}'s features (weak labels)")
                         + ". Variance explained: 1 - MSE / MSE of the mean face on the test "
                         "images (the share of their pixel variance the reconstructions explain). "
                         "KL and active dims per partition (pose / expression) on the test images; "
                         "recon / mean face: the reconstruction NLL over that of drawing the mean "
                         "face for every image (1: the codes help nothing).")
        report.table(["run", "remedies", "placement: pose", "placement: expression", "RF D", "RF I (NRMSE)",
                      "variance explained", "KL (nats)", "active dims", "recon / mean face", "test ELBO",
                      "collapsed seeds"],
                     recipe_rows(recipes, main, remedies, prefix))
        best = metrics.get("best_gated_run")
        chosen = main.get("gated")
        report.paragraph(
            (f"The best gated run of the study by mean placement without a collapsed seed: **{best}**. " if best else
             "Every gated run of the study collapsed on at least one seed at the study's budget. ")
            + (f"The main runs ({chosen}, {main.get('ungated')}) are faces.main_runs.runs in params.yaml, "
               "trained again for longer (below)"
               + ("." if best in (None, chosen) else f"; they differ from the best measured ({best}): "
                  "re-choose them and rerun.")))
        if (figures / "faces_recipes.png").exists():
            report.figures([(figures / "faces_recipes.png", "recipe study: placement and active dims")])
    report.heading("Faces: main runs, with the paper-faithful run beside them", 3)
    budget = metrics.get("budget")
    if budget:
        report.paragraph(
            f"The main runs ({main.get('gated')}, {main.get('ungated')}) train {budget['main']['epochs']} "
            f"epochs on seeds {budget['main']['seeds']}; the recipe study's runs train "
            f"{budget['study']['epochs']} epochs on seeds {budget['study']['seeds']}, so the main runs see "
            f"{budget['main']['epochs'] / budget['study']['epochs']:.0f}x the images of a study run. "
            "Mean ± std over the main runs' seeds; the faithful run is the study's.")
    if stage_rows:
        rows, minutes = budget_rows(stage_rows, epochs or {})
        report.paragraph(f"Where the faces budget went (the stages' measured times, summed): "
                         f"**{minutes:.1f} min** for the faces branch, studies included "
                         f"(target: {BUDGET_MINUTES:g} min on 2 cores).")
        report.table(["part", "stages", "stage runs", "epochs per run", "minutes"], rows)
    if conv_step is not None and Path(conv_step).exists():
        measured = json.loads(Path(conv_step).read_text())
        report.paragraph(
            "A cheaper conv step? The faces training step with each option against today's, measured in "
            f"one process (benchmarks/conv_step.py, torch {measured.get('torch', '?')}, "
            f"{measured.get('threads', '?')} threads; docs/benchmarks.md \"A cheaper conv step\"). Batch "
            "rows are per image. None is switched on: channels-last changes the bytes of every faces "
            "model and is an engine option (its edit re-runs the dSprites training); bf16 trains the "
            "main runs 1.22x faster but a seed-paired study of them could not show it changes nothing "
            "beyond seed noise (docs/benchmarks.md \"And on the faces?\").")
        report.table(["option", "images/s", "against today", "same bytes as today"], speed_rows(measured))
    shown = [(f"{g} ({main.get(g, '?')})", metrics[g]) for g in ("gated", "ungated") if g in metrics]
    if "faithful" in metrics and main.get("gated") != "gated-faithful":
        shown.append(("faithful (gated-faithful)", metrics["faithful"]))
    for against, key_prefix in ((("the true factors", ""),) if truth else ()) + (
            (f"{extractor}'s features (weak labels)", "extractor_"),):
        rows = []
        for label, s in shown:
            if f"{key_prefix}rf_placement_pose" not in s["mean"]:
                continue
            rows.append([label, *[_placement(s, p, key_prefix) for p in PARTITIONS]]
                        + [_cell(s, f"{key_prefix}{reg}_{k}") for reg in ("lasso", "rf")
                           for k in ("disentanglement", "completeness", "informativeness")]
                        + [f"{s['collapsed_seeds']} of {s['seeds']}"])
        report.paragraph(f"Against {against}:")
        report.table(["run", "placement: pose", "placement: expression", "Lasso D", "Lasso C", "Lasso I (NRMSE)",
                      "RF D", "RF C", "RF I (NRMSE)", "collapsed seeds"], rows)
    if truth and shown and "extractor_rf_placement_pose" in shown[0][1]["mean"]:
        report.paragraph(f"How far {extractor}'s weak labels move the verdict (RF; truth → weak labels):")
        report.table(["run", "placement: pose", "placement: expression", "RF D", "RF I (NRMSE)"],
                     [[label] + [f"{s['mean'][k]:.3f} → {s['mean']['extractor_' + k]:.3f}"
                                 for k in ("rf_placement_pose", "rf_placement_expression",
                                           "rf_disentanglement", "rf_informativeness")]
                      for label, s in shown])
    tuned_seed = next((s["finetuned"].get("seed") for _, s in shown if "finetuned" in s), None)
    report.table(["run", "test recon BCE", "KL", "ELBO", "variance explained (trained)",
                  "variance explained (decoder fine-tuned" + (f", seed {tuned_seed})" if tuned_seed is not None else ")")],
                 [[label] + [_cell(s, f"test_{k}", 1) for k in ("recon_bce", "kl", "elbo")]
                  + [_cell(s, "test_variance_explained"),
                     f"{s['finetuned']['test_variance_explained']:.3f}" if "finetuned" in s else None]
                  for label, s in shown])
    paired = metrics.get("gated_minus_ungated")
    if paired:
        paired_section(report, paired, truth)
    if metrics.get("baselines") and "gated" in metrics:
        baselines_section(report, metrics["baselines"], metrics["gated"], main.get("gated"), prefix)
    effects = metrics.get("traversal_effects")
    if effects:
        traversal_effects_section(report, effects)
        shown_traversals = [p for g in ("gated", "ungated") for part in PARTITIONS
                            if (p := figures / f"faces_traversal_{g}_{part}.png").exists()]
        for path in shown_traversals:
            report.figures([(path, path.stem.replace("faces_traversal_", "").replace("_", " ")
                             + " partition traversal (row labels: the measured change per unit of z)")])
    sweeps = sorted(figures.glob("faces_sweep_*.png"))
    if sweeps:
        report.heading("Faces: what the synthetic heads do", 3)
        report.figures([(p, p.stem.replace("faces_sweep_", "") + " sweep at fixed identity") for p in sweeps])
    if (figures / "faces_contact_sheet.png").exists():
        report.figures([(figures / "faces_contact_sheet.png", "aligned greyscale faces (input)")])
    for kind in (("reconstructions",) if effects else ("traversal", "reconstructions")):
        paths = sorted(figures.glob(f"faces_{kind}_*.png"))
        if paths:
            report.heading(f"Faces: {'latent traversals per partition (main runs)' if kind == 'traversal' else 'reconstructions'}", 3)
            for path in paths:
                report.figures([(path, path.stem.replace(f"faces_{kind}_", "").replace("_", " "))])


PAIRED_SCORES = [("rf_placement_pose", "RF placement: pose"), ("rf_placement_expression", "RF placement: expression"),
                 ("rf_disentanglement", "RF D"), ("rf_completeness", "RF C"), ("rf_informativeness", "RF I (NRMSE)"),
                 ("test_variance_explained", "variance explained"), ("test_kl", "test KL (nats)"),
                 ("test_elbo", "test ELBO (nats)")]


def paired_section(report: Report, paired: dict, truth: bool) -> None:
    """The main runs' gated - un-gated differences per seed pair, with 95% intervals."""
    def interval(d):
        if d.get("ci95_low") is None:
            return "n/a (one seed pair)"
        verdict = " (excludes 0)" if d["excludes_zero"] else ""
        return f"[{d['ci95_low']:+.3f}, {d['ci95_high']:+.3f}]{verdict}"

    rows = []
    for prefix in (("", "extractor_") if truth else ("extractor_",)):
        for key, label in PAIRED_SCORES:
            d = paired.get(prefix + key)
            if d is None:
                continue
            rows.append([label + (" (weak labels)" if prefix else ""), f"{d['mean']:+.3f}", interval(d), str(d["n"])])
    report.paragraph("Gated − un-gated, paired by seed (the same code as dSprites' Table I intervals: "
                     "Student's t, 95%; with 2 seeds the interval is wide, t = 12.7):")
    report.table(["score", "mean difference", "95% interval", "seed pairs"], rows)


def traversal_effects_section(report: Report, effects: dict) -> None:
    """The paper's claim as a number: pose and expression change per unit of each partition's
    traversal, read from the decoded faces by an image estimator (faces/traversal_effects.py)."""
    r2 = effects.get("estimator_r2_held_out", {})
    report.heading("Faces: what each partition's traversal changes", 3)
    report.paragraph(
        f"Each active dim of a partition set to {effects['values'][0]:g} .. {effects['values'][-1]:g} on "
        f"{effects['images']} held-out faces, decoded, and the decoded faces' pose and expression read by "
        f"{effects['estimator']} (R^2 on held-out real faces: " + ", ".join(f"{k} {v:.2f}" for k, v in r2.items())
        + "). Pose change: |d yaw/dz| + |d pitch/dz| in degrees per unit of z; expression change: the sum of "
        "|d factor/dz| over smile, mouth open, brow and eye closure (0..1 units) per unit of z; each the "
        "mean over the partition's active dims. The paper's claim is pose selectivity (pose change of the "
        "pose partition over that of the expression partition) and expression selectivity (the reverse) well "
        "above 1 for the gated model (the faces issue's target: 3) and near 1 for the un-gated one. The last "
        "column is the estimator's R^2 on the model's own reconstructions (yaw / smile): where it is near 0 "
        "the decoded faces carry too little of the factor for any traversal to move it.")
    rows = []
    for gating in ("gated", "ungated"):
        if gating not in effects:
            continue
        for name, m in effects[gating]["models"].items():
            pose, expression = m["pose"], m["expression"]
            rec = m.get("estimator_r2_on_reconstructions", {})
            rows.append([f"{gating} ({effects[gating]['run']})", name,
                         f"{pose['pose_change']:.2f} / {pose['expression_change']:.3f} ({len(pose['active_dims'])} dims)",
                         f"{expression['pose_change']:.2f} / {expression['expression_change']:.3f} ({len(expression['active_dims'])} dims)",
                         f"{m['pose_selectivity']:.2f}", f"{m['expression_selectivity']:.2f}",
                         f"{rec.get('yaw', float('nan')):.2f} / {rec.get('smile', float('nan')):.2f}"])
    report.table(["run", "model", "pose partition: pose (deg) / expression per unit z",
                  "expression partition: pose (deg) / expression per unit z", "pose selectivity",
                  "expression selectivity", "estimator R^2 on reconstructions"], rows)


BASELINE_SCORES = [("rf_placement_pose", "placement: pose"), ("rf_placement_expression", "placement: expression"),
                   ("rf_disentanglement", "RF D"), ("rf_informativeness", "RF I (NRMSE)"),
                   ("test_variance_explained", "variance explained"), ("test_kl", "KL (nats)")]


def baselines_section(report: Report, baselines: dict, gated: dict, gated_run: str | None, prefix: str) -> None:
    """The pair methods (faces.main_runs.baselines) beside the gated main run: mean ± std over
    seeds, and each method's paired difference from the gated run with its 95% interval."""
    report.heading("Faces: the field's pair methods beside the gated main run", 3)
    report.paragraph(
        "Ada-GVAE and the known-group GVAE (Locatello et al. 2020; docs/baselines.md) on the same pose / "
        "expression pairs, net, beta and budget as the main runs (B/2 pairs per step: as many images encoded "
        "per step, for as many steps). Ada-GVAE is told nothing about which partition a pair shares; the "
        "known-group GVAE averages the named partition's posteriors, the information gating gets. "
        "Δ: method − gated main run, paired by seed, 95% interval (t = 12.7 with 2 seeds).")

    def cell(s, key, d=None):
        text = _cell(s, prefix + key if key.startswith("rf_") else key)
        if text is None:
            return None
        if d is None:
            return text
        if d.get("ci95_low") is None:
            return f"{text}<br>Δ {d['mean']:+.3f} (no interval)"
        mark = " **excludes 0**" if d["excludes_zero"] else ""
        return f"{text}<br>Δ {d['mean']:+.3f} [{d['ci95_low']:+.3f}, {d['ci95_high']:+.3f}]{mark}"

    rows = [[f"gated ({gated_run})"] + [cell(gated, k) for k, _ in BASELINE_SCORES]
            + [f"{gated['mean'].get('active_pose', float('nan')):.1f} / {gated['mean'].get('active_expression', float('nan')):.1f}",
               f"{gated['collapsed_seeds']} of {gated['seeds']}"]]
    for method, s in baselines.items():
        versus = s.get("minus_gated", {})
        rows.append([method] + [cell(s, k, versus.get(prefix + k if k.startswith("rf_") else k))
                                for k, _ in BASELINE_SCORES]
                    + [f"{s['mean'].get('active_pose', float('nan')):.1f} / {s['mean'].get('active_expression', float('nan')):.1f}",
                       f"{s['collapsed_seeds']} of {s['seeds']}"])
    report.table(["run"] + [label for _, label in BASELINE_SCORES] + ["active dims (pose / expression)",
                                                                       "collapsed seeds"], rows)
