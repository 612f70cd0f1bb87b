"""Stage faces_evaluate: traversals, reconstructions and (synthetic faces) DCI and placement."""

from gatedvae.faces.evaluate import evaluate
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(evaluate, __doc__, arg("--images"), arg("--groups"), arg("--raw"), arg("--aligned"),
        arg("--models", help="folder with <gating>/model.pt and finetuned.pt"), arg("--runs"),
        arg("--figures"), arg("--metrics"))
