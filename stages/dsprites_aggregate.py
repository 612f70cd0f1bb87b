"""Stage dsprites_aggregate: the sweep over seeds into the metrics JSON and Table I beside the paper's."""

from gatedvae.dsprites.aggregate import aggregate
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(aggregate, __doc__, arg("--runs", help="folder of the runs"), arg("--paper", help="the paper's Table I CSV"),
        arg("--metrics"), arg("--table"), arg("--curves"))
