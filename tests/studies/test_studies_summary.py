"""Unit tests of gatedvae.studies.summary: means and stds over seeds, the member keys the params
ask for, and the tables and figures made from hand-written member files."""

from __future__ import annotations

import json
import math
from itertools import product
from pathlib import Path

import pandas as pd
import pytest

from gatedvae import params as P
from gatedvae.errors import StageError
from gatedvae.studies.summary import curve_summary, members, summarise, summarise_studies

REFERENCE = Path(__file__).resolve().parents[2] / "reference"
PAPER = {"paper": str(REFERENCE / "paper_table1.csv"),
         "paper_per_factor": str(REFERENCE / "paper_table2_informativeness_per_factor.csv")}


def rows(study, entries):
    """entries: (value, gating, seed, {metric: number}) -> member rows as the stages write them."""
    return pd.DataFrame([{"study": study, "value": v, "gating": g, "seed": s, "images_per_second": 1000.0 + s,
                          **m} for v, g, s, m in entries])


# --- summarise ------------------------------------------------------------------------------------

def test_summarise_mean_and_sample_std_over_seeds():
    frame = rows("beta_sweep", [
        (1.0, "gated", 0, {"rf_disentanglement": 0.2, "test_recon_bce": 30.0}),
        (1.0, "gated", 1, {"rf_disentanglement": 0.4, "test_recon_bce": 34.0}),
        (1.0, "gated", 2, {"rf_disentanglement": 0.9, "test_recon_bce": 35.0}),
        (1.0, "ungated", 0, {"rf_disentanglement": 0.1, "test_recon_bce": 20.0}),
        (1.0, "ungated", 1, {"rf_disentanglement": 0.3, "test_recon_bce": 22.0}),
        (4.0, "gated", 0, {"rf_disentanglement": 0.7, "test_recon_bce": 50.0}),
    ])
    out = summarise(frame, "beta")
    assert list(out.columns) == ["beta", "gating", "rf_disentanglement_mean", "test_recon_bce_mean",
                                 "rf_disentanglement_std", "test_recon_bce_std", "n_seeds"]
    assert out[["beta", "gating"]].values.tolist() == [[1.0, "gated"], [1.0, "ungated"], [4.0, "gated"]]
    by = out.set_index(["beta", "gating"])

    # three seeds: 0.2, 0.4, 0.9 -> mean 0.5, deviations -0.3, -0.1, 0.4 -> var 0.26 / 2 = 0.13
    g = by.loc[(1.0, "gated")]
    assert g["rf_disentanglement_mean"] == pytest.approx(0.5)
    assert g["rf_disentanglement_std"] == pytest.approx(math.sqrt(0.13))
    # 30, 34, 35 -> mean 33, deviations -3, 1, 2 -> var 14 / 2 = 7
    assert g["test_recon_bce_mean"] == pytest.approx(33.0)
    assert g["test_recon_bce_std"] == pytest.approx(math.sqrt(7.0))
    assert g["n_seeds"] == 3

    # two seeds: 0.1, 0.3 -> mean 0.2, std |0.1 - 0.3| / sqrt(2)
    u = by.loc[(1.0, "ungated")]
    assert u["rf_disentanglement_mean"] == pytest.approx(0.2)
    assert u["rf_disentanglement_std"] == pytest.approx(0.2 / math.sqrt(2))
    assert u["test_recon_bce_std"] == pytest.approx(2.0 / math.sqrt(2))
    assert u["n_seeds"] == 2

    # one seed: its value, std 0 (not NaN)
    one = by.loc[(4.0, "gated")]
    assert one["rf_disentanglement_mean"] == pytest.approx(0.7)
    assert one["rf_disentanglement_std"] == 0.0
    assert one["test_recon_bce_std"] == 0.0
    assert one["n_seeds"] == 1


