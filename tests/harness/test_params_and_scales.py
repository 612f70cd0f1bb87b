"""Invalid params fail before any work, naming the params.yaml key; scales switch cleanly."""

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from gatedvae import params as P
from gatedvae.dsprites.config import check_dsprites, intended_partition, partitions, train_config
from gatedvae.params import ParamError
from gatedvae.scales import apply_scale, flatten

ROOT = Path(__file__).resolve().parents[2]


def test_committed_params_are_valid(params):
    check_dsprites(params)
    cfg = train_config(params, model="info_vae", gating="gated", seed=3)
    assert cfg.seed == 3 and cfg.gated and cfg.objective_params["mmd"] == 500.0


@pytest.mark.parametrize("edit,key", [
    (lambda p: p["net"].update(latent_dim=9), "dsprites.net.partition_sizes"),
    (lambda p: p["sweep"].update(models=["beta_vae", "vq_vae"]), "dsprites.sweep.models"),
    (lambda p: p["objectives"]["beta_vae"].update(beta=-4.0), "dsprites.objectives.beta_vae.beta"),
    (lambda p: p["objectives"]["dip_vae_ii"].update(lambda_od=-1), "dsprites.objectives.dip_vae_ii.lambda_od"),
    (lambda p: p["train"].update(batch_size=10**7), "dsprites.train.batch_size"),
    (lambda p: p["train"].update(lr=0), "dsprites.train.lr"),
    (lambda p: p["train"].update(partition_order="zigzag"), "dsprites.train.partition_order"),
    (lambda p: p["net"].update(partition_sizes=[4, 4]), "dsprites.net.partition_sizes"),
    (lambda p: p["pairs"]["partitions"].update(colour=["colour"]), "dsprites.pairs.partitions.colour"),
    (lambda p: p["evaluate"].update(n_train=10**7), "dsprites.evaluate.n_train"),
    (lambda p: p["sweep"].update(seeds=[]), "dsprites.sweep.seeds"),
])
def test_bad_values_name_their_key(params, edit, key):
    bad = copy.deepcopy(params)
    edit(bad["dsprites"])
    with pytest.raises(ParamError, match=f"`{key}`"):
        check_dsprites(bad)


def test_intended_partition_of_each_factor(params):
    assert intended_partition(partitions(params)) == [0, 1, 2, 3, 3]


@pytest.fixture
def project(tmp_path):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    return tmp_path


def test_every_scale_sets_the_same_keys():
    keys = {name: set(flatten(yaml.safe_load((ROOT / "configs/scales" / f"{name}.yaml").read_text())))
            for name in ("tiny", "default", "paper")}
    assert keys["tiny"] == keys["default"] == keys["paper"]


def test_committed_params_are_the_default_scale(project):
    before = (project / "params.yaml").read_text()
    apply_scale("default", project / "params.yaml", project / "configs/scales")
    assert (project / "params.yaml").read_text() == before


@pytest.mark.parametrize("scale", ["tiny", "paper"])
def test_scale_round_trip_keeps_text_byte_for_byte(project, scale):
    before = (project / "params.yaml").read_text()
    values = apply_scale(scale, project / "params.yaml", project / "configs/scales")
    changed = P.load(project / "params.yaml")
    for dotted, value in values.items():
        assert P.get(changed, dotted) == value
    check_dsprites(changed)
    apply_scale("default", project / "params.yaml", project / "configs/scales")
    assert (project / "params.yaml").read_text() == before


@pytest.mark.parametrize("written", [
    "    runs: [gated-faithful, gated-kl_warmup,\n           ungated-faithful]\n",  # a flow list wrapped
    "    runs:\n      - gated-faithful\n      - ungated-faithful   # block style\n",
])
def test_a_value_written_over_several_lines_is_replaced_whole(project, written):
    path = project / "params.yaml"
    text = path.read_text()
    line = next(ln for ln in text.splitlines(keepends=True) if ln.startswith("    runs: ["))
    path.write_text(text.replace(line, written, 1))
    apply_scale("tiny", path, project / "configs/scales")
    tiny = yaml.safe_load((project / "configs/scales/tiny.yaml").read_text())
    assert P.get(P.load(path), "faces.study.runs") == tiny["faces"]["study"]["runs"]
    assert P.get(P.load(path), "faces.study.seeds") == tiny["faces"]["study"]["seeds"]  # the next key kept


def test_a_scale_that_would_leave_params_unreadable_says_so_and_writes_nothing(project):
    path = project / "params.yaml"
    text = path.read_text()
    line = next(ln for ln in text.splitlines(keepends=True) if ln.startswith("    runs: ["))
    text = text.replace(line, "    runs: [gated-faithful,\n      # the un-gated baseline\n           ungated-faithful]\n", 1)
    path.write_text(text)
    with pytest.raises(ParamError, match="(?s)would leave it unreadable .* the file is unchanged"):
        apply_scale("tiny", path, project / "configs/scales")
    assert path.read_text() == text


def test_unknown_scale_lists_the_available_ones(project):
    with pytest.raises(ParamError, match="available: \\['default', 'paper', 'tiny'\\]"):
        apply_scale("huge", project / "params.yaml", project / "configs/scales")


def test_a_scale_never_sets_where_the_data_come_from(project):
    (project / "configs/scales/bad.yaml").write_text(
        "dsprites:\n  acquire: {n_images: 10, path: elsewhere.npz}\nfaces:\n  features: {extractor: openface}\n")
    with pytest.raises(ParamError, match="sets dsprites.acquire.path, faces.features.extractor: a scale "
                                         "sets budgets only"):
        apply_scale("bad", project / "params.yaml", project / "configs/scales")


def test_a_scale_asking_for_more_images_than_the_users_file_holds_takes_them_all(project):
    from dsprites_npz import write_official_npz

    from gatedvae.dsprites import data as D

    write_official_npz(project / "mine.npz", D.sample_classes(700, seed=0))
    text = (project / "params.yaml").read_text()
    text = text.replace("    source: generate ", "    source: path     ", 1)
    text = text.replace("    path: data/external/dsprites ", f"    path: {project / 'mine.npz'} ", 1)
    (project / "params.yaml").write_text(text)
    notes = []
    values = apply_scale("tiny", project / "params.yaml", project / "configs/scales", notes)
    assert values["dsprites.acquire.n_images"] == 0
    assert notes == [f"dsprites.acquire.n_images: the scale asks for 1,536 but {project / 'mine.npz'} "
                     "holds 700; set to 0 (all of them)"]
    params = P.load(project / "params.yaml")
    assert P.get(params, "dsprites.acquire.source") == "path"
    assert P.get(params, "dsprites.acquire.path") == str(project / "mine.npz")
