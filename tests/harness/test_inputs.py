"""Reading earlier stages' files (gatedvae.inputs): a missing, truncated or corrupt file is an
InputError naming it, never numpy's or pyarrow's own error."""

import numpy as np
import pandas as pd
import pytest

from gatedvae import inputs
from gatedvae.errors import InputError, StageError


def test_images_and_tables_read_back(tmp_path):
    np.save(tmp_path / "images.npy", np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4))
    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "t.parquet")
    assert inputs.images(tmp_path / "images.npy").shape == (2, 4, 4)
    assert list(inputs.table(tmp_path / "t.parquet", columns=["a"])["a"]) == [1, 2]


def test_a_truncated_npy_names_the_file(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.zeros((64, 64, 64), np.uint8))
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(InputError, match=r"images.npy: not a readable .npy array") as e:
        inputs.images(path)
    assert e.value.path == str(path) and isinstance(e.value, StageError)


def test_a_corrupt_parquet_names_the_file(tmp_path):
    path = tmp_path / "groups.parquet"
    pd.DataFrame({"a": range(100)}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match=r"groups.parquet: not a readable Parquet file"):
        inputs.table(path)


def test_a_missing_file_or_column_is_named(tmp_path):
    with pytest.raises(InputError, match="nope.npy: not found"):
        inputs.images(tmp_path / "nope.npy")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"has no column\(s\) \['b'\]"):
        inputs.table(tmp_path / "t.parquet", columns=["a", "b"])


def test_a_corrupt_model_file_names_it(tmp_path):
    from gatedvae.training.checkpoint import load_model

    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(InputError, match="model.pt: not a readable model file"):
        load_model(tmp_path / "model.pt")
