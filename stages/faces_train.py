"""Stage faces_train (and faces_main_train, faces_baseline_train with --main): one run
(`<gating>-<recipe>`) and seed of the faces recipe study, or of the main runs (trained for
faces.main_runs.epochs), or a pair method beside them (`pairs-<method>`), trained."""

from gatedvae.faces.runs import train
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(train, __doc__, arg("--run", help="<gating>-<recipe>, one of faces.study.runs, or pairs-<method>"),
        arg("--seed", type=int), arg("--images"), arg("--groups"),
        arg("--out", help="model.pt"), arg("--log-dir", help="dvclive log and summary.json"),
        arg("--main", action="store_true", help="a main run (faces.main_runs): its epochs, not the study's"))
