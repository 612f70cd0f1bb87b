"""The dSprites training stages: one sweep run trained, then its decoder fine-tuned."""

from __future__ import annotations

from pathlib import Path

from gatedvae import inputs
from gatedvae.dsprites import config
from gatedvae.training.config import PAIRS, FinetuneSettings
from gatedvae.training.run import finetune_and_save, train_and_save


def train(params, *, model: str, gating: str, seed: int, images: str, groups: str, out: str,
          log_dir: str) -> None:
    """Train one (model, gating, seed) member of the sweep, or of the pair baselines (gating pairs)."""
    data = inputs.images(images)
    config.check_dsprites(params, n_images=len(data))
    cfg = config.train_config(params, model=model, gating=gating, seed=seed)
    pair_index = inputs.table(groups).to_numpy() if cfg.gated or gating == PAIRS else None
    result = train_and_save(data, pair_index, cfg, model_out=out, log_dir=log_dir)
    print(f"{Path(out).parent.name}: {result.images_per_second:.0f} images/s over {result.seconds:.1f} s")


def finetune(params, *, images: str, model: str, out: str, log_dir: str) -> None:
    """Decoder fine-tuning (paper Fig. 4): encoder frozen, decoder trained as a plain VAE."""
    data = inputs.images(images)
    config.check_dsprites(params, n_images=len(data))
    settings = FinetuneSettings.from_params(params, "dsprites.finetune")
    finetune_and_save(model, data, epochs=settings.epochs, lr=settings.lr, model_out=out, log_dir=log_dir)
