"""Stage: aggregate the sweep into reports/metrics/dsprites.json and a table beside the paper's Table I."""

import argparse
import json
from pathlib import Path

from common import RUNS, run_name
from gatedvae import params as P
from gatedvae.aggregate import aggregate_runs, paper_table, side_by_side_markdown
from gatedvae.atomic import save_json, save_text
from gatedvae.config import GATINGS, check_dsprites

SUMMARY_KEYS = ("disentanglement", "completeness", "informativeness")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics", default="reports/metrics/dsprites.json")
    parser.add_argument("--table", default="reports/dsprites/table1.md")
    parser.add_argument("--paper", default="reference/paper_table1.csv")
    args = parser.parse_args()
    params = P.load(args.params)
    check_dsprites(params)
    runs, missing = [], []
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
                runs.append({"model": model, "gating": gating, "seed": seed, "metrics": {
                    reg: {**{k: m[reg][k]["avg"] for k in SUMMARY_KEYS},
                          "placement": m[reg]["placement"]["mean"]}
                    for reg in ("lasso", "rf")}, "images_per_second": speed["images_per_second"]})
    if missing:
        raise SystemExit("missing evaluation results; run `dvc repro` for:\n  " + "\n  ".join(missing))
    aggregated = aggregate_runs(runs)
    save_json(args.metrics, aggregated)
    table = side_by_side_markdown(aggregated, paper_table(args.paper))
    speeds = [r["images_per_second"] for r in runs]
    table += (f"\n\nTraining throughput on this machine: {min(speeds):.0f}-{max(speeds):.0f} images/s "
              f"over {len(runs)} runs.\n")
    save_text(args.table, table)
    print(table)


if __name__ == "__main__":
    main()
