"""DVC stage faces_acquire: CelebA (synthetic, local copy or download) into data/faces/raw."""

from __future__ import annotations

import argparse
import logging
import sys

from faces_common import run_stage
from gatedvae import params as P
from gatedvae.faces.config import check_faces
from gatedvae.faces import acquire, synthetic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/faces/raw")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = P.load(args.params)
    check_faces(params)
    source = P.choice(params, "faces.acquire.source", ("synthetic", "path", "download"))
    progress = sys.stderr.isatty()
    if source == "synthetic":
        values = dict(P.get(params, "faces.acquire.synthetic"))
        try:
            cfg = synthetic.config_from_dict(values)
        except (TypeError, ValueError) as e:
            raise P.ParamError(f"params.yaml: `faces.acquire.synthetic`: {e}") from e
        P.number(params, "faces.acquire.synthetic.n_images", integer=True, minimum=1)
        synthetic.generate(args.out, cfg, progress=progress)
        logging.info("wrote %d synthetic faces to %s", cfg.n_images, args.out)
    elif source == "path":
        summary = acquire.from_path(P.get(params, "faces.acquire.path"), args.out, progress=progress)
        logging.info("installed %s", summary)
    else:
        summary = acquire.download(args.out, url_template=P.get(params, "faces.acquire.url_template"),
                                   staging=P.get(params, "faces.acquire.path"), progress=progress)
        logging.info("installed %s", summary)
    return 0


if __name__ == "__main__":
    run_stage(main, acquire.AcquireError)