def test_summarise_leaves_out_the_bookkeeping_columns():
    out = summarise(rows("noise", [(0.5, "gated", 0, {"mig": 0.1})]), "noise_fraction")
    for column in ("study", "value", "seed", "images_per_second"):
        assert not any(c.startswith(column) for c in out.columns), column
    assert list(out.columns) == ["noise_fraction", "gating", "mig_mean", "mig_std", "n_seeds"]


def test_summarise_does_not_mix_values_or_gatings():
    frame = rows("beta_sweep", [
        (0.0, "gated", 0, {"m": 1.0}), (0.0, "ungated", 0, {"m": 10.0}),
        (1.0, "gated", 0, {"m": 100.0}), (1.0, "ungated", 0, {"m": 1000.0}),
    ])
    by = summarise(frame, "beta").set_index(["beta", "gating"])["m_mean"]
    assert by.to_dict() == {(0.0, "gated"): 1.0, (0.0, "ungated"): 10.0,
                            (1.0, "gated"): 100.0, (1.0, "ungated"): 1000.0}


# --- members ---------------------------------------------------------------------------------------

def studies_params(betas=(0.0, 2.0), beta_seeds=(0, 1), fractions=(0.0, 0.5), noise_seeds=(0,),
                   counts=(4, 16), face_seeds=(0,), curve_seeds=(0, 1)) -> P.Params:
    return P.Params({"studies": {
        "epochs": 1,
        "beta_sweep": {"betas": list(betas), "seeds": list(beta_seeds)},
        "noise": {"fractions": list(fractions), "seeds": list(noise_seeds)},
        "faces_clusters": {"counts": list(counts), "seeds": list(face_seeds), "epochs": 1},
        "curve": {"epochs": [1, 3], "hidden": 16, "seeds": list(curve_seeds)},
    }})


def test_members_lists_exactly_the_matrix_keys():
    got = members(studies_params())
    assert got == {
        "beta_sweep": ["0.0-gated-0", "0.0-gated-1", "0.0-ungated-0", "0.0-ungated-1",
                       "2.0-gated-0", "2.0-gated-1", "2.0-ungated-0", "2.0-ungated-1"],
        "noise": ["0.0-0", "0.5-0"],
        "faces_clusters": ["4-0", "16-0", "ungated-0"],
        "curve": ["gated-0", "gated-1", "ungated-0", "ungated-1"],
    }


def test_members_with_two_face_seeds_has_a_baseline_per_seed():
    got = members(studies_params(counts=(8,), face_seeds=(3, 5)))
    assert got["faces_clusters"] == ["8-3", "8-5", "ungated-3", "ungated-5"]


def test_members_keys_are_dvc_matrix_keys():
    """DVC names a matrix member by joining its values' to_str with '-'; floats as Python does."""
    to_str = pytest.importorskip("dvc.parsing.interpolate").to_str
    betas, seeds = [0.0, 0.25, 1e-05, 3], [0, 7]
    got = members(studies_params(betas=betas, beta_seeds=seeds, fractions=[0.1, 1.0], noise_seeds=[2]))
    assert got["beta_sweep"] == ["-".join(map(to_str, c)) for c in product(betas, ["gated", "ungated"], seeds)]
    assert got["noise"] == ["-".join(map(to_str, c)) for c in product([0.1, 1.0], [2])]
    assert "1e-05-gated-7" in got["beta_sweep"]


def test_members_records_the_keys_it_reads():
    params = studies_params()
    members(params)
    assert params.read == {"studies.beta_sweep.betas", "studies.beta_sweep.seeds", "studies.noise.fractions",
                           "studies.noise.seeds", "studies.faces_clusters.counts", "studies.faces_clusters.seeds",
                           "studies.curve.seeds"}


def test_members_missing_key_is_a_param_error_naming_it():
    params = studies_params()
    del params["studies"]["noise"]["seeds"]
    with pytest.raises(P.ParamError, match="studies.noise.seeds"):
        members(params)


# --- summarise_studies -------------------------------------------------------------------------------

