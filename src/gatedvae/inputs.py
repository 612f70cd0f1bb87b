"""Reading what an earlier stage wrote: a missing, truncated or corrupt file is an InputError
naming the file (the stage harness adds the stage that makes it), never a raw ValueError from
numpy's memory map or pyarrow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.errors import InputError


def images(path: str | Path) -> np.ndarray:
    """A uint8 .npy image array, memory-mapped."""
    if not Path(path).is_file():
        raise InputError(path, "not found")
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError, EOFError) as e:
        raise InputError(path, f"not a readable .npy array (truncated or corrupt?): {e}") from e


def table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet table; with `columns`, those must be there."""
    if not Path(path).is_file():
        raise InputError(path, "not found")
    try:
        frame = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError or its own errors on bad bytes
        raise InputError(path, f"not a readable Parquet file (truncated or corrupt?): "
                               f"{type(e).__name__}: {e}") from e
    missing = [c for c in columns or [] if c not in frame.columns]
    if missing:
        raise InputError(path, f"has no column(s) {missing}; it has {list(frame.columns)}")
    return frame
