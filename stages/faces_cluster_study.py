"""DVC stage faces_cluster_study: one member of the faces supervision study.

--gating gated --clusters K: head pose and action units are each clustered into K k-means
clusters (the faces_cluster settings otherwise), and a gated model is trained on pairs within
those clusters. Few clusters make coarse pairs (partners share little); many make pairs of near
neighbours in pose (or action-unit) space, though never the anchor itself. --gating ungated: the
baseline at the same budget, which uses no pairs. Every member is scored on the synthetic faces' true factors:
placement, DCI, the pixel variance its pairs explain, and the held-out ELBO.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

import numpy as np
import pandas as pd

from faces_cluster import cluster_config
from faces_common import ALIGNED, CHECKPOINTS, FEATURES, GREY, RAW, run_stage, setup_logging
from gatedvae import params as P
from gatedvae.atomic import save_json
from gatedvae.engine import encode_mean, train
from gatedvae.evaluation import REGRESSORS, EvalSettings, reconstruction_and_elbo, split_rows
from gatedvae.faces import clustering, features
from gatedvae.faces.config import GATINGS, PARTITIONS, check_faces, train_config
from gatedvae.faces.evaluation import (FACTOR_NAMES, factor_scores, load_ground_truth,
                                       pair_variance_explained)

STUDY = "studies.faces_clusters"


def pair_groups(params: dict, k: int, image_ids: list[str]) -> tuple[pd.DataFrame, dict]:
    """Pose and expression both clustered into k clusters."""
    aus = P.get(params, "faces.cluster.expression_aus")
    # The study asks for k itself: only cap it where clusters would average under 2 members.
    configs = [dataclasses.replace(cluster_config(params, part), n_clusters=k, min_mean_size=2.0)
               for part in PARTITIONS]
    return clustering.pair_index(features.read(FEATURES), image_ids, *configs,
                                 expression_aus=None if aus == "all" else list(aus))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gating", required=True, choices=GATINGS)
    parser.add_argument("--clusters", type=int, help="clusters per partition (gated only)")
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--out", required=True, help="the member's metrics JSON")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    setup_logging()
    params = P.load(args.params)
    check_faces(params)
    gated = args.gating == "gated"
    if gated != (args.clusters is not None):
        parser.error("--clusters is required with --gating gated and not allowed with ungated")
    if gated:
        P.check(args.clusters >= 2, f"{STUDY}.counts", f"must be integers >= 2, got {args.clusters}")
    truth = load_ground_truth(RAW, ALIGNED)
    if truth is None:
        logging.warning("no ground-truth factors (real CelebA): this member records the pair variance "
                        "and ELBO only; placement needs faces.acquire.source: synthetic")
    images = np.asarray(np.load(GREY, mmap_mode="r"))
    settings = EvalSettings.from_params(P.get(params, "faces.evaluate"))
    P.check(settings.n_train + settings.n_test <= len(images), "faces.evaluate.n_train",
            f"+ n_test ({settings.n_train} + {settings.n_test}) exceed the data ({len(images)} images)")

    cfg = train_config(params, gating=args.gating, image_size=images.shape[1])
    cfg.epochs = P.number(params, f"{STUDY}.epochs", integer=True, positive=True)
    cfg.seed = args.seed
    member = {"study": "faces_clusters", "value": args.clusters if gated else 0, "gating": args.gating,
              "seed": args.seed}
    groups = None
    if gated:
        image_ids = pd.read_parquet(ALIGNED / "index.parquet")["image_id"].tolist()
        table, stats = pair_groups(params, args.clusters, image_ids)
        groups = table[list(PARTITIONS)].to_numpy(np.int64)
        for part in PARTITIONS:
            member[f"{part}_clusters"] = stats[part]["clusters"]
            member[f"{part}_median_cluster_size"] = stats[part]["sizes"]["median"]
            member[f"{part}_pair_variance_explained"] = pair_variance_explained(images, table[part].to_numpy())
    name = f"{args.clusters}-{args.seed}" if gated else f"ungated-{args.seed}"
    result = train(images, groups, cfg, checkpoint_dir=CHECKPOINTS / "cluster_study" / name,
                   progress=sys.stderr.isatty())
    member["images_per_second"] = round(result.images_per_second, 1)

    train_rows, test_rows = split_rows(len(images), settings)
    codes_train = encode_mean(result.model, images[train_rows], pixel_max=cfg.pixel_max)
    codes_test = encode_mean(result.model, images[test_rows], pixel_max=cfg.pixel_max)
    for short, regressor in REGRESSORS.items() if truth is not None else ():
        summary, detail, _ = factor_scores(
            codes_train, truth[train_rows], codes_test, truth[test_rows], partition_sizes=cfg.partitions,
            factor_names=FACTOR_NAMES, regressor=regressor, lasso_alpha=settings.lasso_alpha,
            rf_trees=settings.rf_trees, rf_depth=settings.rf_depth, seed=settings.seed)
        member[f"{short}_disentanglement"] = summary["disentanglement"]
        member[f"{short}_informativeness"] = summary["informativeness"]
        for part in PARTITIONS:
            member[f"{short}_placement_{part}"] = detail["groups"][part]
        member[f"{short}_placement"] = float(np.mean([detail["groups"][part] for part in PARTITIONS]))
    test = reconstruction_and_elbo(result.model, images[test_rows], pixel_max=cfg.pixel_max, seed=settings.seed)
    member.update({f"test_{k}": v for k, v in test.items() if k != "recon_sampled"})
    save_json(args.out, member)
    logging.info("faces cluster study %s: %s", name, ", ".join(
        f"{k} {v:.3f}" for k, v in member.items() if k.startswith(("rf_placement_", "test_kl"))))
    return 0


if __name__ == "__main__":
    run_stage(main, features.FeaturesSchemaError)