def dsprites_member(study, value, gating, seed, base):
    """A member row as gatedvae.studies.dsprites.member writes it; every metric = base + its offset."""
    names = ["lasso_disentanglement", "lasso_completeness", "lasso_informativeness", "lasso_placement",
             "rf_disentanglement", "rf_completeness", "rf_informativeness", "rf_placement",
             "beta_vae_metric", "factor_vae_metric", "mig", "test_recon_bce", "test_elbo"]
    return {"study": study, "value": value, "gating": gating, "seed": seed, "images_per_second": 900.0,
            **{name: base + i / 100 for i, name in enumerate(names)}}


def faces_member(clusters, gating, seed, base):
    """A member row as gatedvae.studies.faces_clusters.member writes it."""
    row = {"study": "faces_clusters", "value": clusters if gating == "gated" else 0, "gating": gating,
           "seed": seed}
    if gating == "gated":
        for part in ("pose", "expression"):
            row[f"{part}_clusters"] = clusters
            row[f"{part}_median_cluster_size"] = 10.0
            row[f"{part}_pair_variance_explained"] = base + 0.01
    row["images_per_second"] = 500.0
    for short in ("rf", "lasso"):
        row[f"{short}_disentanglement"] = base + 0.02
        row[f"{short}_informativeness"] = base + 0.03
        row[f"{short}_placement_pose"] = base + 0.04
        row[f"{short}_placement_expression"] = base + 0.05
        row[f"{short}_placement"] = base + 0.045
    row.update({"test_recon_bce": 100 + base, "test_kl": 10 + base, "test_elbo": -110 - base})
    return row


CURVE_METRICS = ([f"{reg}_nrmse_{f}" for reg in ("rf", "lasso")
                  for f in ("shape", "scale", "orientation", "pos_x", "pos_y")]
                 + [f"{reg}_{m}" for reg in ("rf", "lasso") for m in ("disentanglement", "completeness", "informativeness")]
                 + [f"kl_{p}" for p in ("shape", "scale", "orientation", "position")])


def curve_member(gating, seed, base, epochs=(1, 3), per_epoch=100):
    """A curve run as gatedvae.studies.curve.member writes it: metric i at epoch e = base + i/100 + e."""
    return {"gating": gating, "seed": seed, "hidden": 16, "images_per_epoch": per_epoch,
            "images_per_second": 10.0,
            "points": [{"epoch": e, "images_seen": e * per_epoch,
                        **{name: base + i / 100 + e for i, name in enumerate(CURVE_METRICS)}} for e in epochs]}


def test_curve_summary_means_over_seeds_per_gating_and_epoch():
    out = curve_summary([curve_member("gated", 0, 0.1), curve_member("gated", 1, 0.3),
                         curve_member("ungated", 0, 0.5)])
    assert out[["gating", "epoch", "images_seen"]].values.tolist() == [
        ["gated", 1, 100], ["gated", 3, 300], ["ungated", 1, 100], ["ungated", 3, 300]]
    by = out.set_index(["gating", "epoch"])
    # gated, epoch 3, rf_nrmse_shape (metric 0): seeds 0.1 + 3 and 0.3 + 3 -> mean 3.2, std 0.2 / sqrt 2
    assert by.loc[("gated", 3), "rf_nrmse_shape_mean"] == pytest.approx(3.2)
    assert by.loc[("gated", 3), "rf_nrmse_shape_std"] == pytest.approx(0.2 / math.sqrt(2))
    assert by.loc[("gated", 3), "n_seeds"] == 2
    # un-gated, epoch 1, rf_disentanglement (metric 10): one seed, std 0
    assert by.loc[("ungated", 1), "rf_disentanglement_mean"] == pytest.approx(0.5 + 0.10 + 1)
    assert by.loc[("ungated", 1), "rf_disentanglement_std"] == 0.0
    assert "seed_mean" not in out.columns and "images_seen_mean" not in out.columns


