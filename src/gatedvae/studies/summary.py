"""The studies' tables (CSV, for `dvc plots`) and figures: the beta sweep and the
supervision-noise study on dSprites, and the number of k-means clusters on faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import params as P
from gatedvae.atomic import atomic_path, save_figure
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
           "faces_clusters": ("clusters", None)}


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
    }


def summarise_studies(params, *, members_dir: str, tables: str, figures: str) -> None:
    """For each study: read its members (members_dir/<study>/<key>.json), write
    tables/<study>.csv and figures/<study>_<figure>.png."""
    paths = {study: [Path(members_dir, study, f"{key}.json") for key in keys]
             for study, keys in members(params).items()}
    missing = [str(p) for listed in paths.values() for p in listed if not p.exists()]
    if missing:  # before anything is written
        raise StageError("missing study results; run `dvc repro`:\n  " + "\n  ".join(missing))
    for study, files in paths.items():
        x, title = STUDIES[study]
        summary = summarise(pd.DataFrame([json.loads(p.read_text()) for p in files]), x)
        summary.insert(0, "run", summary["gating"])  # the colour of `dvc plots`
        with atomic_path(Path(tables, f"{study}.csv")) as tmp:
            summary.to_csv(tmp, index=False)
        if study == "faces_clusters":
            drawn = faces_figures(summary)
        else:
            drawn = {name: figure(summary, x, f"{title}: {name}", columns, ylabel)
                     for name, (columns, ylabel) in SERIES.items()}
        for name, fig in drawn.items():
            save_figure(Path(figures, f"{study}_{name}.png"), fig, dpi=80)
