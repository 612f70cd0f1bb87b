"""Stage faces_evaluate: every run of the faces recipe study scored (placement and DCI against the
true factors where they exist and against the extractor's features, ELBO, variance explained,
collapse diagnostics); reconstructions, traversals and Hinton diagrams of the main runs."""

from gatedvae.faces.evaluate import evaluate
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(evaluate, __doc__, arg("--images"), arg("--groups"),
        arg("--features", help="features.parquet: the extractor's pose and AU values, the weak labels"), arg("--raw"), arg("--aligned"),
        arg("--models", help="folder with <run>-<seed>/model.pt (and finetuned.pt for the main runs)"),
        arg("--runs", help="per-run evaluation figures go to <runs>/<gating>/eval"),
        arg("--figures"), arg("--metrics"), arg("--table", help="one row per run and seed (CSV)"))
