"""Stage: one member of a dSprites study: train (beta-VAE) with one setting changed, then evaluate.

--study beta_sweep: the KL weight beta takes --value (Quantifying-disentanglement style sweep).
--study noise: a fraction --value of the pair targets is replaced by random images.
"""

import argparse

import numpy as np
import pandas as pd

from common import CHECKPOINTS, FACTORS, GROUPS, IMAGES
from gatedvae import params as P
from gatedvae.atomic import save_json
from gatedvae.config import DSPRITES_FACTORS, check_dsprites, intended_partition, partitions, train_config
from gatedvae.engine import train
from gatedvae.evaluation import EvalSettings, evaluate_model

STUDIES = ("beta_sweep", "noise")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--study", required=True, choices=STUDIES)
    parser.add_argument("--value", required=True, type=float)
    parser.add_argument("--gating", required=True, choices=["gated", "ungated"])
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--out", required=True, help="the member's metrics JSON")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = P.load(args.params)
    images = np.load(IMAGES, mmap_mode="r")
    check_dsprites(params, n_images=len(images))
    cfg = train_config(params, model="beta_vae", gating=args.gating, seed=args.seed)
    cfg.epochs = P.number(params, "studies.epochs", integer=True, positive=True)
    if args.study == "beta_sweep":
        cfg.objective_params = {**cfg.objective_params, "beta": args.value}
    else:
        P.check(0.0 <= args.value <= 1.0, "studies.noise.fractions", f"must lie in [0, 1], got {args.value}")
        cfg.target_noise = args.value
    groups = pd.read_parquet(GROUPS).to_numpy() if cfg.gated else None
    name = f"{args.study}-{args.value:g}-{args.gating}-{args.seed}"
    result = train(images, groups, cfg, checkpoint_dir=CHECKPOINTS / "studies" / name)
    factors = pd.read_parquet(FACTORS)[list(DSPRITES_FACTORS)].to_numpy()
    metrics, _ = evaluate_model(result.model, images, factors, pixel_max=cfg.pixel_max,
                                partition_sizes=cfg.partitions,
                                intended=intended_partition(partitions(params)),
                                factor_names=list(DSPRITES_FACTORS),
                                settings=EvalSettings.from_params(P.get(params, "evaluate")))
    summary = {"study": args.study, "value": args.value, "gating": args.gating, "seed": args.seed,
               "images_per_second": round(result.images_per_second, 1)}
    for reg in ("lasso", "rf"):
        summary[f"{reg}_disentanglement"] = metrics[reg]["disentanglement"]["avg"]
        summary[f"{reg}_completeness"] = metrics[reg]["completeness"]["avg"]
        summary[f"{reg}_informativeness"] = metrics[reg]["informativeness"]["avg"]
        summary[f"{reg}_placement"] = metrics[reg]["placement"]["mean"]
    summary["beta_vae_metric"] = metrics["beta_vae_metric"]["eval_accuracy"]
    summary["factor_vae_metric"] = metrics["factor_vae_metric"]["eval_accuracy"]
    summary["mig"] = metrics["mig"]["mig"]
    summary["test_recon_bce"] = metrics["test"]["recon_bce"]
    summary["test_elbo"] = metrics["test"]["elbo"]
    save_json(args.out, summary)
    print(summary)


if __name__ == "__main__":
    main()
