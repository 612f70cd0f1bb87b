"""The report: report.md and a self-contained report.html, built from the pipeline's metrics and
figures only (no model is loaded). Each section is a function of the files it reads."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from dataclasses import dataclass

from gatedvae import params as P
from gatedvae.atomic import atomic_path, save_figure, save_text
from gatedvae.dsprites.spec import FACTOR_NAMES, run_key
from gatedvae.dsprites.table1 import (REGRESSOR_KEYS, baselines_markdown, paper_informativeness_per_factor,
                                      paper_table, side_by_side_markdown)
from gatedvae.evaluation.plots import line_with_errorbars
from gatedvae.report import timings as T
from gatedvae.report.faces import faces_section
from gatedvae.report.document import Report
from gatedvae.training.config import GATINGS, PAIRS


@dataclass
class Inputs:
    """Where the report reads from (dvc.yaml's cmd names each path)."""
    dsprites_metrics: Path      # reports/metrics/dsprites.json
    curves: Path                # training curves CSV
    runs: Path                  # dSprites run folders (<run>/eval/*.png, metrics.json)
    paper: Path                 # the paper's Table I CSV
    paper_per_factor: Path      # the supplement's per-factor informativeness CSV
    studies: Path               # the study summary CSVs
    study_figures: Path         # their figures
    faces_metrics: Path         # reports/metrics/faces.json (optional)
    faces_figures: Path         # the faces branch's figures
    timings: Path               # reports/timings: one record per stage run (gatedvae.timing)
    conv_step: Path | None = None   # benchmarks/conv_step_results.json: the faces step's speed options


def revision() -> str:
    def git(*args):
        done = subprocess.run(["git", *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    commit = git("rev-parse", "--short", "HEAD") or "no git commit"
    # what decides the results: code, stages and their configuration (not dvc.lock or the
    # outputs, which the running `dvc repro` itself is updating)
    code = ("src", "stages", "dvc.yaml", "params.yaml", "reference", "configs")
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no", "--", *code) else ""
    dvc = subprocess.run(["dvc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"git {commit}{dirty}; DVC {dvc or 'unknown'}"


class FigureDir:
    """Figures are written into a temporary folder (renamed into place at the end) but the
    report refers to them at their final place."""

    def __init__(self, writing: Path, final: Path):
        self.writing, self.final = writing, final

    def copy(self, src: Path, name: str) -> Path:
        shutil.copyfile(src, self.writing / name)
        return self.final / name

    def save(self, fig, name: str) -> Path:
        save_figure(self.writing / name, fig, dpi=80)
        return self.final / name


def dsprites_section(report: Report, params: dict, metrics: dict, inputs: Inputs, figures: FigureDir) -> None:
    """The dSprites results: Table I, paired differences, per-factor NRMSE, the other metrics,
    held-out ELBO, figures of the first seed and the training curves."""
    models, seeds = P.get(params, "dsprites.sweep.models"), P.get(params, "dsprites.sweep.seeds")
    methods = P.get(params, "dsprites.baselines.methods")
    arms = [(model, gating) for model in models for gating in GATINGS] + [(m, PAIRS) for m in methods]
    table1(report, params, metrics, inputs, models, seeds)
    paired_differences(report, metrics, models)
    if methods:
        baselines(report, params, metrics, methods)
    informativeness_per_factor(report, inputs, models, seeds)
    other_metrics(report, params, metrics, arms)
    held_out(report, params, metrics, arms)
    run_figures(report, inputs.runs, figures, models, seeds[0])
    if methods:
        baseline_figures(report, inputs.runs, figures, methods, P.get(params, "dsprites.baselines.seeds")[0])
    training_curves(report, inputs.curves, figures)


def baselines(report: Report, params: dict, metrics: dict, methods: list) -> None:
    report.heading("The field's pair methods beside Table I", 3)
    seeds = P.get(params, "dsprites.baselines.seeds")
    report.paragraph(f"{', '.join(methods)} (Locatello et al. 2020; docs/baselines.md) trained on the same pair "
                     f"index, beta and budget as the gated beta-VAE: B/2 pairs per step, so each step encodes "
                     f"and decodes as many images as a gated step, for as many steps; seeds {seeds}. "
                     "Ada-GVAE is told nothing about which factor a pair shares; the known-group GVAE is "
                     "told the shared partition, exactly what gating is told.")
    report.markdown(baselines_markdown(metrics, methods))


def table1(report: Report, params: dict, metrics: dict, inputs: Inputs, models: list, seeds: list) -> None:
    report.heading("dSprites: Table I side by side with the paper")
    report.paragraph(f"{len(models)} models x gated/un-gated x {len(seeds)} seed(s); "
                     f"{P.get(params, 'dsprites.acquire.n_images') or 737280} images, "
                     f"{P.get(params, 'dsprites.train.epochs')} epochs, hidden {P.get(params, 'dsprites.net.hidden')}, "
                     f"{P.get(params, 'dsprites.train.precision')}. "
                     "D = disentanglement (code-importance weighted), C = completeness, "
                     "I = informativeness as NRMSE (lower is better); ours as mean ± std over seeds.")
    report.markdown(side_by_side_markdown(metrics, paper_table(inputs.paper)))


def paired_differences(report: Report, metrics: dict, models: list) -> None:
    report.heading("Gated minus un-gated, paired by seed (95% confidence interval)", 3)

    def cell(d):
        if d is None:
            return None
        if d.get("ci95_low") is None:
            return f"{d['mean']:+.3f} (n={d['n']}, no interval)"
        mark = " **excludes 0**" if d.get("excludes_zero") else ""
        return f"{d['mean']:+.3f} [{d['ci95_low']:+.3f}, {d['ci95_high']:+.3f}]{mark}"

    rows = [[model, reg] + [cell(metrics[model].get("gated_minus_ungated", {}).get(reg, {}).get(leaf))
                            for leaf in ("disentanglement", "completeness", "informativeness", "placement")]
            for model in models for reg in REGRESSOR_KEYS.values()]
    report.table(["Model", "Regressor", "Δ D", "Δ C", "Δ I (NRMSE)", "Δ placement"], rows)


def informativeness_per_factor(report: Report, inputs: Inputs, models: list, seeds: list) -> None:
    report.heading("Informativeness per factor (NRMSE) beside the supplement's Table 2", 3)
    paper = paper_informativeness_per_factor(inputs.paper_per_factor)
    rows = []
    for model in models:
        for gating in GATINGS:
            per_seed = [json.loads((inputs.runs / run_key(model, gating, s) / "eval" / "metrics.json").read_text())
                        for s in seeds]
            for reg_paper, reg in REGRESSOR_KEYS.items():
                ours = [np.mean([m[reg]["informativeness"]["per_factor"][f] for m in per_seed])
                        for f in FACTOR_NAMES]
                ref = paper[(paper.model == model) & (paper.regressor == reg_paper) &
                            (paper.gated == (gating == "gated"))]
                theirs = ref[list(FACTOR_NAMES)].to_numpy()[0] if len(ref) else [None] * 5
                rows.append([model, gating, reg] + [f"{o:.3f} / {t:.3f}" if t is not None else f"{o:.3f} / –"
                                                    for o, t in zip(ours, theirs)])
    report.table(["Model", "Gating", "Regressor"] + [f"{f}: ours / paper" for f in FACTOR_NAMES], rows)


def other_metrics(report: Report, params: dict, metrics: dict, arms: list) -> None:
    report.heading("Other disentanglement metrics", 3)
    keys = ("factor_vae_metric", "beta_vae_metric", "mig", "sap", "modularity", "explicitness",
            "dci_gbt.disentanglement", "dci_gbt.completeness", "dci_gbt.informativeness_test")

    def mean(arm: dict, key: str):
        for part in key.split("."):
            if part not in arm:
                return None
            arm = arm[part]
        return arm["mean"]

    rows = [[model, gating] + [mean(metrics[model][gating], k) for k in keys]
            + [metrics[model][gating][r]["placement"]["mean"] for r in ("lasso", "rf")]
            for model, gating in arms]
    report.table(["Model", "Gating", "FactorVAE metric", "beta-VAE metric", "MIG", "SAP", "modularity",
                  "explicitness", "D (GBT)", "C (GBT)", "I (GBT accuracy)", "placement (Lasso)",
                  "placement (RF)"], rows)
    gbt_rows = (P.get(params, "dsprites.evaluate.gbt_n_train", 0), P.get(params, "dsprites.evaluate.gbt_n_test", 0))
    report.paragraph("Placement: the share of each factor's importance that lies in the partition "
                     "its pairs were built for (mean over factors); 0.25 is what a code with no "
                     "preference for its partition would score with four equal partitions. SAP "
                     "(Kumar et al. 2018), modularity and explicitness (Ridgeway & Mozer 2018, "
                     "explicitness on the test rows) and DCI with gradient-boosted trees (GBT: "
                     "disentanglement, importance-weighted completeness, and test accuracy as "
                     "informativeness, higher is better) as disentanglement_lib computes them "
                     "(evaluation/metrics/sap.py, modularity_explicitness.py, dci_gbt.py): the "
                     "numbers its published tables use. "
                     + (f"GBT DCI on {gbt_rows[0]} train and {gbt_rows[1]} test rows "
                        "(disentanglement_lib: 10,000 and 5,000; docs/dsprites.md measures what "
                        "the smaller sample moves). " if gbt_rows[0] else "")
                     + "Mean over seeds.")


def held_out(report: Report, params: dict, metrics: dict, arms: list) -> None:
    report.heading("Held-out reconstruction error and ELBO", 3)
    rows = []
    for model, gating in arms:
        m = metrics[model][gating]
        rows.append([model, gating, m["test_before_finetune"]["recon_bce"]["mean"],
                     m["test"]["recon_bce"]["mean"], m["test"]["kl"]["mean"], m["test"]["elbo"]["mean"]])
    report.table(["Model", "Gating", "recon BCE (trained)", "recon BCE (decoder fine-tuned)",
                  "KL", "ELBO (fine-tuned)"], rows)
    report.paragraph(f"Nats per image on the {P.get(params, 'dsprites.evaluate.n_test')} test images (mean over "
                     "seeds). Recon BCE decodes the posterior mean; the ELBO uses one seeded sample "
                     "of z. A gated encoder is trained to reconstruct pair partners, so its own "
                     "reconstructions are expected to be worse until the decoder is fine-tuned.")


def run_figures(report: Report, runs: Path, figures: FigureDir, models: list, seed: int) -> None:
    """Each model's un-gated and gated figure side by side, per kind of figure."""
    def pair(model: str, figure: str, label: str = "") -> list:
        return [(figures.copy(runs / run_key(model, g, seed) / "eval" / f"{figure}.png",
                              f"{run_key(model, g, seed)}_{figure}.png"), f"{model} {g}{label}") for g in GATINGS]

    report.heading(f"Hinton diagrams (seed {seed}): un-gated left, gated right", 3)
    for model in models:
        for reg in ("lasso", "rf"):
            report.figures(pair(model, f"hinton_{reg}", f" ({reg})"))
    report.heading(f"Reconstructions before and after decoder fine-tuning (seed {seed})", 3)
    for model in models:
        report.figures(pair(model, "reconstructions"))
    report.heading(f"Latent traversals per partition (seed {seed}, fine-tuned decoder)", 3)
    for model in models:
        report.figures(pair(model, "traversals"))


def baseline_figures(report: Report, runs: Path, figures: FigureDir, methods: list, seed: int) -> None:
    report.heading(f"Pair methods (seed {seed}): Hinton diagram (RF) and traversals", 3)
    for method in methods:
        key = run_key(method, PAIRS, seed)
        report.figures([(figures.copy(runs / key / "eval" / f"{figure}.png", f"{key}_{figure}.png"),
                         f"{method} {label}") for figure, label in (("hinton_rf", "(rf)"), ("traversals", "traversals"))])


def training_curves(report: Report, curves_csv: Path, figures: FigureDir) -> None:
    report.heading("Training curves", 3)
    curves = pd.read_csv(curves_csv)
    names = sorted(curves["run"].unique())
    epochs = sorted(curves["epoch"].unique())
    table = curves.pivot(index="run", columns="epoch", values="loss").reindex(index=names, columns=epochs)
    fig = line_with_errorbars(epochs, table.to_numpy(), np.zeros_like(table.to_numpy()), names,
                              "epoch", "training loss (per image)", "dSprites training loss")
    report.figures([(figures.save(fig, "training_curves.png"), "training loss per run")])


def studies_section(report: Report, inputs: Inputs) -> None:
    report.heading("Studies: beta sweep and supervision noise (dSprites, beta-VAE), clusters (faces)")
    for study, x, blurb in (
            ("beta_sweep", "beta", "KL weight beta from 0 to 5, gated and un-gated (mean ± std over seeds)."),
            ("noise", "noise_fraction", "A fraction of the gated pair targets replaced by random images: "
                                        "how much does placement depend on clean supervision?")):
        path = inputs.studies / f"{study}.csv"
        if not path.exists():
            continue
        frame = pd.read_csv(path)
        report.heading(study.replace("_", " "), 3)
        report.paragraph(blurb)
        rows = [[r[x], r["gating"]] + [f"{r[c + '_mean']:.3f} ± {r[c + '_std']:.3f}"
                                       for c in ("rf_disentanglement", "rf_placement", "beta_vae_metric",
                                                 "test_recon_bce")]
                + [int(r["n_seeds"])] for r in frame.to_dict("records")]
        report.table([x, "gating", "RF D", "RF placement", "beta-VAE metric", "test recon BCE (nats)",
                      "seeds"], rows)
        report.figures([(p, p.stem.replace("_", " ")) for p in
                        sorted(inputs.study_figures.glob(f"{study}_*.png"))])
    if (inputs.studies / "curve.csv").exists():
        learning_curve_section(report, inputs)
    if (inputs.studies / "faces_clusters.csv").exists():
        faces_clusters_section(report, inputs.studies / "faces_clusters.csv", inputs.study_figures)


def learning_curve_section(report: Report, inputs: Inputs) -> None:
    """The curve study beside the paper's beta-VAE (50 epochs of 737,280 images: 36.9M seen)."""
    frame = pd.read_csv(inputs.studies / "curve.csv").sort_values(["gating", "images_seen"])
    per_factor = paper_informativeness_per_factor(inputs.paper_per_factor)
    table = paper_table(inputs.paper)
    report.heading("learning curve", 3)
    report.paragraph("The main matrix's beta-VAE, gated and un-gated, trained once for the longest budget "
                     "and evaluated after each listed epoch (studies.curve); random-forest NRMSE per factor "
                     "(lower is better), mean NRMSE, disentanglement and completeness, mean over "
                     f"{int(frame['n_seeds'].max())} seed(s). The paper's row is its 50 epochs of the full "
                     "grid (36.9M images seen).")
    rows = []
    for gating in GATINGS:
        part = frame[frame["gating"] == gating]
        for r in part.to_dict("records"):
            rows.append([gating, f"{r['images_seen']:,}"]
                        + [f"{r[f'rf_nrmse_{f}_mean']:.3f}" for f in FACTOR_NAMES]
                        + [f"{r[c + '_mean']:.3f}" for c in ("rf_informativeness", "rf_disentanglement",
                                                             "rf_completeness")])
        if part.empty:
            continue
        gated = gating == "gated"
        ref = per_factor[(per_factor.model == "beta_vae") & (per_factor.regressor == "random_forest")
                         & (per_factor.gated == gated)]
        dci = table[(table.model == "beta_vae") & (table.regressor == "random_forest") & (table.gated == gated)]
        if len(ref) and len(dci):
            rows.append([f"{gating}, paper", "36,864,000"] + [f"{ref[f].iloc[0]:.3f}" for f in FACTOR_NAMES]
                        + [f"{ref['weighted_avg'].iloc[0]:.3f}", f"{dci['disentanglement_mean'].iloc[0]:.3f}",
                           f"{dci['completeness_mean'].iloc[0]:.3f}"])
    report.table(["gating", "images seen", *FACTOR_NAMES, "mean I", "RF D", "RF C"], rows)
    report.figures([(p, p.stem.replace("_", " ")) for p in sorted(inputs.study_figures.glob("curve_*.png"))])


def faces_clusters_section(report: Report, path: Path, study_figures: Path) -> None:
    frame = pd.read_csv(path).sort_values(["gating", "clusters"])
    report.heading("faces: number of k-means clusters", 3)
    report.paragraph("Synthetic faces; head pose and action units each cut into k clusters, a gated "
                     "model trained on pairs within them, and an un-gated baseline at the same budget. "
                     "Few clusters: partners share little; many: partners are the anchor's nearest "
                     "neighbours. Pair variance: the share of pixel variance a partition's pairs have "
                     "in common. Every member trains with the main faces run's recipe. A member is "
                     "collapsed when a partition has no active latent dim on a seed: its placement "
                     "then says nothing.")
    has_truth = "rf_placement_pose_mean" in frame

    def collapsed(r):  # a partition without an active dim on some seed
        return "yes" if r["collapsed_mean"] > 0 else "no"

    def cell(r, column):
        return f"{r[column + '_mean']:.3f} ± {r[column + '_std']:.3f}" if f"{column}_mean" in r else None
    rows = []
    for r in frame.to_dict("records"):
        gated = r["gating"] == "gated"
        rows.append([int(r["clusters"]) if gated else "–", r["gating"],
                     f"{int(r['pose_clusters_mean'])} / {int(r['expression_clusters_mean'])}" if gated else "–",
                     f"{r['pose_pair_variance_explained_mean']:.3f} / {r['expression_pair_variance_explained_mean']:.3f}"
                     if gated else "–"]
                    + ([cell(r, "rf_placement_pose"), cell(r, "rf_placement_expression")] if has_truth else [])
                    + [cell(r, "test_kl"), collapsed(r), int(r["n_seeds"])])
    report.table(["k asked", "gating", "clusters made (pose / expr.)", "pair variance (pose / expr.)"]
                 + (["RF placement: pose", "RF placement: expression"] if has_truth else [])
                 + ["test KL (nats)", "collapsed", "seeds"], rows)
    report.figures([(p, p.stem.replace("_", " ")) for p in
                    sorted(study_figures.glob("faces_clusters_*.png"))])


def timing_section(report: Report, folder: Path, figures: FigureDir, stages: set[str] | None = None) -> None:
    """`stages`: the stages dvc.yaml defines now; records of any other (a removed matrix member)
    are left out and counted."""
    records = T.read_records(folder)
    ghosts = [r["stage"] for r in records if stages is not None and r["stage"] not in stages]
    records = [r for r in records if r["stage"] not in ghosts]
    report.heading("Where the time went")
    if ghosts:
        report.paragraph(f"Left out: {len(ghosts)} timing record(s) of stages no longer in dvc.yaml "
                         f"({', '.join(sorted(ghosts)[:5])}{', ...' if len(ghosts) > 5 else ''}); "
                         "`gatedvae prune` removes them with their outputs and lock entries.")
    if not records:
        report.paragraph(f"No stage timing records in {folder}.")
        return
    rows = T.per_stage(records)
    total = T.summary(records)
    columns = [k for k in rows[0] if k != "stage"]

    def cell(column, value):  # whole seconds; blank where a stage has no such phase
        return str(value) if column == "runs" else (f"{value:.0f}" if value >= 0.5 else ("<1" if value > 0 else ""))

    report.table(["Stage", *columns], [[r["stage"]] + [cell(c, r[c]) for c in columns] for r in rows])
    latest, older = T.latest_run(records)
    run = T.summary(latest)
    by_phase = sorted(total["by_phase_s"].items(), key=lambda kv: -kv[1])
    text = (f"Seconds per stage, summed over its runs ({total['stage_runs']} stage runs; this table "
            "leaves out the report stage itself). Start-up is the interpreter and imports before "
            "the stage's work; `other` is work outside the named phases (loading data, "
            f"rendering, clustering...). Sum over stages: {total['serial_s'] / 60:.1f} min. ")
    if not older:
        text += (f"**Wall time of the `dvc repro` that made these results: {run['span_s'] / 60:.1f} min** "
                 f"(every one of the {run['stage_runs']} stage runs, first start to last finish, the "
                 "report itself left out); the difference from the sum, "
                 f"{(run['span_s'] - run['serial_s']) / 60:.1f} min or "
                 f"{(run['span_s'] - run['serial_s']) / max(1, run['stage_runs'] - 1):.1f} s per stage, "
                 "is DVC's own work between stages (checking, hashing, caching, rewriting dvc.lock).")
    else:
        names = sorted({r["stage"] for r in older})
        text += (f"The latest `dvc repro` ran {run['stage_runs']} of these stage runs in "
                 f"{run['span_s'] / 60:.1f} min (first start to last finish, the report left out); "
                 f"the other {len(older)} record(s) are older, of stages it found up to date "
                 f"({', '.join(names[:5])}{', ...' if len(names) > 5 else ''}), so that is not the "
                 "wall time of a run from nothing: `dvc repro --force` measures one.")
    text += " Largest costs: " + ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in by_phase[:5]) + "."
    report.paragraph(text)
    report.figures([(figures.save(T.figure(rows), "timings.png"), "minutes per stage, by phase")])


def build(params, *, inputs: Inputs, figures_out: Path, markdown: Path, html: Path,
          stages: set[str] | None = None) -> None:
    """Write markdown and html; the dSprites figures are copied (or drawn) into figures_out."""
    metrics = json.loads(inputs.dsprites_metrics.read_text())
    report = Report("Gated-VAE reproduction report")
    report.paragraph(f"Produced by {revision()}. Generated from the metrics and figures of the DVC "
                     "pipeline; `dvc repro report` rebuilds it.")
    with atomic_path(figures_out) as writing:
        writing.mkdir(parents=True)
        figures = FigureDir(writing, figures_out)
        dsprites_section(report, params, metrics, inputs, figures)
        studies_section(report, inputs)
        if inputs.faces_metrics.exists():
            records = [r for r in T.read_records(inputs.timings)
                       if r["stage"].startswith("faces_") and (stages is None or r["stage"] in stages)]
            epochs = {key: P.get(params, key) for key in ("faces.main_runs.epochs", "faces.finetune.epochs",
                                                           "faces.train.epochs", "studies.faces_clusters.epochs")}
            faces_section(report, inputs.faces_metrics, inputs.faces_figures,
                          P.get(params, "faces.train.partition_sizes"), P.get(params, "faces.recipes", {}) or {},
                          stage_rows=T.per_stage(records) if records else None, epochs=epochs,
                          conv_step=inputs.conv_step)
        timing_section(report, inputs.timings, figures, stages)
    report.heading("Parameters")
    report.code(Path(getattr(params, "path", "params.yaml")).read_text(), "yaml")
    save_text(markdown, report.to_markdown(markdown.parent))
    save_text(html, report.to_html())
    print(f"wrote {markdown} and {html}")


def stage(params, *, figures_out: str, markdown: str, html: str, dvcfile: str, **paths: str) -> None:
    """The report stage: every Inputs field comes as a path argument of the same name; the
    timing table keeps the stages `dvcfile` defines."""
    from gatedvae.pipeline import stage_names

    build(params, inputs=Inputs(**{name: Path(path) for name, path in paths.items()}),
          figures_out=Path(figures_out), markdown=Path(markdown), html=Path(html),
          stages=stage_names(Path(dvcfile).parent))
