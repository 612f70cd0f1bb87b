"""The report's faces section, from reports/metrics/faces.json (faces_evaluate) and the faces
figures: the recipe study, the main runs beside the paper-faithful one, and their figures.

A run with a collapsed seed (a partition with no active latent dim) is flagged, and its placement
is printed as not interpretable rather than as a result."""

from __future__ import annotations

import json
from pathlib import Path

from gatedvae.faces.spec import PARTITIONS
from gatedvae.report.document import Report


def _cell(summary: dict, key: str, digits: int = 3) -> str | None:
    if key not in summary["mean"]:
        return None
    return f"{summary['mean'][key]:.{digits}f} ± {summary['std'][key]:.{digits}f}"


def _placement(summary: dict, part: str) -> str | None:
    cell = _cell(summary, f"rf_placement_{part}")
    if cell is None:
        return None
    return f"collapsed ({cell})" if summary["collapsed_seeds"] else cell


def remedies_text(remedies: dict | None) -> str:
    """A recipe's remedies as `name value` pairs (`none` for the faithful preset)."""
    if not remedies:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in remedies.items())


def recipe_rows(recipes: dict, main: dict, remedies: dict) -> list[list]:
    rows = []
    for run, s in recipes.items():
        recipe = run.partition("-")[2]
        rows.append([run + (" (main)" if run in main.values() else ""), remedies_text(remedies.get(recipe)),
                     *[_placement(s, part) for part in PARTITIONS],
                     _cell(s, "rf_disentanglement"), _cell(s, "rf_informativeness"),
                     " / ".join(f"{s['mean'][f'kl_{p}']:.2f}" for p in PARTITIONS),
                     " / ".join(f"{s['mean'][f'active_{p}']:.1f}" for p in PARTITIONS),
                     _cell(s, "recon_vs_mean_face"), _cell(s, "test_elbo", 1),
                     f"{s['collapsed_seeds']} of {s['seeds']}"])
    return rows


def faces_section(report: Report, faces_metrics: Path, figures: Path, partition_sizes: list[int],
                  remedies: dict) -> None:
    """remedies: params.yaml's faces.recipes (recipe -> its remedies)."""
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
    variance = metrics.get("factor_variance_shares")
    if variance:
        report.paragraph("Share of pixel variance each factor group explains in the aligned greyscale "
                         "faces: " + ", ".join(f"{k} {v:.3f}" for k, v in variance.items())
                         + "; shared by pair partners: " + ", ".join(
                             f"{k} {v:.3f}" for k, v in metrics.get("pair_variance_explained", {}).items()) + ".")
    if recipes:
        report.heading("Faces: the recipe study", 3)
        report.paragraph("Each run trained once per seed at the same budget; mean ± std over seeds. "
                         "KL and active dims per partition (pose / expression) on the test images; "
                         "recon / mean face: the reconstruction NLL over that of drawing the mean "
                         "face for every image (1: the codes help nothing).")
        report.table(["run", "remedies", "placement: pose", "placement: expression", "RF D", "RF I (NRMSE)",
                      "KL (nats)", "active dims", "recon / mean face", "test ELBO", "collapsed seeds"],
                     recipe_rows(recipes, main, remedies))
        best = metrics.get("best_gated_run")
        chosen = main.get("gated")
        report.paragraph(
            (f"The best gated run by mean placement without a collapsed seed: **{best}**. " if best else
             "Every gated run collapsed on at least one seed. ")
            + (f"The main runs ({chosen}, {main.get('ungated')}) are faces.main_runs in params.yaml"
               + ("." if best in (None, chosen) else f"; they differ from the best measured ({best}): "
                  "re-choose them and rerun.")))
        if (figures / "faces_recipes.png").exists():
            report.figures([(figures / "faces_recipes.png", "recipe study: placement and active dims")])
    report.heading("Faces: main runs, with the paper-faithful run beside them", 3)
    shown = [(f"{g} ({main.get(g, '?')})", metrics[g]) for g in ("gated", "ungated") if g in metrics]
    if "faithful" in metrics and main.get("gated") != "gated-faithful":
        shown.append(("faithful (gated-faithful)", metrics["faithful"]))
    rows = []
    for label, s in shown:
        rows.append([label, *[_placement(s, p) for p in PARTITIONS]]
                    + [_cell(s, f"{reg}_{k}") for reg in ("lasso", "rf")
                       for k in ("disentanglement", "completeness", "informativeness")]
                    + [f"{s['collapsed_seeds']} of {s['seeds']}"])
    report.table(["run", "placement: pose", "placement: expression", "Lasso D", "Lasso C", "Lasso I (NRMSE)",
                  "RF D", "RF C", "RF I (NRMSE)", "collapsed seeds"], rows)
    report.table(["run", "test recon BCE", "KL", "ELBO"],
                 [[label] + [_cell(s, f"test_{k}", 1) for k in ("recon_bce", "kl", "elbo")] for label, s in shown])
    sweeps = sorted(figures.glob("faces_sweep_*.png"))
    if sweeps:
        report.heading("Faces: what the synthetic heads do", 3)
        report.figures([(p, p.stem.replace("faces_sweep_", "") + " sweep at fixed identity") for p in sweeps])
    if (figures / "faces_contact_sheet.png").exists():
        report.figures([(figures / "faces_contact_sheet.png", "aligned greyscale faces (input)")])
    for kind in ("traversal", "reconstructions"):
        paths = sorted(figures.glob(f"faces_{kind}_*.png"))
        if paths:
            report.heading(f"Faces: {'latent traversals per partition (main runs)' if kind == 'traversal' else 'reconstructions'}", 3)
            for path in paths:
                report.figures([(path, path.stem.replace(f"faces_{kind}_", "").replace("_", " "))])
