"""The dSprites data stages: images and factors (rendered here or read from the official file),
then the pair index.

Stage functions take the loaded params first and validate the whole branch before any work;
stages/dsprites_*.py are their command-line wiring.
"""

from __future__ import annotations

import json

from gatedvae import inputs
from gatedvae.atomic import save_parquet
from gatedvae.dsprites import config


def acquire(params, *, source: str, images: str, factors: str) -> None:
    """dSprites images and factors, rendered here or read from the official file (or a folder
    holding it) at `source` (dsprites.acquire.path, templated into dvc.yaml as a dependency)."""
    from gatedvae.dsprites import data

    settings = config.acquire_settings(params)
    n_images = None
    if settings.source == "path":  # the file's size bounds every other size; check them first
        n_images = config.subset_size(settings.n_images, data.held_rows(source), source)
    config.check_dsprites(params, n_images=n_images)
    summary = data.acquire(settings.source, images, factors, n_images=settings.n_images,
                           seed=settings.seed, path=source, url=settings.url,
                           md5=settings.md5, download_dir=settings.download_dir)
    print(json.dumps(summary))


def pairs(params, *, factors: str, out: str) -> None:
    """The pair index (groups.parquet): one column per latent partition."""
    from gatedvae.training.pairs import PairSampler, group_ids

    config.check_dsprites(params)
    groups = group_ids(inputs.table(factors), config.partitions(params))
    singletons = PairSampler(groups.to_numpy()).singletons
    save_parquet(out, groups)
    for name, column in groups.items():
        print(f"partition {name}: {column.nunique()} groups over {len(column)} images, "
              f"{singletons[groups.columns.get_loc(name)]} singleton(s) (paired with themselves)")
