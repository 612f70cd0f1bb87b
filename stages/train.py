"""Stage: train one (model, gating, seed) member of the sweep on dSprites."""

import numpy as np
import pandas as pd

from common import CHECKPOINTS, GROUPS, IMAGES, MODELS, RUNS, run_name, run_parser
from gatedvae import params as P
from gatedvae.atomic import save_json
from gatedvae.config import check_dsprites, train_config
from gatedvae.engine import save_model, train


def main() -> None:
    args = run_parser(__doc__).parse_args()
    params = P.load(args.params)
    images = np.load(IMAGES, mmap_mode="r")
    check_dsprites(params, n_images=len(images))
    cfg = train_config(params, model=args.model, gating=args.gating, seed=args.seed)
    groups = pd.read_parquet(GROUPS).to_numpy() if cfg.gated else None
    name = run_name(args.model, args.gating, args.seed)
    result = train(images, groups, cfg, checkpoint_dir=CHECKPOINTS / name / "train",
                   log_dir=RUNS / name / "train")
    save_model(MODELS / name / "model.pt", result.model, cfg, history=result.history)
    save_json(RUNS / name / "train" / "summary.json", {
        "images_per_second": round(result.images_per_second, 1),
        "seconds": round(result.seconds, 2),
        "images_seen": cfg.epochs * (len(images) // cfg.batch_size) * cfg.batch_size,
        "singletons_per_partition": result.singletons,
        "final": result.history[-1] if result.history else {},
    })
    print(f"{name}: {result.images_per_second:.0f} images/s over {result.seconds:.1f} s")


if __name__ == "__main__":
    main()
