"""Write small files in the official dSprites .npz format, as Python 2 wrote it.

The official file's `metadata` is a dict pickled by Python 2 (protocol 2, byte strings), which
Python 3 reads only with encoding="latin1". `py2_pickle` writes strings the way Python 2 did
(SHORT_BINSTRING / BINSTRING opcodes), so a reader that forgets latin1 fails on these files too.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from gatedvae.dsprites import data as dsprites

REMOVE = object()  # an override value that drops the key from the file


class _Py2Pickler(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: str) -> None:
        data = obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str


def py2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def official_metadata() -> dict:
    return {
        "date": "April 2017",
        "description": "Disentanglement test Sprites dataset. Caf\xe9 test: a latin-1 byte.",
        "version": 1,
        "latents_names": ("color", "shape", "scale", "orientation", "posX", "posY"),
        "latents_possible_values": {"scale": np.linspace(0.5, 1.0, 6),
                                    "posX": np.linspace(0.0, 1.0, 32)},
        "latents_sizes": np.array([1, 3, 6, 40, 32, 32]),
        "author": "test",
        "title": "dSprites dataset",
    }


def official_arrays(classes: np.ndarray) -> dict:
    """The four arrays of the official file for grid rows `classes` [n, 5]."""
    classes = np.asarray(classes, dtype=np.int64)
    n = len(classes)
    latents_classes = np.concatenate([np.zeros((n, 1), np.int64), classes], axis=1)
    latents_values = np.concatenate([np.ones((n, 1)), dsprites.factor_values(classes)], axis=1)
    metadata = np.empty((), dtype=object)
    metadata[()] = official_metadata()
    return {"imgs": dsprites.render(classes), "latents_values": latents_values,
            "latents_classes": latents_classes, "metadata": metadata}


def write_npz(path: Path, arrays: dict) -> Path:
    """Write arrays as a compressed .npz; object arrays are pickled the Python 2 way."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            if array is REMOVE:
                continue
            with archive.open(f"{key}.npy", "w") as member:
                if array.dtype == object:
                    np.lib.format.write_array_header_1_0(
                        member, np.lib.format.header_data_from_array_1_0(array))
                    member.write(py2_pickle(array))
                else:
                    np.lib.format.write_array(member, array)
    return path


def write_official_npz(path: Path, classes: np.ndarray, **overrides) -> Path:
    arrays = official_arrays(classes)
    arrays.update(overrides)
    return write_npz(path, arrays)
