"""The dSprites data stages: images and factors (rendered here or read from the official file),
then the pair index.

Stage functions take the loaded params first and validate the whole branch before any work;
stages/dsprites_*.py are their command-line wiring.
"""

from __future__ import annotations

import json

import pandas as pd

from gatedvae.atomic import save_parquet
from gatedvae.dsprites import config


def acquire(params, *, images: str, factors: str) -> None:
    """dSprites images and factors, rendered here or read from the official file."""
    from gatedvae.dsprites import data

    config.check_dsprites(params)
    settings = config.acquire_settings(params)
    summary = data.acquire(settings.source, images, factors, n_images=settings.n_images,
                           seed=settings.seed, path=settings.path, url=settings.url,
                           md5=settings.md5, download_dir=settings.download_dir)
    print(json.dumps(summary))


def pairs(params, *, factors: str, out: str) -> None:
    """The pair index (groups.parquet): one column per latent partition."""
    from gatedvae.training.pairs import PairSampler, group_ids

    config.check_dsprites(params)
    groups = group_ids(pd.read_parquet(factors), config.partitions(params))
    singletons = PairSampler(groups.to_numpy()).singletons
    save_parquet(out, groups)
    for name, column in groups.items():
        print(f"partition {name}: {column.nunique()} groups over {len(column)} images, "
              f"{singletons[groups.columns.get_loc(name)]} singleton(s) (paired with themselves)")
