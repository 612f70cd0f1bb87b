"""Stage faces_finetune: decoder fine-tuning (encoder frozen, plain VAE steps), paper Fig. 4."""

from gatedvae.faces.runs import finetune
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(finetune, __doc__, arg("--images"), arg("--model", help="the trained model.pt"), arg("--out"),
        arg("--log-dir"))
