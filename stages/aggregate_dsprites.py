"""Stage: aggregate the sweep into reports/metrics/dsprites.json and a table beside the paper's Table I."""

import argparse
import json

import pandas as pd

from common import RUNS, run_name
from gatedvae import params as P
from gatedvae.aggregate import aggregate_runs, paper_table, side_by_side_markdown
from gatedvae.atomic import atomic_path, save_json, save_text
from gatedvae.config import GATINGS, check_dsprites

SUMMARY_KEYS = ("disentanglement", "completeness", "informativeness")


def training_curve(log_dir, name: str) -> pd.DataFrame:
    """One run's dvclive per-epoch losses as rows (run, epoch, loss, recon, regulariser)."""
    frames = [pd.read_csv(log_dir / "plots" / "metrics" / f"{key}.tsv", sep="\t")
              .set_index("step")[key] for key in ("loss", "recon", "regulariser")]
    curve = pd.concat(frames, axis=1).reset_index()
    curve.insert(0, "run", name)
    curve.insert(1, "epoch", curve.pop("step") + 1)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics", default="reports/metrics/dsprites.json")
    parser.add_argument("--table", default="reports/dsprites/table1.md")
    parser.add_argument("--paper", default="reference/paper_table1.csv")
    parser.add_argument("--curves", default="reports/dsprites/training_curves.csv")
    args = parser.parse_args()
    params = P.load(args.params)
    check_dsprites(params)
    runs, missing, curves = [], [], []
    for model in P.get(params, "sweep.models"):
        for gating in GATINGS:
            for seed in P.get(params, "sweep.seeds"):
                name = run_name(model, gating, seed)
                path = RUNS / name / "eval" / "metrics.json"
                if not path.exists():
                    missing.append(f"{path} (stage evaluate@{name})")
                    continue
                m = json.loads(path.read_text())
                speed = json.loads((RUNS / name / "train" / "summary.json").read_text())
                summary = {reg: {**{k: m[reg][k]["avg"] for k in SUMMARY_KEYS},
                                 "placement": m[reg]["placement"]["mean"]} for reg in ("lasso", "rf")}
                summary["factor_vae_metric"] = m["factor_vae_metric"]["eval_accuracy"]
                summary["beta_vae_metric"] = m["beta_vae_metric"]["eval_accuracy"]
                summary["mig"] = m["mig"]["mig"]
                for when in ("test", "test_before_finetune"):  # held-out nats per image
                    summary[when] = {k: m[when][k] for k in ("recon_bce", "kl", "elbo")}
                runs.append({"model": model, "gating": gating, "seed": seed, "metrics": summary,
                             "images_per_second": speed["images_per_second"]})
                curves.append(training_curve(RUNS / name / "train", name))
    if missing:
        raise SystemExit("missing evaluation results; run `dvc repro` for:\n  " + "\n  ".join(missing))
    aggregated = aggregate_runs(runs)
    with atomic_path(args.curves) as tmp:
        pd.concat(curves, ignore_index=True).to_csv(tmp, index=False)
    save_json(args.metrics, aggregated)
    table = side_by_side_markdown(aggregated, paper_table(args.paper))
    speeds = [r["images_per_second"] for r in runs]
    table += (f"\n\nTraining throughput on this machine: {min(speeds):.0f}-{max(speeds):.0f} images/s "
              f"over {len(runs)} runs.\n")
    save_text(args.table, table)
    print(table)


if __name__ == "__main__":
    main()
