"""The faces recipes in params.yaml: runs, recipes and main runs are checked, and every mistake
names the key to fix; a recipe's remedies reach the TrainConfig."""

import copy
from pathlib import Path

import pytest
import yaml

from gatedvae.faces import config
from gatedvae.params import ParamError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def committed():
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_committed_study_is_valid(committed):
    config.check_faces(committed)
    runs = config.study_runs(committed)
    assert "gated-faithful" in runs and any(r.startswith("ungated-") for r in runs)
    assert len(config.study_seeds(committed)) >= 1
    assert set(config.main_runs(committed)) == {"gated", "ungated"}
    # the main runs: at least 2 seeds (an interval for gated - un-gated), 5x the study's images
    assert len(config.main_seeds(committed)) >= 2
    assert config.main_epochs(committed) >= 5 * committed["faces"]["train"]["epochs"]
    cfg = config.main_train_config(committed, gating="gated", image_size=64, seed=1)
    assert cfg.epochs == config.main_epochs(committed) and cfg.seed == 1 and cfg.gated
    assert cfg.remedies == config.train_config(committed, gating="gated", image_size=64,
                                               recipe="self_target_warmup").remedies


def test_a_faces_baseline_is_the_faithful_preset_with_the_pair_method(committed):
    assert config.baselines(committed) == ["ada_gvae", "group_gvae"]
    preset = config.train_config(committed, gating="ungated", image_size=64)
    cfg = config.baseline_train_config(committed, method="group_gvae", image_size=64, seed=1)
    assert cfg.objective == "group_gvae" and cfg.objective_params == preset.objective_params == {"beta": 1.0}
    assert not cfg.gated and cfg.remedies == {} and cfg.seed == 1
    assert cfg.epochs == config.main_epochs(committed)
    same = {k: v for k, v in vars(cfg).items() if k not in ("objective", "epochs", "seed")}
    assert same == {k: v for k, v in vars(preset).items() if k not in ("objective", "epochs", "seed")}
    assert config.parse_baseline(config.baseline_run("ada_gvae")) == "ada_gvae"
    assert config.parse_baseline("gated-faithful") is None


def test_a_faces_baseline_needs_the_beta_vae_objective(committed):
    params = copy.deepcopy(committed)
    params["faces"]["train"]["objective"] = "info_vae"
    params["faces"]["train"]["objective_params"] = {}
    with pytest.raises(ParamError, match="faces.train.objective"):
        config.baseline_train_config(params, method="ada_gvae", image_size=64)


def test_faithful_preset_is_the_papers(committed):
    cfg = config.train_config(committed, gating="gated", image_size=64)
    assert cfg.objective == "beta_vae" and cfg.objective_params == {"beta": 1.0}
    assert cfg.partitions == [6, 18] and cfg.gate_regulariser and cfg.partition_order == "round_robin"
    assert cfg.target_noise == 0 and cfg.remedies == {}


def test_a_recipe_sets_its_remedies_with_partition_names_as_indices(committed):
    params = copy.deepcopy(committed)
    params["faces"]["recipes"]["mix"] = {"self_target_prob": 0.3, "self_target_partitions": ["pose", "expression"],
                                         "free_bits": [0.5, 1.0], "kl_warmup": 0.2}
    cfg = config.train_config(params, gating="gated", image_size=64, recipe="mix", seed=7)
    assert cfg.remedies == {"kl_warmup": 0.2, "self_target_prob": 0.3, "self_target_partitions": [0, 1],
                            "free_bits": [0.5, 1.0]}
    assert cfg.seed == 7


@pytest.mark.parametrize("edit, key", [
    (lambda f: f["study"].update(runs=["gated-nonesuch"]), "faces.study.runs"),
    (lambda f: f["study"].update(runs=["sideways-faithful"]), "faces.study.runs"),
    (lambda f: f["study"].update(seeds=[0, 0]), "faces.study.seeds"),
    (lambda f: f["main_runs"].update(runs=["gated-faithful", "gated-self_target"]), "faces.main_runs.runs"),
    (lambda f: f["main_runs"].update(runs=["gated-faithful"]), "faces.main_runs.runs"),
    (lambda f: f["main_runs"].update(seeds="0"), "faces.main_runs.seeds"),
    (lambda f: f["main_runs"].update(baselines=["beta_vae"]), "faces.main_runs.baselines"),
    (lambda f: f["main_runs"].update(baselines=["k_gvae"]), "faces.main_runs.baselines"),
    (lambda f: f["main_runs"].update(baselines=["ada_gvae", "ada_gvae"]), "faces.main_runs.baselines"),
    (lambda f: f["recipes"].update(free_bits={"free_bits": [1.0]}), "faces.recipes.free_bits.free_bits"),
    (lambda f: f["recipes"].update(self_target={"self_target_prob": 0.5}),
     "faces.recipes.self_target.self_target_partitions"),
    (lambda f: f["recipes"].update(kl_warmup={"warmup": 0.5}), "faces.recipes.kl_warmup"),
    (lambda f: f["recipes"].update(self_target={"self_target_prob": 0.5, "self_target_partitions": ["hair"]}),
     "faces.recipes.self_target.self_target_partitions"),
])
def test_mistakes_name_their_key(committed, edit, key):
    params = copy.deepcopy(committed)
    edit(params["faces"])
    with pytest.raises(ParamError, match=key.replace(".", r"\.")):
        config.check_faces(params)


def test_figure_seed_outside_the_main_runs_stops_evaluation_before_any_work(tmp_path):
    """faces_evaluate draws the main runs' figures from seed faces.train.seed of the main runs: a
    seed they never trained is an error naming the key, and nothing is written."""
    import numpy as np

    from gatedvae.bench.dag_images import scaled_params
    from gatedvae.faces.evaluate import evaluate

    params = scaled_params("tiny", ROOT / "params.yaml", ROOT / "configs/scales")
    params["faces"]["train"]["seed"] = 7
    np.save(tmp_path / "grey.npy", np.zeros((128, 64, 64), np.uint8))
    out = {name: str(tmp_path / "out" / name) for name in ("runs", "figures", "metrics", "table")}
    with pytest.raises(ParamError, match=r"faces.train.seed.*\(7\).*one of faces.main_runs.seeds \[0\]"):
        evaluate(params, images=str(tmp_path / "grey.npy"), groups=str(tmp_path / "missing.parquet"),
                 features=str(tmp_path / "missing_features.parquet"),
                 raw=str(tmp_path / "raw"), aligned=str(tmp_path / "aligned"), models=str(tmp_path / "models"),
                 **out)
    assert not (tmp_path / "out").exists()
