"""Stage: decoder fine-tuning (paper Fig. 4): encoder frozen, decoder trained as a plain VAE."""

import numpy as np

from common import CHECKPOINTS, IMAGES, MODELS, RUNS, run_name, run_parser
from gatedvae import params as P
from gatedvae.atomic import save_json
from gatedvae.config import check_dsprites
from gatedvae.engine import finetune_decoder, load_model, save_model


def main() -> None:
    args = run_parser(__doc__).parse_args()
    params = P.load(args.params)
    images = np.load(IMAGES, mmap_mode="r")
    check_dsprites(params, n_images=len(images))
    name = run_name(args.model, args.gating, args.seed)
    model, cfg, _ = load_model(MODELS / name / "model.pt")
    epochs = P.number(params, "finetune.epochs", integer=True, minimum=0)
    lr = P.number(params, "finetune.lr", positive=True)
    log_dir = RUNS / name / "finetune"
    history = []
    if epochs > 0:
        result = finetune_decoder(model, images, cfg, epochs=epochs, lr=lr,
                                  checkpoint_dir=CHECKPOINTS / name / "finetune", log_dir=log_dir)
        history = result.history
    save_json(log_dir / "summary.json", {"epochs": epochs, "history": history})
    save_model(MODELS / name / "finetuned.pt", model, cfg, finetune_history=history)


if __name__ == "__main__":
    main()
