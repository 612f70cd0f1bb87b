"""DVC stage faces_cluster: k-means of pose and AU features into the pair index groups.parquet."""

from __future__ import annotations

import argparse
import logging

import pandas as pd

from faces_common import run_stage
from gatedvae import params as P
from gatedvae.faces.config import check_faces
from gatedvae.atomic import save_json, save_parquet
from gatedvae.faces import clustering, features
from gatedvae.faces.openface import AU_INTENSITIES


def cluster_config(params, part: str) -> clustering.ClusterConfig:
    key = "faces.cluster"
    return clustering.ClusterConfig(
        n_clusters=P.number(params, f"{key}.{part}_clusters", integer=True, minimum=1),
        seed=P.number(params, f"{key}.seed", integer=True),
        min_mean_size=P.number(params, f"{key}.min_mean_size", positive=True),
        algorithm=P.choice(params, f"{key}.algorithm", ("minibatch", "full")),
        n_init=P.number(params, f"{key}.n_init", integer=True, minimum=1),
        batch_size=P.number(params, f"{key}.batch_size", integer=True, minimum=1),
        merge_singletons=bool(P.get(params, f"{key}.merge_singletons")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--features", default="data/faces/features.parquet")
    parser.add_argument("--aligned", default="data/faces/aligned")
    parser.add_argument("--out", default="data/faces/groups.parquet")
    parser.add_argument("--stats", default="data/faces/cluster_stats.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = P.load(args.params)
    check_faces(params)
    feats = features.read(args.features)
    image_ids = pd.read_parquet(f"{args.aligned}/index.parquet")["image_id"].tolist()
    aus = P.get(params, "faces.cluster.expression_aus")
    P.check(aus == "all" or (isinstance(aus, list) and aus and all(a in AU_INTENSITIES for a in aus)),
            "faces.cluster.expression_aus", f"must be `all` or a list drawn from {list(AU_INTENSITIES)}")
    groups, stats = clustering.pair_index(feats, image_ids, cluster_config(params, "pose"),
                                          cluster_config(params, "expression"),
                                          expression_aus=None if aus == "all" else list(aus))
    save_parquet(args.out, groups)
    save_json(args.stats, stats)
    logging.info("pose: %d clusters in %.2f s; expression: %d clusters in %.2f s; %d images without "
                 "features paired with themselves", stats["pose"]["clusters"], stats["pose"]["seconds"],
                 stats["expression"]["clusters"], stats["expression"]["seconds"], stats["without_features"])
    return 0


if __name__ == "__main__":
    run_stage(main, features.FeaturesSchemaError, ValueError)
