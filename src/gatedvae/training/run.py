"""One training or fine-tuning run from files to files, the same for every dataset: train (or
fine-tune), save the model with its config, and write the run's summary beside its dvclive log.

Resumable checkpoints go under checkpoints/, mirroring the model's output folder (scratch space,
not a DVC output; removed when the run finishes)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from gatedvae.atomic import save_json
from gatedvae.training.checkpoint import load_model, save_model
from gatedvae.training.config import TrainConfig
from gatedvae.training.fit import TrainResult, finetune_decoder, train


def checkpoint_dir(model_out: str | Path, phase: str) -> Path:
    """checkpoints/<the model's folder>/<phase> (an absolute folder is taken without its root)."""
    folder = Path(model_out).parent
    return Path("checkpoints", *folder.parts[1 if folder.is_absolute() else 0:], phase)


def train_and_save(images: np.ndarray, groups: np.ndarray | None, cfg: TrainConfig, *,
                   model_out: str | Path, log_dir: str | Path,
                   partition_names: Sequence[str] | None = None) -> TrainResult:
    """Train, save the model to model_out and log_dir/summary.json; singletons per partition are
    keyed by partition_names when given."""
    result = train(images, groups, cfg, checkpoint_dir=checkpoint_dir(model_out, "train"),
                   log_dir=log_dir, progress=True,
                   partition_names=list(partition_names) if partition_names is not None else None)
    save_model(model_out, result.model, cfg, history=result.history)
    singletons = result.singletons
    if partition_names is not None:
        singletons = dict(zip(partition_names, singletons)) if singletons else {}
    save_json(Path(log_dir) / "summary.json", {
        "images_per_second": round(result.images_per_second, 1),
        "seconds": round(result.seconds, 2),
        "images_seen": cfg.epochs * (len(images) // cfg.batch_size) * cfg.batch_size,
        "singletons_per_partition": singletons,
        "final": result.history[-1] if result.history else {},
    })
    return result


def finetune_and_save(model_in: str | Path, images: np.ndarray, *, epochs: int, lr: float,
                      model_out: str | Path, log_dir: str | Path) -> list[dict]:
    """Decoder fine-tuning (paper Fig. 4) of the model in model_in; 0 epochs copies it as is."""
    model, cfg, _ = load_model(model_in)
    history = []
    if epochs > 0:
        history = finetune_decoder(model, images, cfg, epochs=epochs, lr=lr,
                                   checkpoint_dir=checkpoint_dir(model_out, "finetune"),
                                   log_dir=log_dir, progress=True).history
    save_json(Path(log_dir) / "summary.json", {"epochs": epochs, "history": history})
    save_model(model_out, model, cfg, finetune_history=history)
    return history


def training_curve(log_dir: str | Path, name: str):
    """One run's dvclive per-epoch losses as a DataFrame (run, epoch, loss, recon, regulariser)."""
    import pandas as pd

    frames = [pd.read_csv(Path(log_dir) / "plots" / "metrics" / f"{key}.tsv", sep="\t")
              .set_index("step")[key] for key in ("loss", "recon", "regulariser")]
    curve = pd.concat(frames, axis=1).reset_index()
    curve.insert(0, "run", name)
    curve.insert(1, "epoch", curve.pop("step") + 1)
    return curve
