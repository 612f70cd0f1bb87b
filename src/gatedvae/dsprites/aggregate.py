"""The dSprites aggregate stage: the sweep's runs over seeds into the metrics JSON and a table
beside the paper's Table I."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gatedvae.atomic import atomic_path, save_json, save_text
from gatedvae.dsprites import config, spec, table1
from gatedvae.seeds import aggregate_runs
from gatedvae.errors import StageError
from gatedvae.training.config import GATINGS, PAIRS
from gatedvae.training.run import training_curve


def run_summary(metrics: dict) -> dict:
    """The numbers of one run's eval/metrics.json that the aggregate keeps (Table I and more)."""
    summary = {reg: {**{k: metrics[reg][k]["avg"] for k in table1.TABLE1_METRICS},
                     "placement": metrics[reg]["placement"]["mean"]} for reg in ("lasso", "rf")}
    summary["factor_vae_metric"] = metrics["factor_vae_metric"]["eval_accuracy"]
    summary["beta_vae_metric"] = metrics["beta_vae_metric"]["eval_accuracy"]
    summary["mig"] = metrics["mig"]["mig"]
    summary["sap"] = metrics["sap"]["sap"]
    summary["modularity"] = metrics["modularity_explicitness"]["modularity"]
    summary["explicitness"] = metrics["modularity_explicitness"]["explicitness_test"]
    if "dci_gbt" in metrics:  # dsprites.evaluate.gbt_n_train > 0
        summary["dci_gbt"] = {k: metrics["dci_gbt"][k]
                              for k in ("disentanglement", "completeness", "informativeness_test")}
    for when in ("test", "test_before_finetune"):  # held-out nats per image
        summary[when] = {k: metrics[when][k] for k in ("recon_bce", "kl", "elbo")}
    return summary


def aggregate(params, *, runs: str, paper: str, metrics: str, table: str, curves: str) -> None:
    """Every run the params ask for (runs/<run>/{train,eval}) into metrics, table and curves."""
    config.check_dsprites(params)
    runs_dir = Path(runs)
    models, seeds = config.sweep(params)
    methods, baseline_seeds = config.baselines(params)
    members = [(model, gating, seed, "dsprites") for model in models for gating in GATINGS for seed in seeds]
    members += [(method, PAIRS, seed, "dsprites_baseline") for method in methods for seed in baseline_seeds]
    found, missing, curve_frames = [], [], []
    for model, gating, seed, prefix in members:  # a member of the sweep or of the baselines
        name = spec.run_key(model, gating, seed)
        path = runs_dir / name / "eval" / "metrics.json"
        needed = {path: f"{prefix}_evaluate", runs_dir / name / "train" / "summary.json": f"{prefix}_train"}
        absent = [f"{p} (stage {stage}@{name})" for p, stage in needed.items() if not p.exists()]
        if absent:
            missing += absent
            continue
        speed = json.loads((runs_dir / name / "train" / "summary.json").read_text())
        found.append({"model": model, "gating": gating, "seed": seed,
                      "metrics": run_summary(json.loads(path.read_text())),
                      "images_per_second": speed["images_per_second"]})
        try:
            curve_frames.append(training_curve(runs_dir / name / "train", name))
        except FileNotFoundError as e:
            missing.append(f"{e.filename} (the dvclive log of stage {prefix}_train@{name})")
    if missing:
        raise StageError("missing evaluation results; run `dvc repro` for:\n  " + "\n  ".join(missing))
    aggregated = aggregate_runs(found, pairs_reference=table1.BASELINE_REFERENCE)
    with atomic_path(curves) as tmp:
        pd.concat(curve_frames, ignore_index=True).to_csv(tmp, index=False)
    save_json(metrics, aggregated)
    text = table1.side_by_side_markdown(aggregated, table1.paper_table(paper))
    if methods:
        text += "\n" + table1.baselines_markdown(aggregated, methods)
    speeds = [r["images_per_second"] for r in found]
    text += (f"\n\nTraining throughput on this machine: {min(speeds):.0f}-{max(speeds):.0f} images/s "
             f"over {len(found)} runs.\n")
    save_text(table, text)
    print(text)
