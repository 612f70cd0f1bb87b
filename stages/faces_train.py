"""Stage faces_train: the convolutional VAE on greyscale faces, gated or un-gated."""

from gatedvae.faces.runs import train
from gatedvae.stage import arg, run
from gatedvae.training.config import GATINGS

if __name__ == "__main__":
    run(train, __doc__, arg("--gating", choices=GATINGS), arg("--images"), arg("--groups"),
        arg("--out", help="model.pt"), arg("--log-dir", help="dvclive log and summary.json"))
