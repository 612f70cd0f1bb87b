"""Stage dsprites_train (and dsprites_baseline_train): train one (model, gating, seed) member of
the sweep, or one (pair method, pairs, seed) baseline, on dSprites."""

from gatedvae.dsprites.runs import train
from gatedvae.stage import arg, run
from gatedvae.training.config import GATINGS, PAIRS

if __name__ == "__main__":
    run(train, __doc__, arg("--model", help="regulariser, e.g. beta_vae"), arg("--gating", choices=(*GATINGS, PAIRS)),
        arg("--seed", type=int), arg("--images"), arg("--groups"), arg("--out", help="model.pt"),
        arg("--log-dir", help="dvclive log and summary.json"))
