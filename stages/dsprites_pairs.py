"""Stage dsprites_pairs: the pair index (groups.parquet), one column per latent partition."""

from gatedvae.dsprites.prepare import pairs
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(pairs, __doc__, arg("--factors"), arg("--out", help="groups.parquet"))
