"""gatedvae.studies.curve: the learning curve's config, and its points against separate trainings.

The known answer: the point at epoch e of the one curve run must equal, to the bit, a run trained for
e epochs and evaluated alone (the engine seeds each epoch by its index, so a longer run passes through
the shorter one's model); the curve costs one training, not one per point, and means the same."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from gatedvae import params as P
from gatedvae.dsprites import config, data, spec
from gatedvae.studies.curve import curve_config, member, point

ROOT = Path(__file__).resolve().parents[2]
N = 640


@pytest.fixture
def params():
    p = P.load(ROOT / "params.yaml")
    p["dsprites"]["acquire"]["n_images"] = N
    p["dsprites"]["train"]["batch_size"] = 64
    p["dsprites"]["evaluate"].update(n_train=300, n_test=200, rf_trees=3, rf_depth=4, gbt_n_train=0, gbt_n_test=0)
    p["studies"]["curve"] = {"epochs": [2, 1], "hidden": 24, "seeds": [0]}
    return p


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """N rendered dSprites images, their factors and pair index, as the pipeline writes them."""
    root = tmp_path_factory.mktemp("curve_data")
    classes = data.sample_classes(N, seed=3)
    factors = data.factors_frame(classes)
    np.save(root / "images.npy", data.render(classes))
    factors.to_parquet(root / "factors.parquet")
    params = P.load(ROOT / "params.yaml")
    from gatedvae.training.pairs import group_ids
    group_ids(factors, config.partitions(params)).to_parquet(root / "groups.parquet")
    return root


def test_curve_config_changes_only_width_and_budget(params):
    base = config.train_config(copy.deepcopy(params), model="beta_vae", gating="gated", seed=2)
    cfg = curve_config(params, gating="gated", seed=2)
    da, db = dataclasses.asdict(base), dataclasses.asdict(cfg)
    assert {k: db[k] for k in da if da[k] != db[k]} == {"hidden": 24, "epochs": 2}


def test_curve_epochs_must_be_distinct_positive_integers(params):
    params["studies"]["curve"]["epochs"] = [1, 1]
    with pytest.raises(P.ParamError, match="studies.curve.epochs"):
        curve_config(params, gating="gated", seed=0)
    params["studies"]["curve"]["epochs"] = [0, 2]
    with pytest.raises(P.ParamError, match="studies.curve.epochs"):
        curve_config(params, gating="gated", seed=0)


@pytest.mark.parametrize("gating", ["gated", "ungated"])
def test_each_point_equals_a_separate_training_of_that_length(params, dataset, tmp_path, monkeypatch, gating):
    from gatedvae import inputs
    from gatedvae.evaluation.evaluate import evaluate_model
    from gatedvae.training.fit import train

    monkeypatch.chdir(tmp_path)  # checkpoints/ go here
    out = tmp_path / "curve.json"
    member(params, gating=gating, seed=0, images=str(dataset / "images.npy"),
           factors=str(dataset / "factors.parquet"), groups=str(dataset / "groups.parquet"), out=str(out))
    written = json.loads(out.read_text())
    assert [p["epoch"] for p in written["points"]] == [1, 2]
    assert [p["images_seen"] for p in written["points"]] == [N, 2 * N]
    assert written["hidden"] == 24 and written["gating"] == gating

    images = inputs.images(str(dataset / "images.npy"))
    names = list(spec.FACTOR_NAMES)
    y = inputs.table(str(dataset / "factors.parquet"))[names].to_numpy()
    groups = inputs.table(str(dataset / "groups.parquet")).to_numpy() if gating == "gated" else None
    parts = list(config.partitions(params))
    for epochs, got in zip((1, 2), written["points"]):
        cfg = dataclasses.replace(curve_config(params, gating=gating, seed=0), epochs=epochs)
        alone = train(images, groups, cfg, checkpoint_dir=tmp_path / f"alone{epochs}", progress=False,
                      partition_names=parts)
        metrics, _ = evaluate_model(alone.model, images, y, pixel_max=cfg.pixel_max,
                                    partition_sizes=cfg.partitions,
                                    intended=config.intended_partition(config.partitions(params)),
                                    factor_names=names, settings=config.eval_settings(params),
                                    extra_metrics=False)
        expected = point(metrics, epoch=epochs, images_seen=epochs * N, row=alone.history[-1], partitions=parts)
        assert got == pytest.approx(expected, rel=0, abs=0), f"epoch {epochs}"
