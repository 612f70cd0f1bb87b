"""DVC stage: dSprites images and factors, rendered here or read from the official file.

Reads params.yaml section `dsprites` (source, n_images, seed, path, url, md5, download_dir).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from gatedvae import params as P
from gatedvae.config import check_dsprites
from gatedvae.data import dsprites
from gatedvae.data.download import DownloadError


def read_params(path: str) -> dict:
    params = P.load(path)
    section = P.get(params, "dsprites", file=path)
    P.check(isinstance(section, dict), "dsprites", "must be a mapping", file=path)
    source = P.choice(params, "dsprites.source", dsprites.SOURCES)
    n_images = P.number(params, "dsprites.n_images", integer=True, minimum=0)
    seed = P.number(params, "dsprites.seed", integer=True, minimum=0)
    npz_path = P.get(params, "dsprites.path", None)
    url = P.get(params, "dsprites.url", None) or dsprites.DSPRITES_URL
    md5 = P.get(params, "dsprites.md5", dsprites.DSPRITES_MD5)
    download_dir = P.get(params, "dsprites.download_dir", None)
    P.check(npz_path is None or isinstance(npz_path, str), "dsprites.path",
            f"must be a file path or null, got {npz_path!r}", file=path)
    if source == "path":
        P.check(npz_path is not None, "dsprites.path",
                "must name the official .npz file when dsprites.source is `path`", file=path)
        P.check(Path(npz_path).is_file(), "dsprites.path", f"{npz_path}: file not found",
                file=path)
    P.check(isinstance(url, str) and url.startswith(("http://", "https://")), "dsprites.url",
            f"must be an http(s) URL, got {url!r}", file=path)
    P.check(md5 is None or (isinstance(md5, str) and re.fullmatch(r"[0-9a-fA-F]{32}", md5)),
            "dsprites.md5", f"must be 32 hex digits or null (no check), got {md5!r}", file=path)
    P.check(download_dir is None or isinstance(download_dir, str), "dsprites.download_dir",
            f"must be a folder path or null, got {download_dir!r}", file=path)
    return dict(source=source, n_images=n_images, seed=seed, path=npz_path, url=url, md5=md5,
                download_dir=download_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", default="data/dsprites/images.npy")
    parser.add_argument("--factors", default="data/dsprites/factors.parquet")
    args = parser.parse_args(argv)
    try:
        settings = read_params(args.params)
        check_dsprites(P.load(args.params))  # the whole DAG's params, before any work
        summary = dsprites.acquire(settings.pop("source"), args.images, args.factors,
                                   **settings)
    except (P.ParamError, DownloadError, dsprites.DSpritesFileError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
