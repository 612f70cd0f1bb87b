"""Stage dsprites_beta_sweep / dsprites_noise_study: one member of a dSprites study (beta-VAE
with one setting changed: --study beta_sweep sets beta, --study noise the fraction of random
pair targets), trained and evaluated."""

from gatedvae.stage import arg, run
from gatedvae.studies.dsprites import STUDIES, member
from gatedvae.training.config import GATINGS

if __name__ == "__main__":
    run(member, __doc__, arg("--study", choices=STUDIES), arg("--value", type=float),
        arg("--gating", choices=GATINGS), arg("--seed", type=int), arg("--images"), arg("--factors"),
        arg("--groups"), arg("--out", help="the member's metrics JSON"))
