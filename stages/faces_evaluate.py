"""Stage faces_evaluate: every run of the faces recipe study scored (placement, DCI, ELBO,
collapse diagnostics); reconstructions, traversals and Hinton diagrams of the main runs."""

from gatedvae.faces.evaluate import evaluate
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(evaluate, __doc__, arg("--images"), arg("--groups"), arg("--raw"), arg("--aligned"),
        arg("--models", help="folder with <run>-<seed>/model.pt (and finetuned.pt for the main runs)"),
        arg("--runs", help="per-run evaluation figures go to <runs>/<gating>/eval"),
        arg("--figures"), arg("--metrics"), arg("--table", help="one row per run and seed (CSV)"))
