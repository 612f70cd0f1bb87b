"""The gated informativeness gap, investigated: the dSprites gated beta-VAE of the main matrix
with one thing changed per row, trained and evaluated as the pipeline does (docs/dsprites.md
"Why gating does not sharpen our codes").

    python benchmarks/gated_gap.py                      # every row, seed 0, then the table
    python benchmarks/gated_gap.py --rows beta_0.5 --seeds 0 1 2 --gatings gated ungated
    python benchmarks/gated_gap.py --table              # only print the table of what is there

It reads the default pipeline's data (data/dsprites/, `dvc repro dsprites_pairs` makes them) and
params.yaml; each finished run appends a row to --out (JSON lines), so an interrupted run loses
only the row it was training, and a row already there is not trained again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from gatedvae import inputs
from gatedvae import params as P
from gatedvae.dsprites import config, spec
from gatedvae.threads import pin_threads, threads_setting

# name -> (what changed, TrainConfig fields it sets); "full_grid" also swaps the data set
ROWS = {
    "as_committed": ("nothing (the main matrix's gated beta-VAE)", {}),
    "beta_0.5": ("beta 4 -> 0.5 (the KL weight per latent dim if the paper averages the KL over "
                 "its 8 dims)", {"objective_params": {"beta": 0.5}}),
    "beta_1": ("beta 4 -> 1", {"objective_params": {"beta": 1.0}}),
    "lr_1e-3": ("learning rate 1e-4 -> 1e-3", {"lr": 1e-3}),
    "random_order": ("partition order round robin -> random per step", {"partition_order": "random"}),
    "kl_ungated": ("the regulariser sees the un-gated (mu, logvar)", {"gate_regulariser": False}),
    "hidden_1200": ("hidden 256 -> 1200 (the paper's width)", {"hidden": 1200}),
    "full_grid": ("the full 737,280-image grid, 1 epoch (737k images seen) instead of the 100k "
                  "subset for 6 (600k)", {"epochs": 1}),
    "budget_4x": ("24 epochs (2.4M images seen) instead of 6", {"epochs": 24}),
    "beta_0.5_budget_4x": ("beta 0.5 and 24 epochs together (if the KL weight unlocks the codes only "
                           "with more training)", {"objective_params": {"beta": 0.5}, "epochs": 24}),
    "self_target_0.25": ("a quarter of the steps reconstruct the anchor itself, gradient through all of z "
                         "(pairs that share more than the text says)",
                         {"self_target_prob": 0.25, "self_target_partitions": [0, 1, 2, 3]}),
    "decoder_gated": ("the decoder's first-layer weights from inactive partitions get no gradient either "
                      "(one reading of 'only through a specific partition')", {}),
    "bn_recalibrated": ("the model as committed, its BatchNorm running statistics recomputed exactly over "
                        "all training images before evaluation (are the codes hurt by stale statistics?)", {}),
}


def load_data(name: str):
    """(images, factors [N, K], pair index [N, P]) of the pipeline, or of the full grid."""
    if name != "full_grid":
        images = inputs.images("data/dsprites/images.npy")
        factors = inputs.table("data/dsprites/factors.parquet")
        groups = inputs.table("data/dsprites/groups.parquet")
        return images, factors, groups
    from gatedvae.dsprites import data as D
    classes = D.full_grid_classes()
    print("rendering the full grid (737,280 images)...", flush=True)
    images = D.render(classes)
    factors = D.factors_frame(classes)
    return images, factors, None


# the learning curve: the budget_4x run is evaluated after these epochs (100k images each)
CURVE_EPOCHS = (1, 2, 3, 6, 12, 24)


def gate_decoder_inputs(model, cfg) -> None:
    """Zero the gradient of the decoder's first-layer weight columns of the partitions a step does
    not name (round robin: step k names partition k mod P). Adam's moments still carry earlier
    steps' updates, so this gates the gradient, as the encoder's gating does, not the update."""
    import itertools

    import torch
    from gatedvae.training.gating import partition_masks

    assert cfg.partition_order == "round_robin", "the hook infers the partition from the step count"
    masks = partition_masks(cfg.partitions).to(torch.float32)
    steps = itertools.count()
    first = model.decoder[0]  # nn.Linear(latent_dim, hidden): weight [hidden, latent_dim]
    first.weight.register_hook(lambda grad: grad * masks[next(steps) % len(masks)].to(grad.device))


def recalibrate_batchnorm(model, images, cfg, batch: int = 1000) -> None:
    """Replace the encoder's BatchNorm running means and variances by their exact averages over all
    images (momentum None: a cumulative average), in train mode without gradients. The codes are
    encoder means, so the decoder's statistics do not enter the metrics."""
    import torch
    from gatedvae.training.infer import to_float

    norms = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = to_float(torch.from_numpy(np.asarray(images[start:start + batch])), cfg.pixel_max)
            if len(x) > 1:
                model.encode(x)
    model.eval()


