"""Stage check_params: the whole params.yaml against the schema, first in every `dvc repro`."""

from gatedvae.stage import arg, run
from gatedvae.validate import write_checked

if __name__ == "__main__":
    run(write_checked, __doc__, arg("--out", help="a fixed text, written only when params.yaml is valid"))
