"""Stage dsprites_curve: the learning curve of one main-matrix beta-VAE (gated or un-gated), one
run evaluated after each epoch listed in studies.curve.epochs."""

from gatedvae.stage import arg, run
from gatedvae.studies.curve import member
from gatedvae.training.config import GATINGS

if __name__ == "__main__":
    run(member, __doc__, arg("--gating", choices=GATINGS), arg("--seed", type=int), arg("--images"),
        arg("--factors"), arg("--groups"), arg("--out", help="the run's curve points (JSON)"))
