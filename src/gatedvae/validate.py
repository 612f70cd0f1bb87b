"""The whole of params.yaml checked at once: the schema's keys (gatedvae.schema), then each
section's values by its own rules (dSprites, studies, faces). The `check_params` stage runs this
first in every `dvc repro`, and every other stage depends on its output, so a refused value stops
the run before DVC has deleted any stage's outputs. No torch import.
"""

from __future__ import annotations

from gatedvae.atomic import save_text
from gatedvae.dsprites.config import check_dsprites
from gatedvae.faces import config as faces
from gatedvae.params import ParamError, get, unrecorded
from gatedvae.schema import check_keys
from gatedvae.studies.config import check_studies
from gatedvae.threads import threads_setting

CHECKED = "params.yaml passed gatedvae.validate.check_params\n"


def check_params(params: dict) -> None:
    with unrecorded(params):
        check_keys(params, file=str(getattr(params, "path", "params.yaml")))
        threads_setting(params)
        check_dsprites(params)
        check_studies(params)
        faces.check_faces(params)
        check_study_budgets(params)


def check_study_budgets(params: dict) -> None:
    """The faces cluster study trains the main gated recipe for its own epoch count. (A rule
    across two sections, studies and faces, so it lives here rather than in either.)"""
    run = faces.main_runs(params)["gated"]
    cfg = faces.train_config(params, gating="gated", image_size=faces.align_settings(params).size,
                             recipe=faces.parse_run(params, run)[1])
    cfg.epochs = get(params, "studies.faces_clusters.epochs")
    for field_name, problem in cfg.problems():
        raise ParamError(f"params.yaml: `studies.faces_clusters.epochs` ({cfg.epochs}) does not suit the "
                         f"main gated run {run!r}: {field_name} {problem}")


def write_checked(params: dict, out: str) -> None:
    """The check stage: validate, then write a file whose bytes never change while params are
    valid (so the stages that depend on it do not rerun because it ran)."""
    check_params(params)
    save_text(out, CHECKED)
