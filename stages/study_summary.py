"""Stage study_summary: the studies' tables (CSV, for `dvc plots`) and figures."""

from gatedvae.stage import arg, run
from gatedvae.studies.summary import summarise_studies

if __name__ == "__main__":
    run(summarise_studies, __doc__, arg("--members-dir", help="folder of <study>/<member>.json"),
        arg("--tables", help="folder of <study>.csv"), arg("--figures"),
        arg("--paper", help="the paper's Table I (CSV)"),
        arg("--paper-per-factor", help="the paper's NRMSE per factor, supplementary Table 2 (CSV)"))
