"""DVC stage faces_finetune: decoder fine-tuning (encoder frozen, plain VAE steps), paper Fig. 4."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from faces_common import CHECKPOINTS, GREY, MODELS, RUNS, setup_logging, run_stage
from gatedvae import params as P
from gatedvae.atomic import save_json
from gatedvae.engine import finetune_decoder, load_model, save_model
from gatedvae.faces.config import GATINGS, check_faces


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gating", required=True, choices=GATINGS)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    setup_logging()
    params = P.load(args.params)
    check_faces(params)
    epochs = P.number(params, "faces.finetune.epochs", integer=True, minimum=0)
    lr = P.number(params, "faces.finetune.lr", positive=True)
    images = np.load(GREY, mmap_mode="r")
    model, cfg, _ = load_model(MODELS / args.gating / "model.pt")
    log_dir = RUNS / args.gating / "finetune"
    history = []
    if epochs > 0:
        result = finetune_decoder(model, np.asarray(images), cfg, epochs=epochs, lr=lr,
                                  checkpoint_dir=CHECKPOINTS / args.gating / "finetune", log_dir=log_dir,
                                  progress=sys.stderr.isatty())
        history = result.history
    save_json(log_dir / "summary.json", {"epochs": epochs, "history": history})
    save_model(MODELS / args.gating / "finetuned.pt", model, cfg, finetune_history=history)
    return 0


if __name__ == "__main__":
    run_stage(main)
