"""Stage: the dSprites pair index (groups.parquet), one column per latent partition."""

import argparse

import pandas as pd

from common import FACTORS, GROUPS
from gatedvae import params as P
from gatedvae.atomic import save_parquet
from gatedvae.config import check_dsprites, partitions
from gatedvae.pairs import PairSampler, group_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = P.load(args.params)
    check_dsprites(params)
    factors = pd.read_parquet(FACTORS)
    groups = group_ids(factors, partitions(params))
    singletons = PairSampler(groups.to_numpy()).singletons
    save_parquet(GROUPS, groups)
    for name, column in groups.items():
        print(f"partition {name}: {column.nunique()} groups over {len(column)} images, "
              f"{singletons[groups.columns.get_loc(name)]} singleton(s) (paired with themselves)")


if __name__ == "__main__":
    main()
