"""The studies' tables (CSV, for `dvc plots`) and figures: the beta sweep, the supervision-noise
study and the learning curve on dSprites, and the number of k-means clusters on faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import params as P
from gatedvae.atomic import atomic_path, save_figure
from gatedvae.dsprites.spec import FACTOR_NAMES
from gatedvae.dsprites.table1 import paper_informativeness_per_factor, paper_table
from gatedvae.errors import StageError
from gatedvae.evaluation.plots import line_with_errorbars
from gatedvae.faces.spec import PARTITIONS as FACES_PARTS
from gatedvae.training.config import GATINGS

SERIES = {  # figure -> (columns plotted, label)
    "disentanglement": (["rf_disentanglement", "lasso_disentanglement", "beta_vae_metric"],
                        "score (higher is better)"),
    "placement": (["rf_placement", "lasso_placement"], "share inside the intended partition"),
    "reconstruction": (["test_recon_bce"], "test reconstruction BCE, nats per image"),
}

# study -> (the x column of its table, figure title)
STUDIES = {"beta_sweep": ("beta", "beta-VAE against beta"),
           "noise": ("noise_fraction", "Gated beta-VAE: supervision noise"),
           "faces_clusters": ("clusters", None),
           "curve": ("images_seen", None)}


def summarise(frame: pd.DataFrame, x: str) -> pd.DataFrame:
    """mean and std over seeds per (x, gating) for every metric column."""
    metrics = [c for c in frame.columns if c not in ("study", "value", "gating", "seed", "images_per_second")
               and pd.api.types.is_numeric_dtype(frame[c])]  # not labels such as the recipe
    grouped = frame.groupby(["value", "gating"])[metrics]
    out = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).fillna(0.0).add_suffix("_std"))
    out["n_seeds"] = grouped.size()
    return out.reset_index().rename(columns={"value": x})


def figure(summary: pd.DataFrame, x: str, title: str, columns: list[str], ylabel: str):
    labels, means, stds = [], [], []
    for gating in sorted(summary["gating"].unique()):
        part = summary[summary["gating"] == gating].sort_values(x)
        for column in columns:
            labels.append(f"{column} ({gating})")
            means.append(part[f"{column}_mean"].to_numpy())
            stds.append(part[f"{column}_std"].to_numpy())
    xs = np.sort(summary[x].unique())
    return line_with_errorbars(xs, np.array(means), np.array(stds), labels, x, ylabel, title)


def faces_figures(summary: pd.DataFrame) -> dict[str, object]:
    """Series against the clusters per partition (log axis), gated; the un-gated baseline, which
    has no clusters, as dashed lines."""
    gated = summary[summary["gating"] == "gated"].sort_values("clusters")
    baseline = summary[summary["gating"] == "ungated"]

    def series(columns, labels, ylabel, title, baselines=None):
        return line_with_errorbars(gated["clusters"], [gated[f"{c}_mean"] for c in columns],
                                   [gated[f"{c}_std"] for c in columns], labels,
                                   "k-means clusters per partition", ylabel, title, log_x=True,
                                   references=baselines if len(baseline) else None)

    def ungated(column):
        return float(baseline[f"{column}_mean"].iloc[0]) if len(baseline) else None

    figures = {}
    if "rf_placement_pose_mean" in summary:  # only with ground-truth factors (synthetic faces)
        columns = [f"rf_placement_{p}" for p in FACES_PARTS]
        figures["placement"] = series(columns, list(FACES_PARTS), "RF placement in own partition",
                                      "Faces: placement against clusters (dashed: un-gated)",
                                      {p: ungated(c) for p, c in zip(FACES_PARTS, columns)})
    figures["pair_variance"] = series([f"{p}_pair_variance_explained" for p in FACES_PARTS], list(FACES_PARTS),
                                      "pixel variance the pairs share", "Faces: how much a pair shares")
    figures["kl"] = series(["test_kl"], ["gated"], "test KL (nats per image)",
                           "Faces: posterior use against clusters", {"un-gated": ungated("test_kl")})
    return figures


def members(params) -> dict[str, list[str]]:
    """The member files the current params ask for, per study (DVC's `${key}` of each matrix
    member; stale files from older lists are ignored)."""
    def listed(key):
        values = P.get(params, key)
        P.check(isinstance(values, list) and values and len(set(values)) == len(values), key,
                f"must be a non-empty list without repeats (DVC runs a repeated member once), got {values!r}")
        return values
    return {
        "beta_sweep": [f"{b}-{g}-{s}" for b in listed("studies.beta_sweep.betas")
                       for g in GATINGS for s in listed("studies.beta_sweep.seeds")],
        "noise": [f"{r}-{s}" for r in listed("studies.noise.fractions") for s in listed("studies.noise.seeds")],
        "faces_clusters": [f"{k}-{s}" for k in listed("studies.faces_clusters.counts")
                           for s in listed("studies.faces_clusters.seeds")]
        + [f"ungated-{s}" for s in listed("studies.faces_clusters.seeds")],
        "curve": [f"{g}-{s}" for g in GATINGS for s in listed("studies.curve.seeds")],
    }


def curve_summary(runs: list[dict]) -> pd.DataFrame:
    """mean and std over seeds per (gating, epoch) of every point's metric."""
    frame = pd.DataFrame([{"gating": r["gating"], "seed": r["seed"], **p} for r in runs for p in r["points"]])
    metrics = [c for c in frame.columns if c not in ("gating", "seed", "epoch", "images_seen")]
    grouped = frame.groupby(["gating", "epoch", "images_seen"])[metrics]
    out = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).fillna(0.0).add_suffix("_std"))
    out["n_seeds"] = grouped.size()
    return out.reset_index()


