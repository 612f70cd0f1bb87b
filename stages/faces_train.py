"""Stage faces_train: one run of the faces recipe study (`<gating>-<recipe>`) and seed, trained."""

from gatedvae.faces.runs import train
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(train, __doc__, arg("--run", help="<gating>-<recipe>, one of faces.study.runs"),
        arg("--seed", type=int), arg("--images"), arg("--groups"),
        arg("--out", help="model.pt"), arg("--log-dir", help="dvclive log and summary.json"))
