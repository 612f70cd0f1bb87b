"""Stage: DCI (Lasso and random forest), partition placement, the other metrics, test-set
reconstruction error and ELBO, Hinton diagrams, reconstructions and traversals."""

import numpy as np
import pandas as pd

from common import FACTORS, IMAGES, MODELS, RUNS, run_name, run_parser
from gatedvae import params as P
from gatedvae.atomic import save_figure, save_json
from gatedvae.config import DSPRITES_FACTORS, check_dsprites, intended_partition, partitions
from gatedvae.engine import load_model, reconstruct, traverse
from gatedvae.evaluation import REGRESSORS, EvalSettings, evaluate_model, reconstruction_and_elbo, split_rows
from gatedvae.plots import hinton, reconstruction_grid, traversal_grid


def main() -> None:
    args = run_parser(__doc__).parse_args()
    params = P.load(args.params)
    images = np.load(IMAGES, mmap_mode="r")
    check_dsprites(params, n_images=len(images))
    factors = pd.read_parquet(FACTORS)
    name = run_name(args.model, args.gating, args.seed)
    out = RUNS / name / "eval"
    trained, cfg, _ = load_model(MODELS / name / "model.pt")
    finetuned, _, _ = load_model(MODELS / name / "finetuned.pt")

    parts = partitions(params)
    settings = EvalSettings.from_params(P.get(params, "evaluate"))
    # The encoder is frozen during fine-tuning, so codes of either model are the same.
    metrics, importance = evaluate_model(
        finetuned, images, factors[list(DSPRITES_FACTORS)].to_numpy(), pixel_max=cfg.pixel_max,
        partition_sizes=cfg.partitions, intended=intended_partition(parts),
        factor_names=list(DSPRITES_FACTORS), settings=settings)
    for key, r in importance.items():
        fig = hinton(r, [f"z{i}" for i in range(cfg.latent_dim)], list(DSPRITES_FACTORS),
                     partition_sizes=cfg.partitions, partition_labels=list(parts),
                     title=f"{name} ({key})")
        save_figure(out / f"hinton_{key}.png", fig, dpi=100)

    _, test_rows = split_rows(len(images), settings)
    # metrics["test"] scores the fine-tuned model; this shows what fine-tuning bought.
    metrics["test_before_finetune"] = reconstruction_and_elbo(
        trained, images[test_rows], pixel_max=cfg.pixel_max, seed=settings.seed)
    shown = test_rows[:10]
    grid = reconstruction_grid(
        [np.asarray(images[shown]) * (255 // cfg.pixel_max),
         reconstruct(trained, images[shown], pixel_max=cfg.pixel_max),
         reconstruct(finetuned, images[shown], pixel_max=cfg.pixel_max)],
        ["input", "gated training" if cfg.gated else "training", "decoder fine-tuned"])
    save_figure(out / "reconstructions.png", grid, dpi=100)

    # Traversals (paper Fig. 5 style): one test image, every dim from -2 to +2, others at its mean
    values = np.linspace(-2.0, 2.0, 7)
    owner = [name for name, size in zip(parts, cfg.partitions) for _ in range(size)]
    cells = traverse(finetuned, images[test_rows[0]], list(range(cfg.latent_dim)), values,
                     pixel_max=cfg.pixel_max)
    fig = traversal_grid(cells, [f"z{d} ({owner[d]})" for d in range(cfg.latent_dim)], values,
                         title=f"{name}: traversals")
    save_figure(out / "traversals.png", fig, dpi=100)
    save_json(out / "metrics.json", metrics)
    for key in REGRESSORS:
        m = metrics[key]
        print(f"{name} {key}: D {m['disentanglement']['avg']:.3f}  C {m['completeness']['avg']:.3f}  "
              f"I(NRMSE) {m['informativeness']['avg']:.3f}")
    for key in ("test_before_finetune", "test"):
        t = metrics[key]
        print(f"{name} {key}: recon BCE {t['recon_bce']:.1f}  ELBO {t['elbo']:.1f} nats/image")


if __name__ == "__main__":
    main()
