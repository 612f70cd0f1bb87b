"""CelebA annotation files: real-format samples, round trips, and malformed lines (fuzzed)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatedvae.faces import celeba

ATTR_ROW_1 = ("000001.jpg -1  1  1 -1 -1 -1 -1 -1 -1 -1 -1  1 -1 -1 -1 -1 -1 -1  1  1 -1  1 -1 -1  1 "
              "-1 -1  1 -1 -1 -1  1  1 -1  1 -1  1 -1 -1  1")
# The first lines of the official files, byte for byte (CRLF, CelebA's spacing).
SAMPLES = {
    "list_landmarks_align_celeba.txt": (
        "202599\r\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
        "rightmouth_x rightmouth_y\r\n000001.jpg 69  109  106  113   77  142   73  152  108  154\r\n"
        "000002.jpg 69  110  107  112   81  135   70  151  108  153\r\n", celeba.read_landmarks),
    "list_bbox_celeba.txt": (
        "202599\r\nimage_id x_1 y_1 width height\r\n000001.jpg    95  71 226 313\r\n"
        "000002.jpg    72  94 221 306\r\n", celeba.read_bbox),
    "list_attr_celeba.txt": (
        "202599\r\n" + " ".join(celeba.ATTRIBUTES) + " \r\n" + ATTR_ROW_1 + "\r\n", celeba.read_attributes),
    "list_eval_partition.txt": ("000001.jpg 0\r\n000002.jpg 0\r\n182638.jpg 1\r\n", celeba.read_eval_partition),
    "identity_CelebA.txt": ("000001.jpg 2880\r\n000002.jpg 2937\r\n", celeba.read_identity),
}


def _fix_count(text: str) -> str:
    """Make line 1 match the number of rows (the official files have 202,599)."""
    lines = text.split("\r\n")[:-1]
    return "\r\n".join([str(len(lines) - 2)] + lines[1:]) + "\r\n"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_real_format_samples_parse(tmp_path, name):
    text, reader = SAMPLES[name]
    if text.startswith("202599"):
        text = _fix_count(text)
    path = tmp_path / name
    path.write_bytes(text.encode())
    parsed = reader(path)
    assert parsed.index[0] == "000001.jpg"
    if name == "list_landmarks_align_celeba.txt":
        assert parsed.loc["000001.jpg"].tolist() == [69, 109, 106, 113, 77, 142, 73, 152, 108, 154]
    elif name == "list_bbox_celeba.txt":
        assert parsed.loc["000002.jpg"].tolist() == [72, 94, 221, 306]
    elif name == "list_attr_celeba.txt":
        assert parsed.shape == (1, 40)
        assert parsed.loc["000001.jpg", "Arched_Eyebrows"] == 1 and parsed.loc["000001.jpg", "Young"] == 1
        assert parsed.loc["000001.jpg", "Smiling"] == 1 and parsed.loc["000001.jpg", "Male"] == -1
    elif name == "list_eval_partition.txt":
        assert parsed.tolist() == [0, 0, 1]
    else:
        assert parsed.tolist() == [2880, 2937]


def test_row_count_mismatch_names_line_1(tmp_path):
    path = tmp_path / "list_landmarks_align_celeba.txt"
    path.write_bytes(SAMPLES[path.name][0].encode())  # says 202599 rows, has 2
    with pytest.raises(celeba.CelebAFormatError, match=r"list_landmarks_align_celeba.txt:1: says 202599 rows"):
        celeba.read_landmarks(path)


def test_wrong_header_names_line_2(tmp_path):
    path = tmp_path / "list_bbox_celeba.txt"
    path.write_bytes(b"1\r\nimage x_1 y_1 width height\r\n000001.jpg 1 2 3 4\r\n")
    with pytest.raises(celeba.CelebAFormatError, match=r"list_bbox_celeba.txt:2: expected the column names"):
        celeba.read_bbox(path)


def test_html_page_is_reported(tmp_path):
    path = tmp_path / "list_eval_partition.txt"
    path.write_bytes("<!DOCTYPE html><html><body>Google Drive – quota exceeded</body></html>".encode())
    with pytest.raises(celeba.CelebAFormatError, match="not an ASCII text file"):
        celeba.read_eval_partition(path)


def test_duplicate_image_id_names_its_line(tmp_path):
    path = tmp_path / "identity_CelebA.txt"
    path.write_bytes(b"000001.jpg 1\r\n000002.jpg 2\r\n000001.jpg 3\r\n")
    with pytest.raises(celeba.CelebAFormatError, match=r"identity_CelebA.txt:3: image id 000001.jpg appears twice"):
        celeba.read_identity(path)


WRITERS = {
    "landmarks": (celeba.write_landmarks, celeba.read_landmarks, celeba.LANDMARK_COLUMNS, (-5, 400)),
    "bbox": (celeba.write_bbox, celeba.read_bbox, celeba.BBOX_COLUMNS, (0, 400)),
    "attributes": (celeba.write_attributes, celeba.read_attributes, celeba.ATTRIBUTES, None),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_write_read_round_trip_is_crlf(tmp_path, kind):
    write, read, columns, bounds = WRITERS[kind]
    rng = np.random.default_rng(0)
    shape = (7, len(columns))
    values = rng.choice([-1, 1], shape) if bounds is None else rng.integers(*bounds, shape)
    frame = pd.DataFrame(values, columns=columns, index=pd.Index([f"{i:06d}.jpg" for i in range(1, 8)]))
    path = tmp_path / f"{kind}.txt"
    write(path, frame)
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == 9 and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.startswith(b"7\r\n")
    assert np.array_equal(read(path).to_numpy(), values)


def _valid_table(n_rows):
    frame = pd.DataFrame(np.arange(n_rows * 10).reshape(n_rows, 10) % 200, columns=celeba.LANDMARK_COLUMNS,
                         index=[f"{i:06d}.jpg" for i in range(1, n_rows + 1)])
    return celeba.format_table(frame, celeba.LANDMARKS, field_width=4)


corruptions = st.sampled_from(["drop_field", "extra_field", "letter", "float", "bad_id", "blank"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_rows=st.integers(1, 6), row=st.integers(0, 5), how=corruptions, token=st.integers(1, 10))
def test_fuzzed_malformed_landmark_line_names_file_and_line(tmp_path, n_rows, row, how, token):
    row = row % n_rows
    lines = _valid_table(n_rows).split("\r\n")
    number = row + 3                      # 1-based line number of the data row
    parts = lines[number - 1].split()
    if how == "drop_field":
        parts.pop(token)
    elif how == "extra_field":
        parts.insert(token, "7")
    elif how == "letter":
        parts[token] = parts[token] + "x"
    elif how == "float":
        parts[token] = parts[token] + ".5"
    elif how == "bad_id":
        parts[0] = "image one"
    else:
        parts = []
    lines[number - 1] = " ".join(parts)
    path = tmp_path / "list_landmarks_celeba.txt"
    path.write_bytes("\r\n".join(lines).encode())
    with pytest.raises(celeba.CelebAFormatError) as err:
        celeba.read_landmarks(path)
    assert re.search(rf"list_landmarks_celeba\.txt:{number}: ", str(err.value)), str(err.value)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.integers(-5, 5).filter(lambda v: v not in (-1, 1)), column=st.integers(0, 39))
def test_fuzzed_attribute_values_must_be_plus_minus_one(tmp_path, value, column):
    values = np.ones((3, 40), dtype=int)
    values[1, column] = value
    frame = pd.DataFrame(values, columns=celeba.ATTRIBUTES, index=["000001.jpg", "000002.jpg", "000003.jpg"])
    path = tmp_path / "list_attr_celeba.txt"
    path.write_bytes(celeba.format_table(frame, celeba.ATTRS, field_width=2).encode())
    with pytest.raises(celeba.CelebAFormatError, match=r"list_attr_celeba.txt:4: values must be \[-1, 1\]"):
        celeba.read_attributes(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.text(st.sampled_from("0123456789 .jpgx-\t"), max_size=20), where=st.integers(0, 2))
def test_fuzzed_partition_lines_parse_or_fail_with_line(tmp_path, line, where):
    lines = ["000001.jpg 0", "000002.jpg 1", "000003.jpg 2"]
    lines[where] = line
    path = tmp_path / "list_eval_partition.txt"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    try:
        parsed = celeba.read_eval_partition(path)
    except celeba.CelebAFormatError as e:
        # A random valid row can repeat another row's id: then the later of the two is named.
        assert f"list_eval_partition.txt:{where + 1}: " in str(e) or "appears twice" in str(e), str(e)
    else:  # the random line happened to be valid
        assert len(parsed) == 3 and set(parsed.tolist()) <= {0, 1, 2}


def test_synthetic_dataset_files_all_parse(tiny_celeba):
    root, factors, _ = tiny_celeba
    n = len(factors)
    assert len(celeba.read_landmarks(root / "list_landmarks_celeba.txt")) == n
    assert len(celeba.read_bbox(root / "list_bbox_celeba.txt")) == n
    attrs = celeba.read_attributes(root / "list_attr_celeba.txt")
    assert np.array_equal(attrs["Smiling"].to_numpy() > 0, factors["smile"].to_numpy() > 0.4)
    assert np.array_equal(attrs["Mouth_Slightly_Open"].to_numpy() > 0, factors["mouth_open"].to_numpy() > 0.15)
    assert celeba.read_identity(root / "identity_CelebA.txt").tolist() == factors["identity"].tolist()
    assert set(celeba.read_eval_partition(root / "list_eval_partition.txt")) == {0, 1, 2}
    raw = (root / "list_attr_celeba.txt").read_bytes().split(b"\r\n")
    assert raw[1].endswith(b"Young ")
