"""Stage: tables (CSV, for `dvc plots`) and figures of the studies: the beta sweep and the
supervision-noise study on dSprites, and the number of k-means clusters on faces."""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import params as P
from gatedvae.atomic import atomic_path, save_figure
from gatedvae.plots import line_with_errorbars

SERIES = {  # figure -> (columns plotted, label)
    "disentanglement": (["rf_disentanglement", "lasso_disentanglement", "beta_vae_metric"],
                        "score (higher is better)"),
    "placement": (["rf_placement", "lasso_placement"], "share inside the intended partition"),
    "reconstruction": (["test_recon_bce"], "test reconstruction BCE, nats per image"),
}


FACES_PARTS = ("pose", "expression")


def summarise(frame: pd.DataFrame, x: str) -> pd.DataFrame:
    """mean and std over seeds per (x, gating) for every metric column."""
    metrics = [c for c in frame.columns if c not in ("study", "value", "gating", "seed", "images_per_second")]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = P.load(args.params)
    members = {  # the files the current params ask for (stale ones from older lists are ignored)
        "beta_sweep": [f"{b}-{g}-{s}" for b in P.get(params, "studies.beta_sweep.betas")
                       for g in ("gated", "ungated") for s in P.get(params, "studies.beta_sweep.seeds")],
        "noise": [f"{r}-{s}" for r in P.get(params, "studies.noise.fractions")
                  for s in P.get(params, "studies.noise.seeds")],
        "faces_clusters": [f"{k}-{s}" for k in P.get(params, "studies.faces_clusters.counts")
                           for s in P.get(params, "studies.faces_clusters.seeds")]
        + [f"ungated-{s}" for s in P.get(params, "studies.faces_clusters.seeds")],
    }
    for study, x, title in (("beta_sweep", "beta", "beta-VAE against beta"),
                            ("noise", "noise_fraction", "Gated beta-VAE: supervision noise"),
                            ("faces_clusters", "clusters", None)):
        paths = [Path("reports/studies", study, f"{key}.json") for key in members[study]]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise SystemExit("missing study results; run `dvc repro`:\n  " + "\n  ".join(missing))
        summary = summarise(pd.DataFrame([json.loads(p.read_text()) for p in paths]), x)
        summary.insert(0, "run", summary["gating"])  # the colour of `dvc plots`
        with atomic_path(f"reports/studies/{study}.csv") as tmp:
            summary.to_csv(tmp, index=False)
        if study == "faces_clusters":
            figures = faces_figures(summary)
        else:
            figures = {name: figure(summary, x, f"{title}: {name}", columns, ylabel)
                       for name, (columns, ylabel) in SERIES.items()}
        for name, fig in figures.items():
            save_figure(f"reports/figures/studies/{study}_{name}.png", fig, dpi=80)


if __name__ == "__main__":
    main()
