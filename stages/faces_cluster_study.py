"""Stage faces_cluster_study / faces_cluster_baseline: one member of the faces supervision study
(gated with --clusters k per partition, or the un-gated baseline), trained and scored."""

from gatedvae.stage import arg, run
from gatedvae.studies.faces_clusters import member
from gatedvae.training.config import GATINGS

if __name__ == "__main__":
    run(member, __doc__, arg("--gating", choices=GATINGS), arg("--clusters", type=int, default=None),
        arg("--seed", type=int), arg("--images"), arg("--features", default=None, help="gated only"), arg("--raw"), arg("--aligned"),
        arg("--out", help="the member's metrics JSON"))
