"""Duplicate entries in a sweep's lists: DVC runs such a matrix member once, so a repeat must be
an error naming the key, never a member counted twice."""

import pytest

from gatedvae import params as P
from test_unit_dsprites_aggregate import PAPER, aggregate, make_runs, outputs, sweep_params
from test_unit_studies_summary import studies_params, summarise_studies, write_members


def test_study_summary_refuses_a_repeated_seed(tmp_path):
    write_members(tmp_path / "m", studies_params(beta_seeds=(0,)))
    params = studies_params(beta_seeds=(0, 0))
    with pytest.raises(P.ParamError, match="studies.beta_sweep.seeds"):
        summarise_studies(params, members_dir=str(tmp_path / "m"), tables=str(tmp_path / "t"),
                          figures=str(tmp_path / "f"))
    assert not (tmp_path / "t").exists()


def test_dsprites_aggregate_duplicate_seed_is_a_param_error(tmp_path):
    runs = make_runs(tmp_path)
    params = sweep_params()
    params["dsprites"]["sweep"]["seeds"] = [0, 0]
    with pytest.raises(P.ParamError, match="dsprites.sweep.seeds"):
        aggregate(params, runs=str(runs), paper=str(PAPER), **outputs(tmp_path))
