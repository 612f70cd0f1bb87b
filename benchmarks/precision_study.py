"""Does bf16 change the disentanglement metrics? fp32 and bf16 over seeds, paired by seed.

For each model, gating and seed, the run is trained twice from the same seed, once in fp32 and
once in bf16 (train.precision), on the pipeline's own dSprites data with its default settings
(params.yaml; `--epochs` shortens the runs), and evaluated with the pipeline's evaluation (bf16
models are also encoded in bf16). Reported per metric: the mean over seeds in each precision,
the seed-to-seed standard deviation (fp32), and the paired bf16 - fp32 difference with its 95%
interval; bf16 is "within seed noise" for a metric when that interval contains zero and its
mean is smaller than the seed std. Also the training throughput ratio, measured in the same run.

    python benchmarks/precision_study.py --seeds 0 1 2 --epochs 2 --json reports/benchmarks/precision.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import params as P
from gatedvae.dsprites import config, spec
from gatedvae.seeds import paired_interval

METRICS = {"RF D": ("rf", "disentanglement"), "RF C": ("rf", "completeness"),
           "RF I (NRMSE)": ("rf", "informativeness"), "Lasso D": ("lasso", "disentanglement"),
           "Lasso I (NRMSE)": ("lasso", "informativeness"), "RF placement": ("rf", "placement")}


def one_run(params, data, groups, factors, *, model, gating, seed, precision, epochs) -> dict:
    from gatedvae.evaluation.evaluate import evaluate_model
    from gatedvae.training.fit import train

    cfg = config.train_config(params, model=model, gating=gating, seed=seed)
    cfg.epochs, cfg.precision, cfg.device = epochs or cfg.epochs, precision, "cpu"
    with tempfile.TemporaryDirectory() as scratch:
        result = train(data, groups if cfg.gated else None, cfg, checkpoint_dir=scratch, progress=False)
    metrics, _ = evaluate_model(result.model, data, factors, pixel_max=cfg.pixel_max,
                                partition_sizes=cfg.partitions,
                                intended=config.intended_partition(config.partitions(params)),
                                factor_names=list(spec.FACTOR_NAMES), settings=config.eval_settings(params),
                                extra_metrics=False)
    row = {name: (metrics[reg][key]["mean"] if key == "placement" else metrics[reg][key]["avg"])
           for name, (reg, key) in METRICS.items()}
    row["test ELBO"] = metrics["test"]["elbo"]
    return {"model": model, "gating": gating, "seed": seed, "precision": precision,
            "images_per_second": result.images_per_second, **row}


def compare_precisions(runs: pd.DataFrame, metrics: list[str], labels: dict) -> list[dict]:
    """For one model's runs in both precisions: per metric, the fp32 and bf16 means over the
    seeds both have, the fp32 seed std, the paired bf16 - fp32 difference with its 95% interval
    and whether bf16 is within seed noise; each row starts with `labels`."""
    fp32 = runs[runs.precision == "fp32"].set_index("seed")
    bf16 = runs[runs.precision == "bf16"].set_index("seed")
    seeds = sorted(set(fp32.index) & set(bf16.index))
    rows = []
    for metric in metrics:
        diff = paired_interval([bf16.loc[s, metric] - fp32.loc[s, metric] for s in seeds])
        seed_std = float(fp32.loc[seeds, metric].std(ddof=1)) if len(seeds) > 1 else float("nan")
        within = (diff["excludes_zero"] is False) and abs(diff["mean"]) <= seed_std
        rows.append({**labels, "metric": metric, "seeds": len(seeds),
                     "fp32 mean": float(fp32.loc[seeds, metric].mean()),
                     "bf16 mean": float(bf16.loc[seeds, metric].mean()),
                     "seed std (fp32)": seed_std, "bf16 - fp32": diff["mean"],
                     "95% interval": (diff["ci95_low"], diff["ci95_high"]), "within seed noise": within})
    return rows


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (model, gating), group in runs.groupby(["model", "gating"], sort=False):
        rows += compare_precisions(group, [*METRICS, "test ELBO"], {"model": model, "gating": gating})
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, speed: dict, labels: tuple[str, ...] = ("model", "gating")) -> str:
    """The summary as a table (the `labels` columns first) and the throughput ratio."""
    head = [*labels, "metric", "fp32 mean", "bf16 mean", "seed std (fp32)", "bf16 - fp32 [95% CI]",
            "within seed noise"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary.to_dict("records"):
        low, high = r["95% interval"]
        digits = 1 if r["metric"] == "test ELBO" else 3
        ci = (f"{r['bf16 - fp32']:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]" if low is not None
              else f"{r['bf16 - fp32']:+.{digits}f}")
        lines.append("| " + " | ".join([*(str(r[k]) for k in labels), r["metric"], f"{r['fp32 mean']:.{digits}f}",
                                        f"{r['bf16 mean']:.{digits}f}", f"{r['seed std (fp32)']:.{digits}f}",
                                        ci, "yes" if r["within seed noise"] else "**no**"]) + " |")
    lines.append("")
    lines.append(f"Training throughput, bf16 / fp32 (same runs, same process): {speed['ratio']:.2f}x "
                 f"({speed['fp32']:.0f} -> {speed['bf16']:.0f} images/s, medians).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", default="data/dsprites/images.npy")
    parser.add_argument("--factors", default="data/dsprites/factors.parquet")
    parser.add_argument("--groups", default="data/dsprites/groups.parquet")
    parser.add_argument("--models", nargs="+", default=["beta_vae"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=0, help="0: dsprites.train.epochs")
    parser.add_argument("--json", help="write runs and summary here")
    args = parser.parse_args()

    params = P.load(args.params)
    data = np.load(args.images, mmap_mode="r")
    groups = pd.read_parquet(args.groups).to_numpy()
    factors = pd.read_parquet(args.factors)[list(spec.FACTOR_NAMES)].to_numpy()
    runs, t0 = [], time.perf_counter()
    for model in args.models:
        for gating in ("gated", "ungated"):
            for seed in args.seeds:
                for precision in ("fp32", "bf16"):
                    runs.append(one_run(params, data, groups, factors, model=model, gating=gating,
                                        seed=seed, precision=precision, epochs=args.epochs))
                    r = runs[-1]
                    print(f"{model} {gating} seed {seed} {precision}: RF D {r['RF D']:.3f}, "
                          f"{r['images_per_second']:.0f} images/s ({time.perf_counter() - t0:.0f} s)", flush=True)
    frame = pd.DataFrame(runs)
    speeds = frame.groupby("precision")["images_per_second"].median()
    speed = {"fp32": float(speeds["fp32"]), "bf16": float(speeds["bf16"]),
             "ratio": float(speeds["bf16"] / speeds["fp32"])}
    summary = summarise(frame)
    text = markdown(summary, speed)
    print(text)
    if args.json:
        from gatedvae.atomic import save_json
        save_json(args.json, {"settings": {"models": args.models, "seeds": args.seeds,
                                           "epochs": args.epochs or P.get(params, "dsprites.train.epochs"),
                                           "n_images": len(data)},
                              "speed": speed, "runs": runs,
                              "summary": json.loads(summary.to_json(orient="records")), "markdown": text})
        Path(args.json).with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
