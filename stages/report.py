"""Stage report: report.md and a self-contained report.html, from the metrics and figures only."""

from dataclasses import fields

from gatedvae.report.build import Inputs, stage
from gatedvae.stage import arg, run

if __name__ == "__main__":
    run(stage, __doc__, *[arg("--" + field.name.replace("_", "-")) for field in fields(Inputs)],
        arg("--figures-out", help="the dSprites figures the report shows"), arg("--markdown"), arg("--html"),
        arg("--dvcfile", help="dvc.yaml: the timing table keeps only the stages it defines now"))