def scores(metrics: dict) -> dict:
    return {"rf_nrmse": metrics["rf"]["informativeness"]["per_factor"],
            "rf_informativeness": metrics["rf"]["informativeness"]["avg"],
            "rf_disentanglement": metrics["rf"]["disentanglement"]["avg"],
            "rf_completeness": metrics["rf"]["completeness"]["avg"],
            "lasso_nrmse": metrics["lasso"]["informativeness"]["per_factor"],
            "lasso_informativeness": metrics["lasso"]["informativeness"]["avg"],
            "lasso_disentanglement": metrics["lasso"]["disentanglement"]["avg"]}


def run_one(params, row: str, gating: str, seed: int) -> dict:
    from gatedvae.evaluation.evaluate import evaluate_model
    from gatedvae.training import fit
    from gatedvae.training.pairs import group_ids

    images, factors, groups = load_data(row)
    parts = config.partitions(params)
    if groups is None:
        groups = group_ids(factors, parts)
    cfg = config.train_config(params, model="beta_vae", gating=gating, seed=seed)
    changes = dict(ROWS[row][1])
    if "objective_params" in changes:
        changes["objective_params"] = {**cfg.objective_params, **changes["objective_params"]}
    cfg = dataclasses.replace(cfg, **changes)
    names = list(spec.FACTOR_NAMES)

    def evaluate(model):
        metrics, _ = evaluate_model(model, images, factors[names].to_numpy(),
                                    pixel_max=cfg.pixel_max, partition_sizes=cfg.partitions,
                                    intended=config.intended_partition(parts), factor_names=names,
                                    settings=config.eval_settings(params), extra_metrics=False)
        return scores(metrics)

    curve = []
    model = fit.new_model(cfg)
    if row == "decoder_gated":
        gate_decoder_inputs(model, cfg)

    def on_epoch_end(epoch, row_of_epoch):  # the engine sets train mode again at the next epoch
        if row.endswith("budget_4x") and epoch in CURVE_EPOCHS:
            curve.append({"epoch": epoch, "images_seen": epoch * len(images), **evaluate(model),
                          "kl": {name: row_of_epoch.get(f"kl_{name}") for name in parts}})
            print(json.dumps(curve[-1]), flush=True)

    t0 = time.perf_counter()
    result = fit._fit(model, images, groups.to_numpy() if cfg.gated else None, cfg,
                      mode="gated" if cfg.gated else "plain", epochs=cfg.epochs, lr=cfg.lr,
                      checkpoint_dir=Path(f"checkpoints/gated_gap/{row}-{gating}-{seed}"),
                      log_dir=None, progress=False, on_epoch_end=on_epoch_end,
                      partition_names_given=list(parts))
    if row == "bn_recalibrated":
        recalibrate_batchnorm(result.model, images, cfg)
    last = result.history[-1]
    return {"row": row, "gating": gating, "seed": seed, "images_seen": len(images) * cfg.epochs,
            "seconds": round(time.perf_counter() - t0, 1), **evaluate(result.model),
            "kl": {name: last.get(f"kl_{name}") for name in parts}, "recon": last.get("recon"),
            "curve": curve}


def table(rows: list[dict]) -> str:
    names = list(spec.FACTOR_NAMES)
    out = ["| row | gating | seeds | " + " | ".join(names) + " | mean I | RF D | RF C | KL shape / scale / orient. / pos. (nats) |",
           "|---|---|---|" + "---|" * (len(names) + 4)]
    keyed: dict[tuple, list[dict]] = {}
    for r in rows:
        keyed.setdefault((r["row"], r["gating"]), []).append(r)
    for (row, gating), runs in sorted(keyed.items(), key=lambda kv: (list(ROWS).index(kv[0][0]), kv[0][1])):
        def mean(f):
            return float(np.mean([f(r) for r in runs]))
        per_factor = " | ".join(f"{mean(lambda r: r['rf_nrmse'][n]):.3f}" for n in names)
        kl = " / ".join(f"{mean(lambda r: r['kl'][p] or 0.0):.2f}" for p in runs[0]["kl"])
        seeds = ",".join(str(r["seed"]) for r in sorted(runs, key=lambda r: r["seed"]))
        def spread(f):  # mean, and ± the std over seeds where there are several
            values = [f(r) for r in runs]
            return f"{np.mean(values):.3f}" + (f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else "")

        out.append(f"| {row} | {gating} | {seeds} | {per_factor} | {spread(lambda r: r['rf_informativeness'])} | "
                   f"{spread(lambda r: r['rf_disentanglement'])} | {spread(lambda r: r['rf_completeness'])} | {kl} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--gatings", nargs="+", choices=("gated", "ungated"), default=["gated"])
    parser.add_argument("--out", default="benchmarks/gated_gap_results.jsonl")
    parser.add_argument("--table", action="store_true", help="print the table of --out and stop")
    args = parser.parse_args(argv)
    params = P.load("params.yaml")
    pin_threads(threads_setting(params))
    out = Path(args.out)
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    if not args.table:
        for row in args.rows:
            for gating in args.gatings:
                for seed in args.seeds:
                    if any((d["row"], d["gating"], d["seed"]) == (row, gating, seed) for d in done):
                        continue
                    print(f"--- {row} ({ROWS[row][0]}), {gating}, seed {seed}", flush=True)
                    result = run_one(params, row, gating, seed)
                    print(json.dumps(result), flush=True)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with out.open("a") as f:
                        f.write(json.dumps(result) + "\n")
                    done.append(result)
    print(table(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
