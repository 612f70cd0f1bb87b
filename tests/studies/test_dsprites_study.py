"""Unit tests of gatedvae.studies.dsprites: one study member's config and its metrics row."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from gatedvae import params as P
from gatedvae.dsprites import config
from gatedvae.studies.dsprites import member_config, member_summary

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def params():
    return P.load(ROOT / "params.yaml")


def changed(a, b) -> dict:
    """field -> (a's, b's) for every TrainConfig field that differs."""
    da, db = dataclasses.asdict(a), dataclasses.asdict(b)
    return {k: (da[k], db[k]) for k in da if da[k] != db[k]}


def base_config(params, gating="gated", seed=0):
    return config.train_config(copy.deepcopy(params), model="beta_vae", gating=gating, seed=seed)


def studies_epochs(params):
    return params["studies"]["epochs"]


# --- member_config ------------------------------------------------------------------------------

@pytest.mark.parametrize("gating", ["gated", "ungated"])
def test_beta_sweep_sets_beta_and_epochs_only(params, gating):
    base = base_config(params, gating=gating, seed=3)
    beta = 2.5 if base.objective_params["beta"] != 2.5 else 3.5
    cfg = member_config(params, study="beta_sweep", value=beta, gating=gating, seed=3)
    expected_epochs = studies_epochs(params)
    diff = changed(base, cfg)
    assert diff.pop("objective_params") == (base.objective_params, {**base.objective_params, "beta": beta})
    if expected_epochs != base.epochs:
        assert diff.pop("epochs") == (base.epochs, expected_epochs)
    assert diff == {}
    assert cfg.epochs == expected_epochs
    assert cfg.objective == "beta_vae"
    assert cfg.gated is (gating == "gated")
    assert cfg.seed == 3


def test_beta_sweep_epochs_follow_studies_epochs(params):
    params["studies"]["epochs"] = 11
    params["dsprites"]["train"]["epochs"] = 5
    cfg = member_config(params, study="beta_sweep", value=1.0, gating="gated", seed=0)
    assert cfg.epochs == 11


def test_beta_zero_is_allowed(params):
    cfg = member_config(params, study="beta_sweep", value=0.0, gating="ungated", seed=0)
    assert cfg.objective_params["beta"] == 0.0


def test_beta_sweep_does_not_change_the_params(params):
    before = copy.deepcopy(dict(params))
    member_config(params, study="beta_sweep", value=9.0, gating="gated", seed=0)
    assert dict(params) == before


def test_noise_sets_target_noise_and_epochs_only(params):
    base = base_config(params, seed=1)
    fraction = 0.25 if base.target_noise != 0.25 else 0.75
    params["studies"]["epochs"] = base.epochs + 3  # so that epochs change for certain
    cfg = member_config(params, study="noise", value=fraction, gating="gated", seed=1)
    assert changed(base, cfg) == {"target_noise": (base.target_noise, fraction),
                                  "epochs": (base.epochs, base.epochs + 3)}


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_noise_bounds_are_inclusive(params, fraction):
    assert member_config(params, study="noise", value=fraction, gating="gated", seed=0).target_noise == fraction


@pytest.mark.parametrize("fraction", [-0.01, 1.01])
def test_noise_outside_0_1_is_a_param_error_naming_the_key(params, fraction):
    with pytest.raises(P.ParamError, match=r"`studies\.noise\.fractions` must lie in \[0, 1\]"):
        member_config(params, study="noise", value=fraction, gating="gated", seed=0)


def test_negative_beta_is_a_param_error_naming_the_key(params):
    with pytest.raises(P.ParamError, match=r"`studies\.beta_sweep\.betas` must be >= 0, got -1\.0"):
        member_config(params, study="beta_sweep", value=-1.0, gating="gated", seed=0)


def test_unknown_study_is_a_param_error(params):
    with pytest.raises(P.ParamError, match="study"):
        member_config(params, study="lr_sweep", value=1.0, gating="gated", seed=0)


@pytest.mark.parametrize("epochs", [0, 1.5, "two"])
def test_bad_studies_epochs_is_a_param_error_naming_the_key(params, epochs):
    params["studies"]["epochs"] = epochs
    with pytest.raises(P.ParamError, match=r"`studies\.epochs`"):
        member_config(params, study="noise", value=0.1, gating="gated", seed=0)


def test_member_config_reads_only_keys_the_study_stages_declare(params):
    # dvc.yaml's dsprites_beta_sweep / dsprites_noise_study declare these params (the rest of what
    # the member stage reads is dsprites.evaluate and dsprites.pairs, outside member_config)
    declared = ("dsprites.net", "dsprites.train", "dsprites.objectives.beta_vae", "studies.epochs")
    for study, value in (("beta_sweep", 1.0), ("noise", 0.5)):
        member_config(params, study=study, value=value, gating="gated", seed=0)
    assert "studies.epochs" in params.read
    undeclared = sorted(k for k in params.read if not any(k == d or k.startswith(d + ".") for d in declared))
    assert undeclared == []


# --- member_summary ------------------------------------------------------------------------------

def eval_metrics() -> dict:
    """One run's metrics (the layout gatedvae.evaluation writes), every leaf a value of its own."""
    def dci(base):
        return {
            "disentanglement": {"avg": base + 0.01, "per_code": [base + 0.101, base + 0.102],
                                "code_weight": [base + 0.103, base + 0.104]},
            "completeness": {"avg": base + 0.02, "per_factor": {"shape": base + 0.105}},
            "informativeness": {"avg": base + 0.03, "per_factor": {"shape": base + 0.106}},
            "importance": [[base + 0.107]],
            "placement": {"mean": base + 0.04, "per_factor": {"shape": base + 0.108}, "n_scored": 5},
        }

    return {
        "lasso": dci(1.0), "rf": dci(2.0),
        "factor_vae_metric": {"train_accuracy": 3.1, "eval_accuracy": 3.2},
        "beta_vae_metric": {"train_accuracy": 4.1, "eval_accuracy": 4.2},
        "mig": {"mig": 5.1, "per_factor": {"shape": 5.2}},
        "sap": {"sap": 5.3, "per_factor": {"shape": 5.4}},
        "modularity_explicitness": {"modularity": 5.5, "explicitness_train": 5.6, "explicitness_test": 5.7},
        "test": {"recon_bce": 6.1, "recon_sampled": 6.2, "kl": 6.3, "elbo": 6.4},
        "test_before_finetune": {"recon_bce": 7.1, "recon_sampled": 7.2, "kl": 7.3, "elbo": 7.4},
    }


def test_member_summary_picks_each_leaf_from_its_place():
    assert member_summary(eval_metrics()) == {
        "lasso_disentanglement": 1.01, "lasso_completeness": 1.02, "lasso_informativeness": 1.03,
        "lasso_placement": 1.04,
        "rf_disentanglement": 2.01, "rf_completeness": 2.02, "rf_informativeness": 2.03, "rf_placement": 2.04,
        "beta_vae_metric": 4.2, "factor_vae_metric": 3.2, "mig": 5.1,
        "sap": 5.3, "modularity": 5.5, "explicitness": 5.7,
        "test_recon_bce": 6.1, "test_elbo": 6.4,
    }


def test_member_summary_row_has_the_columns_the_study_figures_plot():
    from gatedvae.studies.summary import SERIES

    row = member_summary(eval_metrics())
    for columns, _ in SERIES.values():
        assert set(columns) <= set(row)
