"""Stage faces_features: head pose and action-unit features per image into features.parquet."""

from gatedvae.faces.extractors import extract_features
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(extract_features, __doc__, arg("--raw"), arg("--out", help="features.parquet"), arg("--report", help="counts JSON"))