def curve_figures(summary: pd.DataFrame, paper: pd.DataFrame, paper_per_factor: pd.DataFrame) -> dict:
    """RF NRMSE per factor against images seen, gated and un-gated, and RF D and C: the paper's
    beta-VAE values (50 epochs of the full grid, 36.9M images) as dashed lines in each series' colour."""
    def ref(frame, gated, column):
        row = frame[(frame.model == "beta_vae") & (frame.regressor == "random_forest") & (frame.gated == gated)]
        return float(row[column].iloc[0]) if len(row) else None

    figures = {}
    for gating in GATINGS:
        part = summary[summary["gating"] == gating].sort_values("images_seen")
        if part.empty:
            continue
        refs = {f: ref(paper_per_factor, gating == "gated", f) for f in FACTOR_NAMES}
        figures[f"nrmse_{gating}"] = line_with_errorbars(
            part["images_seen"], [part[f"rf_nrmse_{f}_mean"] for f in FACTOR_NAMES],
            [part[f"rf_nrmse_{f}_std"] for f in FACTOR_NAMES], list(FACTOR_NAMES), "images seen",
            "RF NRMSE (lower is better)", f"beta-VAE {gating}: informativeness per factor (dashed: paper)",
            log_x=True, references={k: v for k, v in refs.items() if v is not None})
    series, labels, refs = [], [], {}
    for gating in GATINGS:
        part = summary[summary["gating"] == gating].sort_values("images_seen")
        if part.empty:
            continue
        for score, stem in (("D", "disentanglement"), ("C", "completeness")):
            label = f"RF {score} {gating}"
            series.append(part)
            labels.append((label, f"rf_{stem}"))
            value = ref(paper, gating == "gated", f"{stem}_mean")
            if value is not None:
                refs[label] = value
    xs = series[0]["images_seen"].to_numpy()
    figures["dci"] = line_with_errorbars(
        xs, [p[f"{c}_mean"].to_numpy() for p, (_, c) in zip(series, labels)],
        [p[f"{c}_std"].to_numpy() for p, (_, c) in zip(series, labels)], [label for label, _ in labels],
        "images seen", "score (higher is better)", "beta-VAE: RF disentanglement and completeness "
        "(dashed: paper)", log_x=True, references=refs)
    return figures


def summarise_studies(params, *, members_dir: str, tables: str, figures: str, paper: str,
                      paper_per_factor: str) -> None:
    """For each study: read its members (members_dir/<study>/<key>.json), write
    tables/<study>.csv and figures/<study>_<figure>.png. paper, paper_per_factor: the paper's
    Table I and supplementary Table 2 (reference/), drawn beside the learning curve."""
    paths = {study: [Path(members_dir, study, f"{key}.json") for key in keys]
             for study, keys in members(params).items()}
    missing = [str(p) for listed in paths.values() for p in listed if not p.exists()]
    if missing:  # before anything is written
        raise StageError("missing study results; run `dvc repro`:\n  " + "\n  ".join(missing))
    references = paper_table(paper), paper_informativeness_per_factor(paper_per_factor)
    for study, files in paths.items():
        x, title = STUDIES[study]
        members_read = [json.loads(p.read_text()) for p in files]
        summary = curve_summary(members_read) if study == "curve" else summarise(pd.DataFrame(members_read), x)
        summary.insert(0, "run", summary["gating"])  # the colour of `dvc plots`
        with atomic_path(Path(tables, f"{study}.csv")) as tmp:
            summary.to_csv(tmp, index=False)
        if study == "faces_clusters":
            drawn = faces_figures(summary)
        elif study == "curve":
            drawn = curve_figures(summary, *references)
        else:
            drawn = {name: figure(summary, x, f"{title}: {name}", columns, ylabel)
                     for name, (columns, ylabel) in SERIES.items()}
        for name, fig in drawn.items():
            save_figure(Path(figures, f"{study}_{name}.png"), fig, dpi=80)
