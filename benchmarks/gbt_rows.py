"""What the default scale's smaller sample moves in DCI with gradient-boosted trees
(docs/dsprites.md, "DCI with gradient-boosted trees, as disentanglement_lib computes it").

disentanglement_lib fits its classifiers on 10,000 codes and scores them on 5,000; that costs
~2.5 min a model on two cores, so the default pipeline uses dsprites.evaluate.gbt_n_train /
gbt_n_test (1,000 / 500). This script scores the same trained runs at both sizes, on the rows
the pipeline's evaluation draws, and reports each number and the time taken. At the pipeline's
own size it must give the pipeline's numbers (reports/dsprites/runs/<run>/eval/metrics.json),
else it stops: a benchmark of other rows or codes would compare nothing. It scores through the
evaluation's own `evaluate_codes` (so the other metrics are computed too, a few seconds a call).

    python benchmarks/gbt_rows.py --runs beta_vae-gated-0 beta_vae-ungated-0 ada_gvae-pairs-0 \
        --json reports/benchmarks/gbt_rows.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from gatedvae import inputs, params as P, timing
from gatedvae.dsprites import config, spec
from gatedvae.evaluation.evaluate import evaluate_codes
from gatedvae.evaluation.settings import split_rows
from gatedvae.training.checkpoint import load_model
from gatedvae.training.infer import encode_mean

KEYS = ("disentanglement", "completeness", "informativeness_test")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["beta_vae-gated-0", "beta_vae-ungated-0"])
    parser.add_argument("--sizes", nargs="+", default=["1000:500", "10000:5000"],
                        help="train:test rows for the classifiers (10000:5000 is disentanglement_lib's)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    params = P.load()
    settings = config.eval_settings(params)
    data = inputs.images("data/dsprites/images.npy")
    names = list(spec.FACTOR_NAMES)
    classes = inputs.table("data/dsprites/factors.parquet")[names].to_numpy().astype(np.int64)
    train_rows, test_rows = split_rows(len(data), settings)
    sizes = [tuple(int(v) for v in s.split(":")) for s in args.sizes]
    intended = config.intended_partition(config.partitions(params))
    out = []
    for run in args.runs:
        model, cfg, _ = load_model(f"models/dsprites/{run}/finetuned.pt")
        codes_train = encode_mean(model, data[train_rows], pixel_max=cfg.pixel_max)
        codes_test = encode_mean(model, data[test_rows], pixel_max=cfg.pixel_max)
        for n_train, n_test in sizes:
            # the evaluation stage's own code, rows drawn included; only the row counts differ
            sized = dataclasses.replace(settings, gbt_n_train=n_train, gbt_n_test=n_test)
            timing.reset()
            metrics, _ = evaluate_codes(codes_train, classes[train_rows], codes_test, classes[test_rows],
                                        partition_sizes=cfg.partitions, intended=intended,
                                        factor_names=names, settings=sized)
            result = metrics["dci_gbt"]
            row = {"run": run, "n_train": n_train, "n_test": n_test,
                   "seconds": round(timing.phases()["DCI (gradient-boosted trees)"], 1),
                   **{k: result[k] for k in KEYS}}
            if (n_train, n_test) == (settings.gbt_n_train, settings.gbt_n_test):
                recorded = json.loads(Path(f"reports/dsprites/runs/{run}/eval/metrics.json").read_text())["dci_gbt"]
                if recorded != result:
                    sys.exit(f"error: {run} at {n_train}:{n_test} rows gives {[result[k] for k in KEYS]}, "
                             f"the pipeline recorded {[recorded[k] for k in KEYS]}: re-run `dvc repro` first")
                row["matches_pipeline"] = True
            out.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
