"""Stage: DCI (Lasso and random forest), partition placement, Hinton diagrams and reconstructions."""

import numpy as np
import pandas as pd

from common import FACTORS, IMAGES, MODELS, RUNS, run_name, run_parser
from gatedvae import params as P
from gatedvae.atomic import save_figure, save_json
from gatedvae.config import DSPRITES_FACTORS, check_dsprites, intended_partition, partitions
from gatedvae.engine import encode_mean, load_model, reconstruct, traverse
from gatedvae.metrics.beta_vae_metric import beta_vae_metric
from gatedvae.metrics.dci import dci
from gatedvae.metrics.factor_vae_metric import factor_vae_metric
from gatedvae.metrics.mig import mig
from gatedvae.metrics.placement import placement
from gatedvae.plots import hinton, reconstruction_grid, traversal_grid

REGRESSORS = {"lasso": "lasso", "rf": "random_forest"}


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

    n_train = P.get(params, "evaluate.n_train")
    n_test = P.get(params, "evaluate.n_test")
    rng = np.random.default_rng(P.get(params, "evaluate.seed"))
    chosen = rng.choice(len(images), n_train + n_test, replace=False)
    train_rows, test_rows = np.sort(chosen[:n_train]), np.sort(chosen[n_train:])
    # The encoder is frozen during fine-tuning, so codes of either model are the same.
    codes_train = encode_mean(finetuned, images[train_rows], pixel_max=cfg.pixel_max)
    codes_test = encode_mean(finetuned, images[test_rows], pixel_max=cfg.pixel_max)
    y = factors[list(DSPRITES_FACTORS)].to_numpy(dtype=np.float64)

    parts = partitions(params)
    intended = intended_partition(parts)
    code_names = [f"z{i}" for i in range(cfg.latent_dim)]
    metrics = {}
    for key, regressor in REGRESSORS.items():
        result = dci(codes_train, y[train_rows], codes_test, y[test_rows], regressor=regressor,
                     lasso_alpha=P.get(params, "evaluate.lasso_alpha"),
                     rf_trees=P.get(params, "evaluate.rf_trees"),
                     rf_depth=P.get(params, "evaluate.rf_depth"),
                     seed=P.get(params, "evaluate.seed"), factor_names=list(DSPRITES_FACTORS))
        metrics[key] = result.to_dict()
        metrics[key]["placement"] = placement(result.importance, cfg.partitions, intended,
                                              factor_names=list(DSPRITES_FACTORS))
        fig = hinton(result.importance, code_names, list(DSPRITES_FACTORS),
                     partition_sizes=cfg.partitions, partition_labels=list(parts),
                     title=f"{name} ({key})")
        save_figure(out / f"hinton_{key}.png", fig, dpi=100)

    # Metrics of the seed papers, over all evaluated codes (factor classes are integers)
    codes_all = np.concatenate([codes_train, codes_test])
    classes_all = np.concatenate([y[train_rows], y[test_rows]]).astype(np.int64)
    seed = P.get(params, "evaluate.seed")
    metrics["factor_vae_metric"] = factor_vae_metric(codes_all, classes_all, seed=seed).to_dict()
    metrics["beta_vae_metric"] = beta_vae_metric(codes_all, classes_all, seed=seed).to_dict()
    metrics["mig"] = mig(codes_all, classes_all, factor_names=list(DSPRITES_FACTORS)).to_dict()

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


if __name__ == "__main__":
    main()
