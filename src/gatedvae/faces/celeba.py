"""Read and write CelebA's annotation files in their exact formats.

All are whitespace-separated text with CRLF line endings (LF is accepted on read). The landmark,
bounding-box and attribute files start with a row count and a header line; the eval partition
and identity files have neither. Every malformed line is an error naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.atomic import save_text
from gatedvae.errors import StageError

LANDMARK_COLUMNS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
                    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")
BBOX_COLUMNS = ("x_1", "y_1", "width", "height")
ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young")
IMAGE_ID = re.compile(r"^[\w.-]+\.(jpg|jpeg|png)$", re.IGNORECASE)


class CelebAFormatError(StageError, ValueError):
    """A CelebA annotation file does not have the expected format; names file and line."""


@dataclass(frozen=True)
class TableFormat:
    columns: tuple[str, ...] | None   # header names, or None for header-less files
    width: int                        # integer values per row after the image id
    allowed: frozenset[int] | None = None
    minimum: int | None = None


LANDMARKS = TableFormat(LANDMARK_COLUMNS, 10)
BBOX = TableFormat(("image_id",) + BBOX_COLUMNS, 4, minimum=0)
ATTRS = TableFormat(ATTRIBUTES, 40, allowed=frozenset({-1, 1}))
PARTITION = TableFormat(None, 1, allowed=frozenset({0, 1, 2}))
IDENTITY = TableFormat(None, 1, minimum=1)


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CelebAFormatError(f"{path}: cannot read: {e}") from e
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise CelebAFormatError(f"{path}: not an ASCII text file (byte {e.start}); is it an HTML "
                                "page or an archive saved under this name?") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_table(path: str | Path, fmt: TableFormat) -> pd.DataFrame:
    """Rows of integers indexed by image id (index name image_id), in file order."""
    path = Path(path)
    lines = _read_lines(path)
    first = 0
    expected_rows = None
    if fmt.columns is not None:
        if len(lines) < 2:
            raise CelebAFormatError(f"{path}: expected a row count on line 1 and column names on line 2")
        if not re.fullmatch(r"\s*\d+\s*", lines[0]):
            raise CelebAFormatError(f"{path}:1: expected the number of rows, got {lines[0][:60]!r}")
        expected_rows = int(lines[0])
        names = tuple(lines[1].split())
        if names != fmt.columns:
            raise CelebAFormatError(f"{path}:2: expected the column names {' '.join(fmt.columns)!r}, "
                                    f"got {lines[1][:200]!r}")
        first = 2
    ids: list[str] = []
    values: list[list[str]] = []
    for number, line in enumerate(lines[first:], start=first + 1):
        parts = line.split()
        if len(parts) != fmt.width + 1:
            raise CelebAFormatError(f"{path}:{number}: expected an image id and {fmt.width} integers, "
                                    f"got {len(parts)} fields: {line[:80]!r}")
        if not IMAGE_ID.match(parts[0]):
            raise CelebAFormatError(f"{path}:{number}: expected an image id like 000001.jpg, got {parts[0]!r}")
        ids.append(parts[0])
        values.append(parts[1:])
    if expected_rows is not None and expected_rows != len(ids):
        raise CelebAFormatError(f"{path}:1: says {expected_rows} rows but the file has {len(ids)}")
    try:
        array = np.array(values, dtype=np.int64).reshape(len(ids), fmt.width)
    except (ValueError, OverflowError):
        array = _convert_reporting_line(path, values, first)
    _check_values(path, array, fmt, first)
    frame = pd.DataFrame(array, index=pd.Index(ids, name="image_id"),
                         columns=_value_columns(fmt))
    if not frame.index.is_unique:
        duplicate = frame.index[frame.index.duplicated()][0]
        number = ids.index(duplicate, ids.index(duplicate) + 1) + first + 1
        raise CelebAFormatError(f"{path}:{number}: image id {duplicate} appears twice")
    return frame


def _value_columns(fmt: TableFormat) -> list[str]:
    if fmt.columns is None:
        return ["value"]
    return [c for c in fmt.columns if c != "image_id"]


def _convert_reporting_line(path, values, first) -> np.ndarray:
    for i, row in enumerate(values):
        for token in row:
            if not re.fullmatch(r"[-+]?\d+", token):
                raise CelebAFormatError(f"{path}:{i + first + 1}: expected integers, got {token!r}")
    raise CelebAFormatError(f"{path}: values out of range for 64-bit integers")


def _check_values(path, array, fmt, first) -> None:
    bad = np.zeros(array.shape[0], dtype=bool)
    if fmt.allowed is not None:
        bad |= ~np.isin(array, sorted(fmt.allowed)).all(axis=1)
    if fmt.minimum is not None:
        bad |= (array < fmt.minimum).any(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        want = sorted(fmt.allowed) if fmt.allowed is not None else f">= {fmt.minimum}"
        raise CelebAFormatError(f"{path}:{row + first + 1}: values must be {want}, got "
                                f"{' '.join(map(str, array[row]))}")


def read_landmarks(path) -> pd.DataFrame:
    return read_table(path, LANDMARKS)


def read_bbox(path) -> pd.DataFrame:
    return read_table(path, BBOX)


def read_attributes(path) -> pd.DataFrame:
    return read_table(path, ATTRS)


def read_eval_partition(path) -> pd.Series:
    return read_table(path, PARTITION)["value"].rename("partition")


def read_identity(path) -> pd.Series:
    return read_table(path, IDENTITY)["value"].rename("identity")


def format_table(frame: pd.DataFrame, fmt: TableFormat, *, field_width: int) -> str:
    """CelebA's text: CRLF lines, values right-aligned in `field_width` columns."""
    array = frame.to_numpy(dtype=np.int64)
    lines = []
    if fmt.columns is not None:
        # The attribute file's header line ends with a space, as in the official file.
        trailer = " " if fmt is ATTRS else ""
        lines += [str(len(frame)), " ".join(fmt.columns) + trailer]
    for image_id, row in zip(frame.index, array):
        lines.append(image_id + " " + " ".join(f"{v:>{field_width}d}" for v in row))
    return "\r\n".join(lines) + "\r\n"


def write_landmarks(path, frame: pd.DataFrame) -> None:
    save_text(path, format_table(frame[list(LANDMARK_COLUMNS)], LANDMARKS, field_width=4))


def write_bbox(path, frame: pd.DataFrame) -> None:
    save_text(path, format_table(frame[list(BBOX_COLUMNS)], BBOX, field_width=4))


def write_attributes(path, frame: pd.DataFrame) -> None:
    save_text(path, format_table(frame[list(ATTRIBUTES)], ATTRS, field_width=2))


def write_eval_partition(path, series: pd.Series) -> None:
    save_text(path, format_table(series.to_frame(), PARTITION, field_width=1))


def write_identity(path, series: pd.Series) -> None:
    save_text(path, format_table(series.to_frame(), IDENTITY, field_width=1))


def check_image_set_present(raw: Path, chosen: str) -> None:
    """Refuse, naming the params key, an image set whose folder or landmark file is absent."""
    from gatedvae.faces.spec import IMAGE_SETS
    from gatedvae.params import ParamError

    folder, landmark_file = IMAGE_SETS[chosen]
    missing = [name for name in (folder, landmark_file) if not (raw / name).exists()]
    if missing:
        raise ParamError(f"params.yaml: `faces.align.image_set` {chosen} reads {raw / folder}/ and "
                         f"{raw / landmark_file}, but {', '.join(missing)} is not in {raw}; choose "
                         f"the image set your CelebA has, or add it (docs/faces.md, \"Real data\")")
