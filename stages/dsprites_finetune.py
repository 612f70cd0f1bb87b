"""Stage dsprites_finetune: decoder fine-tuning (paper Fig. 4), encoder frozen, decoder trained as a plain VAE."""

from gatedvae.dsprites.runs import finetune
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(finetune, __doc__, arg("--images"), arg("--model", help="the trained model.pt"),
        arg("--out", help="finetuned.pt"), arg("--log-dir"))