def write_members(root: Path, params) -> dict[tuple, float]:
    """Every member the params ask for, under root/<study>/<key>.json; returns the bases used."""
    bases = {}
    keys = members(params)
    for i, key in enumerate(keys["beta_sweep"]):
        beta, gating, seed = key.split("-")
        bases[("beta_sweep", key)] = base = 0.1 * (i + 1)
        row = dsprites_member("beta_sweep", float(beta), gating, int(seed), base)
        (root / "beta_sweep").mkdir(parents=True, exist_ok=True)
        (root / "beta_sweep" / f"{key}.json").write_text(json.dumps(row))
    for i, key in enumerate(keys["noise"]):
        fraction, seed = key.split("-")
        bases[("noise", key)] = base = 0.05 * (i + 1)
        (root / "noise").mkdir(parents=True, exist_ok=True)
        (root / "noise" / f"{key}.json").write_text(
            json.dumps(dsprites_member("noise", float(fraction), "gated", int(seed), base)))
    for i, key in enumerate(keys["faces_clusters"]):
        first, seed = key.split("-")
        gating = "ungated" if first == "ungated" else "gated"
        bases[("faces_clusters", key)] = base = 0.2 * (i + 1)
        (root / "faces_clusters").mkdir(parents=True, exist_ok=True)
        (root / "faces_clusters" / f"{key}.json").write_text(
            json.dumps(faces_member(None if gating == "ungated" else int(first), gating, int(seed), base)))
    for i, key in enumerate(keys["curve"]):
        gating, seed = key.split("-")
        bases[("curve", key)] = base = 0.3 * (i + 1)
        (root / "curve").mkdir(parents=True, exist_ok=True)
        (root / "curve" / f"{key}.json").write_text(json.dumps(curve_member(gating, int(seed), base)))
    return bases


