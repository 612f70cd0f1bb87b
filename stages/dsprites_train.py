"""Stage dsprites_train: train one (model, gating, seed) member of the sweep on dSprites."""

from gatedvae.dsprites.runs import train
from gatedvae.stage import arg, run
from gatedvae.training.config import GATINGS

if __name__ == "__main__":
    run(train, __doc__, arg("--model", help="regulariser, e.g. beta_vae"), arg("--gating", choices=GATINGS),
        arg("--seed", type=int), arg("--images"), arg("--groups"), arg("--out", help="model.pt"),
        arg("--log-dir", help="dvclive log and summary.json"))
