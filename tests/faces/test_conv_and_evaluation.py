"""The conv net, the faces training config, traversals and the placement summary."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from gatedvae.evaluation.settings import EvalSettings
from gatedvae.faces.config import train_config
from gatedvae.training.infer import traverse
from gatedvae.faces.scoring import factor_scores, most_active_dims
from gatedvae.training.models import build_net
from gatedvae.params import ParamError

PARAMS = yaml.safe_load(open("params.yaml"))


@pytest.mark.parametrize("size", [32, 64])
def test_conv_net_shapes(size):
    torch.manual_seed(0)
    net = build_net("conv", latent_dim=24, image_size=size, hidden=32)
    x = torch.rand(3, 1, size, size)
    mu, logvar = net.encode(x)
    assert mu.shape == logvar.shape == (3, 24)
    assert net.decode(mu).shape == (3, 1, size, size)
    # every parameter that shapes q(z|x) sits in the encoder (decoder fine-tuning freezes it)
    n_encoder = sum(p.numel() for p in net.encoder.parameters())
    n_decoder = sum(p.numel() for p in net.decoder.parameters())
    assert n_encoder + n_decoder == sum(p.numel() for p in net.parameters())


def test_conv_net_rejects_odd_sizes():
    with pytest.raises(ValueError, match="image_size must be 4 \\* 2\\^k"):
        build_net("conv", latent_dim=4, image_size=48, hidden=8)


def test_train_config_from_params():
    cfg = train_config(PARAMS, gating="gated", image_size=64)
    assert cfg.net == "conv" and cfg.partitions == [6, 18] and cfg.latent_dim == 24
    assert cfg.pixel_max == 255 and cfg.gated and cfg.objective == "beta_vae"
    assert not train_config(PARAMS, gating="ungated", image_size=64).gated


@pytest.mark.parametrize("key,value,message", [
    ("partition_sizes", [6, 18, 2], "faces.train.partition_sizes` must be two integers"),
    ("partition_sizes", [0, 18], "faces.train.partition_sizes` every partition needs at least one dim"),
    ("objective", "vae", "faces.train.objective` must be one of"),
    ("lr", 0, "faces.train.lr` must be > 0"),
])
def test_train_config_errors_name_the_key(key, value, message):
    params = copy.deepcopy(PARAMS)
    params["faces"]["train"][key] = value
    with pytest.raises(ParamError, match=message.replace("[", "\\[")):
        train_config(params, gating="gated", image_size=64)


def test_traversal_cells_decode_the_set_values():
    torch.manual_seed(1)
    net = build_net("conv", latent_dim=6, image_size=32, hidden=16).eval()
    image = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    values = np.array([-2.0, 0.0, 2.0])
    cells = traverse(net, image, [1, 4], values, pixel_max=255, device="cpu")
    assert cells.shape == (2, 3, 32, 32)
    with torch.no_grad():
        mu = net.encode(torch.from_numpy(image)[None, None].float() / 255)[0][0]
        z = mu.clone()
        z[4] = 2.0
        expected = torch.sigmoid(net.decode(z[None]))[0, 0].numpy()
    np.testing.assert_allclose(cells[1, 2], expected, atol=1e-6)
    assert not np.allclose(cells[0, 0], cells[0, 2])


def test_most_active_dims():
    codes = np.zeros((50, 8))
    codes[:, 2] = np.linspace(-3, 3, 50)
    codes[:, 5] = np.linspace(-1, 1, 50)
    codes[:, 7] = np.linspace(-2, 2, 50)
    assert most_active_dims(codes, 0, 6, 2) == [2, 5]
    assert most_active_dims(codes, 6, 8, 8) == [6, 7]


@pytest.mark.parametrize("swap", [False, True])
def test_placement_known_answer(swap):
    rng = np.random.default_rng(0)
    n = 600
    truth = rng.uniform(-1, 1, (n, 6))             # yaw, pitch, smile, mouth_open, brow, eye_closure
    codes = rng.normal(0, 0.01, (n, 24))
    pose_dims, expr_dims = [0, 1], [6, 7, 8, 9]
    if swap:
        pose_dims, expr_dims = [10, 11], [0, 1, 2, 3]
    codes[:, pose_dims] += truth[:, :2]
    codes[:, expr_dims] += truth[:, 2:]
    summary, details, importance = factor_scores(
        codes[:400], truth[:400], codes[400:], truth[400:], partition_sizes=[6, 18],
        settings=EvalSettings(lasso_alpha=0.02, rf_trees=10, rf_depth=12, seed=0))["lasso"]
    expected = 0.0 if swap else 1.0
    assert details["groups"]["pose"] == pytest.approx(expected, abs=0.02)
    assert details["groups"]["expression"] == pytest.approx(expected, abs=0.02)
    assert summary["informativeness"] < 0.2 and importance.shape == (24, 6)


def test_pair_variance_explained_known_answers():
    from gatedvae.faces.scoring import pair_variance_explained
    rng = np.random.default_rng(0)
    # groups that fix the image up to small noise explain almost all the variance
    levels = np.array([20, 120, 220])
    labels = np.repeat(np.arange(3), 40)
    images = (levels[labels][:, None, None] + rng.integers(-3, 4, (120, 3, 3))).astype(np.uint8)
    assert pair_variance_explained(images, labels, chunk=7) > 0.99
    # random groups of pure noise explain nothing (omega squared corrects for group size)
    noise = rng.integers(0, 256, (2000, 4, 4), dtype=np.uint8)
    assert abs(pair_variance_explained(noise, rng.integers(0, 200, 2000))) < 0.02
    # a hand-checked case: 1 pixel, groups {0, 2} and {4, 6}: SST 20, SSB 16, MSW 2, k 2
    tiny = np.array([0, 2, 4, 6], dtype=np.uint8).reshape(4, 1, 1)
    assert pair_variance_explained(tiny, np.array([0, 0, 1, 1])) == pytest.approx((16 - 2) / (20 + 2))
    with pytest.raises(ValueError, match="between 2 and N - 1 groups"):
        pair_variance_explained(tiny, np.zeros(4))


@pytest.mark.parametrize("path,value,message", [
    ("acquire.source", "web", "faces.acquire.source` must be one of"),
    ("acquire.synthetic.n_imgs", 5, "unknown key `faces.acquire.synthetic.n_imgs`; did you mean `faces.acquire.synthetic.n_images`"),
    ("align.image_set", "cropped", "faces.align.image_set` must be one of"),
    ("features.extractor", "dlib", "faces.features.extractor` must be one of"),
    ("cluster.expression_aus", ["AU99_r"], "faces.cluster.expression_aus` must be `all` or a list"),
    ("evaluate.n_train", 9999, "faces.evaluate.n_train` \\+ faces.evaluate.n_test \\(9999 \\+ 2000\\) exceed"),
    ("train.batch_size", 20000, "faces.train.batch_size` \\(20000\\) is larger than the data"),
])
def test_check_faces_names_the_key_before_any_work(path, value, message):
    from gatedvae.faces.config import check_faces
    check_faces(PARAMS)  # the committed params are valid
    params = copy.deepcopy(PARAMS)
    node = params["faces"]
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    with pytest.raises(ParamError, match=message):
        check_faces(params)


def test_variance_explained_known_answers():
    from gatedvae.faces.scoring import variance_explained

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 8, 8)).astype(np.uint8)
    x = images / 255.0
    assert variance_explained(images, x) == pytest.approx(1.0)
    assert variance_explained(images, np.broadcast_to(x.mean(axis=0), x.shape)) == pytest.approx(0.0)
    # halfway to the mean face: the error is a quarter of the variance
    halfway = (x + x.mean(axis=0)) / 2
    assert variance_explained(images, halfway) == pytest.approx(0.75)


def test_extractor_labels_match_images_by_name_and_leave_out_what_cannot_score(tmp_path):
    """Weak labels: the extractor's pitch, yaw and clustered AUs, matched to the aligned images by
    name (the features file in another order), failed images not usable, unestimated and
    constant AU columns left out with the reason."""
    from gatedvae.faces import features
    from gatedvae.faces.scoring import extractor_labels

    ids = [f"{i:06d}.jpg" for i in range(1, 7)]
    frame = features.empty(ids[::-1], "celeba_annotations")   # reversed: matched by name
    ok = np.array([True, True, False, True, True, True])
    frame.loc[ok, "success"] = True
    frame.loc[ok, "confidence"] = 1.0
    frame.loc[ok, "pitch"] = np.arange(ok.sum()) * 0.1
    frame.loc[ok, "yaw"] = -np.arange(ok.sum()) * 0.1
    frame.loc[ok, "AU12_r"] = [0.0, 1.0, 2.0, 3.0, 4.0]
    frame.loc[ok, "AU25_r"] = 5.0                               # constant
    features.write(tmp_path / "features.parquet", frame)
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    pd.DataFrame({"image_id": ids}).to_parquet(aligned / "index.parquet", index=False)
    labels = extractor_labels(tmp_path / "features.parquet", aligned, ["AU12_r", "AU25_r", "AU45_r"])
    assert labels.source == "celeba_annotations"
    assert labels.names == ["pitch", "yaw", "AU12_r"]
    assert labels.groups == {"pose": ["pitch", "yaw"], "expression": ["AU12_r"]}
    assert labels.dropped == {"AU25_r": "constant over these images", "AU45_r": "not estimated by this extractor"}
    # aligned order is the reverse of the file's: image 000004.jpg (row 3) is the failed one
    assert labels.usable.tolist() == [True, True, True, False, True, True]
    np.testing.assert_allclose(labels.values[labels.usable, 2], [4.0, 3.0, 2.0, 1.0, 0.0])


def test_factor_scores_with_named_label_groups():
    """The same known-answer placement through custom label names and groups (weak labels)."""
    rng = np.random.default_rng(0)
    n = 600
    labels = rng.uniform(-1, 1, (n, 3))             # pitch, yaw, AU12_r
    codes = rng.normal(0, 0.01, (n, 24))
    codes[:, [0, 1]] += labels[:, :2]
    codes[:, 8] += labels[:, 2]
    summary, details, importance = factor_scores(
        codes[:400], labels[:400], codes[400:], labels[400:], partition_sizes=[6, 18],
        settings=EvalSettings(lasso_alpha=0.02, rf_trees=10, rf_depth=12, seed=0),
        names=["pitch", "yaw", "AU12_r"], groups={"pose": ["pitch", "yaw"], "expression": ["AU12_r"]})["lasso"]
    assert details["groups"] == pytest.approx({"pose": 1.0, "expression": 1.0}, abs=0.02)
    assert importance.shape == (24, 3)
    with pytest.raises(ValueError, match="must list each group's members in order"):
        factor_scores(codes[:400], labels[:400], codes[400:], labels[400:], partition_sizes=[6, 18],
                      settings=EvalSettings(), names=["yaw", "pitch", "AU12_r"],
                      groups={"pose": ["pitch", "yaw"], "expression": ["AU12_r"]})