@pytest.fixture(scope="module")
def summarised(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    params = studies_params()
    bases = write_members(root / "members", params)
    # a stale member from an older list: ignored
    (root / "members" / "beta_sweep" / "9.0-gated-0.json").write_text(
        json.dumps(dsprites_member("beta_sweep", 9.0, "gated", 0, 50.0)))
    summarise_studies(params, members_dir=str(root / "members"), tables=str(root / "tables"),
                      figures=str(root / "figures"), **PAPER)
    return root, bases


def test_summarise_studies_writes_three_tables(summarised):
    root, _ = summarised
    assert sorted(p.name for p in (root / "tables").iterdir()) == ["beta_sweep.csv", "curve.csv",
                                                                    "faces_clusters.csv", "noise.csv"]


def test_beta_sweep_table_has_hand_computed_numbers(summarised):
    root, bases = summarised
    table = pd.read_csv(root / "tables" / "beta_sweep.csv")
    assert list(table.columns[:3]) == ["run", "beta", "gating"]
    assert table[["beta", "gating"]].values.tolist() == [[0.0, "gated"], [0.0, "ungated"],
                                                         [2.0, "gated"], [2.0, "ungated"]]
    assert (table["run"] == table["gating"]).all()
    assert (table["n_seeds"] == 2).all()
    assert 9.0 not in table["beta"].tolist()
    row = table[(table["beta"] == 2.0) & (table["gating"] == "ungated")].iloc[0]
    b0, b1 = bases[("beta_sweep", "2.0-ungated-0")], bases[("beta_sweep", "2.0-ungated-1")]
    offset = 4 / 100  # rf_disentanglement is the fifth metric
    assert row["rf_disentanglement_mean"] == pytest.approx((b0 + b1) / 2 + offset)
    assert row["rf_disentanglement_std"] == pytest.approx(abs(b0 - b1) / math.sqrt(2))
    assert "images_per_second_mean" not in table.columns


def test_noise_table_one_seed_per_fraction(summarised):
    root, bases = summarised
    table = pd.read_csv(root / "tables" / "noise.csv")
    assert table["noise_fraction"].tolist() == [0.0, 0.5]
    assert table["gating"].tolist() == ["gated", "gated"]
    assert table["n_seeds"].tolist() == [1, 1]
    assert table["mig_std"].tolist() == [0.0, 0.0]
    assert table["mig_mean"].tolist() == pytest.approx([bases[("noise", "0.0-0")] + 0.10,
                                                        bases[("noise", "0.5-0")] + 0.10])


def test_faces_table_has_clusters_and_the_baseline(summarised):
    root, bases = summarised
    table = pd.read_csv(root / "tables" / "faces_clusters.csv")
    assert table[["clusters", "gating"]].values.tolist() == [[0, "ungated"], [4, "gated"], [16, "gated"]]
    by = table.set_index("gating")
    assert by.loc["ungated", "test_kl_mean"] == pytest.approx(10 + bases[("faces_clusters", "ungated-0")])
    gated = table[table["gating"] == "gated"].set_index("clusters")
    assert gated.loc[16, "pose_pair_variance_explained_mean"] == pytest.approx(
        bases[("faces_clusters", "16-0")] + 0.01)
    assert gated.loc[4, "rf_placement_expression_mean"] == pytest.approx(bases[("faces_clusters", "4-0")] + 0.05)


def test_summarise_studies_draws_every_figure(summarised):
    root, _ = summarised
    names = sorted(p.name for p in (root / "figures").iterdir())
    assert names == sorted([f"{s}_{f}.png" for s in ("beta_sweep", "noise")
                            for f in ("disentanglement", "placement", "reconstruction")]
                           + [f"faces_clusters_{f}.png" for f in ("placement", "pair_variance", "kl")]
                           + [f"curve_{f}.png" for f in ("nrmse_gated", "nrmse_ungated", "dci")])
    for name in names:
        assert (root / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curve_table_has_hand_computed_numbers(summarised):
    root, bases = summarised
    table = pd.read_csv(root / "tables" / "curve.csv")
    assert list(table.columns[:4]) == ["run", "gating", "epoch", "images_seen"]
    assert table[["gating", "images_seen"]].values.tolist() == [["gated", 100], ["gated", 300],
                                                                ["ungated", 100], ["ungated", 300]]
    row = table[(table["gating"] == "ungated") & (table["epoch"] == 3)].iloc[0]
    b0, b1 = bases[("curve", "ungated-0")], bases[("curve", "ungated-1")]
    assert row["kl_position_mean"] == pytest.approx((b0 + b1) / 2 + (len(CURVE_METRICS) - 1) / 100 + 3)
    assert row["n_seeds"] == 2


def test_missing_member_raises_stage_error_naming_it(tmp_path):
    params = studies_params()
    write_members(tmp_path / "members", params)
    (tmp_path / "members" / "noise" / "0.5-0.json").unlink()
    with pytest.raises(StageError) as info:
        summarise_studies(params, members_dir=str(tmp_path / "members"), tables=str(tmp_path / "tables"),
                          figures=str(tmp_path / "figures"), **PAPER)
    message = str(info.value)
    assert str(tmp_path / "members" / "noise" / "0.5-0.json") in message
    assert "0.0-0.json" not in message


def test_missing_baseline_member_is_named_too(tmp_path):
    params = studies_params()
    write_members(tmp_path / "members", params)
    (tmp_path / "members" / "faces_clusters" / "ungated-0.json").unlink()
    with pytest.raises(StageError, match="ungated-0.json"):
        summarise_studies(params, members_dir=str(tmp_path / "members"), tables=str(tmp_path / "tables"),
                          figures=str(tmp_path / "figures"), **PAPER)


def test_study_summary_refuses_a_repeated_seed(tmp_path):
    """DVC runs a repeated matrix member once: a repeat is an error naming the key, never a
    member counted twice."""
    write_members(tmp_path / "m", studies_params(beta_seeds=(0,)))
    params = studies_params(beta_seeds=(0, 0))
    with pytest.raises(P.ParamError, match="studies.beta_sweep.seeds"):
        summarise_studies(params, members_dir=str(tmp_path / "m"), tables=str(tmp_path / "t"),
                          figures=str(tmp_path / "f"), **PAPER)
    assert not (tmp_path / "t").exists()
