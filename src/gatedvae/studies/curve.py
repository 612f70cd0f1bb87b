"""The learning curve: one beta-VAE of the main matrix (gated or un-gated) trained for the longest
budget in studies.curve.epochs and evaluated (RF and Lasso DCI, NRMSE per factor) after each listed
epoch of that one run, so that the curve costs one training, not one per point.

Its points answer the question the main matrix cannot: does more training move the gated codes
toward the paper's values, and how fast (docs/dsprites.md "Why gating does not sharpen our codes").
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gatedvae import inputs
from gatedvae.atomic import save_json
from gatedvae.dsprites import config, spec
from gatedvae.params import check, number
from gatedvae.studies.config import check_studies, values
from gatedvae.training.config import TrainConfig

KEY = "studies.curve"


def curve_config(params, *, gating: str, seed: int) -> TrainConfig:
    """The main matrix's beta-VAE config, at studies.curve.hidden, trained to the last listed epoch."""
    check_studies(params)
    cfg = config.train_config(params, model="beta_vae", gating=gating, seed=seed)
    cfg.hidden = number(params, f"{KEY}.hidden", integer=True, positive=True)
    cfg.epochs = max(curve_epochs(params))
    return cfg


def curve_epochs(params) -> list[int]:
    """The epochs after which the run is evaluated, ascending."""
    return sorted(values(params, f"{KEY}.epochs", integer=True, low=1))


def point(metrics: dict, *, epoch: int, images_seen: int, row: dict, partitions: list[str]) -> dict:
    """One point of the curve: NRMSE per factor, D, C and mean I for each regressor, and the
    training row's KL per partition (nats), at epoch."""
    out = {"epoch": epoch, "images_seen": images_seen}
    for reg in ("rf", "lasso"):
        for factor, value in metrics[reg]["informativeness"]["per_factor"].items():
            out[f"{reg}_nrmse_{factor}"] = value
        for score in ("disentanglement", "completeness", "informativeness"):
            out[f"{reg}_{score}"] = metrics[reg][score]["avg"]
    for name in partitions:
        out[f"kl_{name}"] = row.get(f"kl_{name}")
    return out


def member(params, *, gating: str, seed: int, images: str, factors: str, groups: str, out: str) -> None:
    """Train one curve run and write its points to `out` (JSON)."""
    from gatedvae.evaluation.evaluate import evaluate_model
    from gatedvae.training.fit import new_model, train

    data = inputs.images(images)
    config.check_dsprites(params, n_images=len(data))
    cfg = curve_config(params, gating=gating, seed=seed)
    wanted = set(curve_epochs(params))
    names = list(spec.FACTOR_NAMES)
    y = inputs.table(factors)[names].to_numpy()
    parts = list(config.partitions(params))
    pair_index = inputs.table(groups).to_numpy() if cfg.gated else None
    # no resume: a resumed run would skip the evaluations of the epochs it had done
    checkpoints = Path(f"checkpoints/studies/curve-{gating}-{seed}")
    shutil.rmtree(checkpoints, ignore_errors=True)
    points: list[dict] = []
    model = new_model(cfg)  # trained in place: the callback evaluates it after each listed epoch

    def evaluate(epoch, row):
        if epoch not in wanted:
            return
        metrics, _ = evaluate_model(model, data, y, pixel_max=cfg.pixel_max, partition_sizes=cfg.partitions,
                                    intended=config.intended_partition(config.partitions(params)),
                                    factor_names=names, settings=config.eval_settings(params),
                                    extra_metrics=False)
        points.append(point(metrics, epoch=epoch, images_seen=epoch * len(data), row=row, partitions=parts))
        print(f"curve {gating} seed {seed}, epoch {epoch}: RF D {points[-1]['rf_disentanglement']:.3f}, "
              f"mean RF NRMSE {points[-1]['rf_informativeness']:.3f}", flush=True)

    result = train(data, pair_index, cfg, checkpoint_dir=checkpoints, model=model,
                   on_epoch_end=evaluate, partition_names=parts)
    check(len(points) == len(wanted), f"{KEY}.epochs",
          f"expected an evaluation after each of epochs {sorted(wanted)}, made {len(points)}")
    save_json(out, {"gating": gating, "seed": seed, "hidden": cfg.hidden, "images_per_epoch": len(data),
                    "images_per_second": round(result.images_per_second, 1), "points": points})
