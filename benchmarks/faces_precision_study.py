"""Does bf16 change the faces results? The faces main runs in fp32 and in bf16, paired by seed.

Each main run (faces.main_runs: the gated and the un-gated recipe) and seed is trained twice from
the same seed, once in fp32 and once in bf16 (faces.train.precision), on the pipeline's own
faces data (data/faces/grey.npy, groups.parquet; run `dvc repro faces_cluster` first) with its
settings (`--epochs` shortens the runs), and scored as faces_evaluate scores it
(scoring.run_scores against the synthetic faces' true factors; bf16 models are encoded in bf16).
Reported per score: the mean over seeds in each precision, the seed-to-seed standard deviation
(fp32), and the paired bf16 - fp32 difference with its 95% interval (gatedvae.seeds); bf16 is
"within seed noise" for a score when that interval contains zero and its mean is no larger than
the seed std. Also the training throughput ratio, measured in the same process. Where the
pipeline's fp32 model of the same run exists (models/faces/main/), the fp32 run is checked
against it byte for byte.

    python benchmarks/faces_precision_study.py --seeds 0 1 --json reports/benchmarks/faces_precision.json
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
from precision_study import compare_precisions, markdown  # benchmarks/, beside this script

SCORES = {"RF placement: pose": "rf_placement_pose", "RF placement: expression": "rf_placement_expression",
          "RF D": "rf_disentanglement", "RF I (NRMSE)": "rf_informativeness",
          "variance explained": "test_variance_explained", "recon / mean face": "recon_vs_mean_face",
          "active dims: pose": "active_pose", "active dims: expression": "active_expression",
          "test ELBO": "test_elbo"}


def same_weights(model, path: Path) -> bool | None:
    """True when `model`'s parameters equal those of the model saved at `path` bit for bit; None
    when there is none."""
    if not path.exists():
        return None
    from gatedvae.training.checkpoint import load_model

    saved, _, _ = load_model(path)
    a, b = model.state_dict(), saved.state_dict()
    return a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def one_run(params, data, pair_index, labels, *, gating, seed, precision, epochs, pipeline_models) -> dict:
    from gatedvae.faces import config
    from gatedvae.faces.scoring import run_scores
    from gatedvae.training.fit import train

    run = config.main_runs(params)[gating]
    cfg = config.main_train_config(params, gating=gating, image_size=data.shape[1], seed=seed)
    cfg.epochs, cfg.precision, cfg.device = epochs or cfg.epochs, precision, "cpu"
    with tempfile.TemporaryDirectory() as scratch:
        result = train(data, pair_index if cfg.gated else None, cfg, checkpoint_dir=scratch, progress=False,
                       partition_names=["pose", "expression"])
    row, _, _ = run_scores(result.model, cfg, data, labels, config.eval_settings(params, n_images=len(data)))
    identical = None
    if precision == "fp32" and not epochs:
        identical = same_weights(result.model, Path(pipeline_models) / f"{run}-{seed}" / "model.pt")
    return {"run": run, "gating": gating, "seed": seed, "precision": precision,
            "images_per_second": result.images_per_second, "same_as_pipeline": identical,
            **{name: float(row[key]) for name, key in SCORES.items()}}


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([row for _, group in runs.groupby("gating", sort=False)
                         for row in compare_precisions(group, list(SCORES), {"run": group["run"].iloc[0]})])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", default="data/faces/grey.npy")
    parser.add_argument("--groups", default="data/faces/groups.parquet")
    parser.add_argument("--raw", default="data/faces/raw")
    parser.add_argument("--aligned", default="data/faces/aligned")
    parser.add_argument("--pipeline-models", default="models/faces/main",
                        help="the pipeline's main runs: each fp32 run is checked against its model.pt")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=0, help="0: faces.main_runs.epochs")
    parser.add_argument("--json", help="write runs and summary here (and the table beside it as .md)")
    args = parser.parse_args()

    from gatedvae.faces.scoring import load_ground_truth, truth_labels
    from gatedvae.faces.spec import PARTITIONS

    params = P.load(args.params)
    data = np.asarray(np.load(args.images, mmap_mode="r"))
    pair_index = pd.read_parquet(args.groups)[list(PARTITIONS)].to_numpy(np.int64)
    truth = load_ground_truth(Path(args.raw), Path(args.aligned))
    if truth is None:
        raise SystemExit(f"{args.raw}: no factors.parquet; the study scores against the synthetic faces' truth")
    labels = [truth_labels(truth)]
    runs, t0 = [], time.perf_counter()
    for gating in ("gated", "ungated"):
        for seed in args.seeds:
            for precision in ("fp32", "bf16"):
                runs.append(one_run(params, data, pair_index, labels, gating=gating, seed=seed,
                                    precision=precision, epochs=args.epochs, pipeline_models=args.pipeline_models))
                r = runs[-1]
                print(f"{r['run']} seed {seed} {precision}: placement {r['RF placement: pose']:.3f} / "
                      f"{r['RF placement: expression']:.3f}, variance explained {r['variance explained']:.3f}, "
                      f"{r['images_per_second']:.0f} images/s, same as the pipeline's: {r['same_as_pipeline']} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    frame = pd.DataFrame(runs)
    speeds = frame.groupby("precision")["images_per_second"].median()
    speed = {"fp32": float(speeds["fp32"]), "bf16": float(speeds["bf16"]),
             "ratio": float(speeds["bf16"] / speeds["fp32"])}
    summary = summarise(frame)
    text = markdown(summary, speed, labels=("run",))
    print(text)
    if args.json:
        from gatedvae.atomic import save_json
        save_json(args.json, {"settings": {"seeds": args.seeds, "n_images": len(data),
                                           "epochs": args.epochs or P.get(params, "faces.main_runs.epochs"),
                                           "main_runs": P.get(params, "faces.main_runs.runs")},
                              "speed": speed, "runs": runs,
                              "summary": json.loads(summary.to_json(orient="records")), "markdown": text})
        Path(args.json).with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
