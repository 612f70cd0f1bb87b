"""Stage dsprites_evaluate: DCI, placement, the other metrics, held-out ELBO and figures of one run."""

from gatedvae.dsprites.evaluate import evaluate
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(evaluate, __doc__, arg("--images"), arg("--factors"), arg("--trained"), arg("--finetuned"),
        arg("--out", help="the run's eval folder"))
