"""`gatedvae encode` and gatedvae.encode.load_model: a trained faces model's partition codes of
aligned images (or of photos aligned here from their landmarks), one row per image name, one
column per latent dim named after its partition; bad input gets an error, not wrong codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from PIL import Image

from gatedvae.encode import load_model
from gatedvae.errors import InputError
from gatedvae.faces import celeba
from gatedvae.faces.align import align_images
from gatedvae.faces.greyscale import to_greyscale
from gatedvae.faces.images import list_images
from gatedvae.faces.spec import PARTITIONS
from gatedvae.training.config import TrainConfig
from gatedvae.training.infer import encode_mean
from gatedvae.training.run import finetune_and_save, train_and_save

ALIGN = {"face_scale": 0.85, "min_eye_distance": 4.0, "max_residual": 0.5}
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def trained(tiny_celeba, tmp_path_factory):
    """A tiny faces model trained on the tiny synthetic set's aligned faces, and its fine-tuned
    decoder beside it (models/faces/<run>-<seed>/ as the pipeline writes them)."""
    root, _, _ = tiny_celeba
    tmp = tmp_path_factory.mktemp("encode")
    ids = list_images(root / "img_celeba").images
    points = celeba.read_landmarks(root / "list_landmarks_celeba.txt").reindex(ids).to_numpy(float)
    aligned = align_images(root / "img_celeba", ids, points, size=64, workers=1, progress=False, **ALIGN)
    grey = to_greyscale(aligned.images)
    folder = tmp / "aligned"
    folder.mkdir()
    np.save(folder / "images.npy", aligned.images)
    pd.DataFrame({"image_id": aligned.image_ids}).to_parquet(folder / "index.parquet", index=False)
    cfg = TrainConfig(net="conv", hidden=32, latent_dim=24, partitions=[6, 18], gated=False, epochs=1,
                      batch_size=16, lr=1e-3, pixel_max=255, image_size=64)
    model_dir = tmp / "models" / "gated-faithful-0"
    train_and_save(grey, None, cfg, model_out=model_dir / "model.pt", log_dir=tmp / "log",
                   partition_names=PARTITIONS)
    finetune_and_save(model_dir / "model.pt", grey, epochs=1, lr=1e-4, model_out=model_dir / "finetuned.pt",
                      log_dir=tmp / "log_ft")
    return {"dir": model_dir, "grey": grey, "aligned": folder, "ids": aligned.image_ids, "root": root, "tmp": tmp}


def test_partitions_are_named_from_the_training_record(trained):
    model = load_model(trained["dir"] / "model.pt")
    assert model.partition_names == ["pose", "expression"]
    assert model.partitions == {"pose": list(range(6)), "expression": list(range(6, 24))}
    assert model.columns[:2] == ["pose_0", "pose_1"] and model.columns[6] == "expression_0"
    # a fine-tuned decoder's record has no partition names: the model.pt beside it has them
    assert load_model(trained["dir"] / "finetuned.pt").partition_names == ["pose", "expression"]
    assert load_model(trained["dir"] / "model.pt", partition_names=["a", "b"]).columns[0] == "a_0"


def test_codes_are_the_models_posterior_means_matched_by_name(trained):
    model = load_model(trained["dir"] / "finetuned.pt")
    frame = model.codes(trained["grey"], trained["ids"])
    assert list(frame.columns) == ["image_id", *model.columns] and len(frame) == len(trained["ids"])
    want = encode_mean(model.net, trained["grey"], pixel_max=255)
    np.testing.assert_array_equal(frame[model.columns].to_numpy(), want)
    # RGB aligned crops are converted to greyscale as the pipeline converts them
    rgb = np.load(trained["aligned"] / "images.npy")
    np.testing.assert_array_equal(model.encode(rgb), want)


def _encode(*args):
    return subprocess.run([str(BIN / "gatedvae"), "encode", *map(str, args)], capture_output=True, text=True)


def test_command_on_a_npy_and_on_a_folder_of_aligned_images_agree(trained):
    out = trained["tmp"] / "codes_npy.parquet"
    done = _encode("--model", trained["dir"] / "model.pt", "--images", trained["aligned"] / "images.npy",
                   "--out", out)
    assert done.returncode == 0, done.stderr
    assert "pose 6 dims, expression 18 dims" in done.stdout
    codes = pd.read_parquet(out)
    assert codes["image_id"].tolist() == trained["ids"]  # names from index.parquet beside the .npy
    meta = json.loads(pq.read_schema(out).metadata[b"gatedvae"])
    assert meta["columns"]["expression_0"] == {"partition": "expression", "latent_dim": 6}
    folder = trained["tmp"] / "aligned_png"
    folder.mkdir()
    for name, image in zip(trained["ids"][::-1], trained["grey"][::-1]):  # written in another order
        Image.fromarray(image).save(folder / name.replace(".jpg", ".png"))
    again = trained["tmp"] / "codes_png.parquet"
    assert _encode("--model", trained["dir"] / "model.pt", "--images", folder, "--out", again).returncode == 0
    from_png = pd.read_parquet(again)
    assert from_png["image_id"].tolist() == [n.replace(".jpg", ".png") for n in trained["ids"]]
    np.testing.assert_array_equal(from_png.drop(columns="image_id").to_numpy(),
                                  codes.drop(columns="image_id").to_numpy())


def test_photos_are_aligned_from_their_landmarks_as_the_pipeline_aligns_them(trained):
    root = trained["root"]
    out = trained["tmp"] / "codes_raw.parquet"
    refused = _encode("--model", trained["dir"] / "model.pt", "--images", root / "img_celeba", "--out", out)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "images are not 64x64 aligned faces (e.g. 000001.jpg (178x218)" in refused.stderr
    assert "--landmarks" in refused.stderr and not out.exists()
    done = _encode("--model", trained["dir"] / "model.pt", "--images", root / "img_celeba", "--out", out,
                   "--landmarks", root / "list_landmarks_celeba.txt", "--params", trained["tmp"] / "none.yaml")
    assert done.returncode == 0, done.stderr
    codes = pd.read_parquet(out)
    direct = load_model(trained["dir"] / "model.pt").codes(trained["grey"], trained["ids"])
    pd.testing.assert_frame_equal(codes, direct)


def test_a_model_of_another_image_size_is_refused(trained):
    model = load_model(trained["dir"] / "model.pt")
    with pytest.raises(InputError, match=r"images are 32x32 but .*model.pt takes 64x64 aligned faces"):
        model.encode(np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(InputError, match="expected uint8 pixels"):
        model.encode(np.zeros((3, 64, 64), np.float32))
    bad = trained["tmp"] / "small.npy"
    np.save(bad, np.zeros((2, 32, 32), np.uint8))
    done = _encode("--model", trained["dir"] / "model.pt", "--images", bad, "--out", trained["tmp"] / "x.parquet")
    assert done.returncode == 2 and "takes 64x64 aligned faces" in done.stderr and "Traceback" not in done.stderr
