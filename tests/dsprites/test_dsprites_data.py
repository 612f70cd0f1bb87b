"""dSprites: factor grid, renderer, the official file format, acquisition, the stage script."""

from __future__ import annotations

import hashlib
import pickletools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dsprites_http import Route, start_server
from dsprites_npz import REMOVE, official_arrays, py2_pickle, write_npz, write_official_npz
from gatedvae.dsprites import data as D
from gatedvae.download import DownloadError

REPO = Path(__file__).resolve().parents[2]
SQUARE, ELLIPSE, HEART = 0, 1, 2


def one(shape, scale, orientation, pos_x, pos_y) -> np.ndarray:
    return D.render(np.array([[shape, scale, orientation, pos_x, pos_y]]))[0]


def centroid(image) -> tuple[float, float]:
    rows, cols = np.nonzero(image)
    return rows.mean(), cols.mean()


# ---------------------------------------------------------------- grid

def test_grid_constants_match_the_official_file():
    assert D.N_GRID == 737_280
    assert D.GRID_BASES.tolist() == [245760, 40960, 1024, 32, 1]
    assert D.FACTOR_VALUES[1].tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert D.FACTOR_VALUES[2][-1] == 2 * np.pi and D.FACTOR_VALUES[2][0] == 0


def test_full_grid_is_row_major():
    grid = D.full_grid_classes()
    assert grid.shape == (D.N_GRID, 5) and grid.dtype == np.int64
    assert grid[0].tolist() == [0, 0, 0, 0, 0]
    assert grid[1].tolist() == [0, 0, 0, 0, 1]
    assert grid[32].tolist() == [0, 0, 0, 1, 0]
    assert grid[-1].tolist() == [2, 5, 39, 31, 31]
    assert np.array_equal(D.grid_index(grid), np.arange(D.N_GRID))


def test_sample_classes_is_seeded_sorted_and_inside_the_grid():
    a = D.sample_classes(1000, seed=7)
    assert np.array_equal(a, D.sample_classes(1000, seed=7))
    assert not np.array_equal(a, D.sample_classes(1000, seed=8))
    index = D.grid_index(a)
    assert np.all(np.diff(index) > 0)  # sorted, no repeats
    assert a.min(axis=0).min() >= 0
    assert np.all(a.max(axis=0) < np.array(D.FACTOR_SIZES))
    assert len(D.sample_classes(0, seed=1)) == D.N_GRID
    assert len(D.sample_grid_index(D.N_GRID + 5, seed=1)) == D.N_GRID
    with pytest.raises(ValueError, match="n_images"):
        D.sample_grid_index(-1, seed=0)


def test_factor_values_known_answer():
    values = D.factor_values(np.array([[2, 5, 39, 31, 0], [0, 0, 0, 0, 31]]))
    assert np.allclose(values, [[3.0, 1.0, 2 * np.pi, 1.0, 0.0], [1.0, 0.5, 0.0, 0.0, 1.0]])


def test_factors_frame_columns_and_dtypes():
    classes = D.sample_classes(50, seed=0)
    frame = D.factors_frame(classes)
    names = list(D.FACTOR_NAMES)
    assert list(frame.columns) == names + [f"{n}_value" for n in names] + ["grid_index"]
    assert all(frame[n].dtype == np.int64 for n in names + ["grid_index"])
    assert all(frame[f"{n}_value"].dtype == np.float64 for n in names)
    assert np.array_equal(frame[names].to_numpy(), classes)
    assert np.array_equal(frame["grid_index"], D.grid_index(classes))
    assert np.allclose(frame["scale_value"], 0.5 + 0.1 * classes[:, 1])


def test_bad_classes_are_named():
    with pytest.raises(ValueError, match="column orientation"):
        D.render(np.array([[0, 0, 40, 0, 0]]))
    with pytest.raises(ValueError, match=r"shape \[n, 5\]"):
        D.render(np.zeros((3, 6), np.int64))
    with pytest.raises(ValueError, match="integers"):
        D.render(np.zeros((3, 5)))


# ---------------------------------------------------------------- renderer

def test_images_are_binary_uint8():
    images = D.render(D.sample_classes(300, seed=1))
    assert images.dtype == np.uint8 and images.shape == (300, 64, 64)
    assert set(np.unique(images).tolist()) == {0, 1}
    assert images.reshape(300, -1).sum(axis=1).min() > 0  # every image shows a sprite


def test_square_size_known_answer():
    # Half-side 9.6 px at scale 1 about a pixel corner: 20 x 20 pixels; at 0.5 (4.8): 10 x 10,
    # as in the official images. Turned, it covers about its true area 19.2^2 = 369: the
    # official frames of the turning square have 364 to 372 pixels.
    assert one(SQUARE, 5, 0, 15, 15).sum() == 20 * 20
    assert one(SQUARE, 0, 0, 15, 15).sum() == 10 * 10
    turned = D.render(np.array([[SQUARE, 5, o, 15, 15] for o in range(1, 39)]))
    assert np.all(np.abs(turned.sum(axis=(1, 2)).astype(int) - 368) <= 4)


def test_area_grows_with_scale_for_every_shape_and_orientation():
    classes = np.array([[s, k, o, 15, 15] for s in range(3) for k in range(6) for o in range(40)])
    area = D.render(classes).reshape(3, 6, 40, -1).sum(axis=-1)
    assert np.all(np.diff(area, axis=1) > 0)


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE, HEART])
def test_position_moves_the_centroid_32_pixels_over_the_31_steps(shape):
    steps = np.arange(32)
    along_x = D.render(np.array([[shape, 3, 7, k, 4] for k in steps]))
    along_y = D.render(np.array([[shape, 3, 7, 9, k] for k in steps]))
    cx = np.array([centroid(im) for im in along_x])
    cy = np.array([centroid(im) for im in along_y])
    # Official centres move 32/31 px per class; rounded to whole pixels that is one step of 2.
    expected = np.r_[np.ones(15), 2.0, np.ones(15)]
    assert np.allclose(np.diff(cx[:, 1]), expected) and np.allclose(cx[:, 0], cx[0, 0])  # right
    assert np.allclose(np.diff(cy[:, 0]), expected) and np.allclose(cy[:, 1], cy[0, 1])  # down
    assert np.array_equal(D.POSITION_STEPS, np.round(steps * 32 / 31))


def test_sprites_turn_about_the_position_they_are_given():
    classes = np.array([[s, 5, o, 0, 31] for s in range(3) for o in range(40)])
    centres = np.array([centroid(im) for im in D.render(classes)]).reshape(3, 40, 2)
    # (pos_x 0, pos_y 31) puts the centre at canvas point (x 16, y 48), the corner between
    # pixels (row 47, column 15) and (row 48, column 16): pixel index 47.5, 15.5.
    position = np.array([47.5, 15.5])
    assert np.all(np.abs(centres[:SQUARE + 2] - position) < 0.75)  # square and ellipse
    # The official heart turns about a point 1.9 px below its centroid, so its centroid circles
    # the position: centred on it, at a steady radius.
    offset = centres[HEART] - position
    assert np.all(np.abs(offset.mean(axis=0)) < 0.25)
    assert np.all(np.abs(np.hypot(*offset.T) - 1.9) < 0.35)


def test_orientation_zero_and_two_pi_give_identical_images():
    first = np.array([[s, k, 0, 5, 20] for s in range(3) for k in range(6)])
    last = first.copy()
    last[:, 2] = 39
    assert np.array_equal(D.render(first), D.render(last))


def test_square_has_fourfold_and_ellipse_twofold_symmetry():
    masks = D.sprite_masks(D.FACTOR_VALUES[1], [0.0, np.pi / 2, np.pi])
    assert np.array_equal(masks[SQUARE, :, 0], masks[SQUARE, :, 1])
    assert np.array_equal(masks[ELLIPSE, :, 0], masks[ELLIPSE, :, 2])
    assert not np.array_equal(masks[ELLIPSE, :, 0], masks[ELLIPSE, :, 1])
    assert not np.array_equal(masks[HEART, :, 0], masks[HEART, :, 2])
    # On the grid, class 10 is 92.3 degrees: the square is nearly its unturned self.
    a, b = one(SQUARE, 5, 0, 15, 15), one(SQUARE, 5, 10, 15, 15)
    assert (a & b).sum() / (a | b).sum() > 0.85


def runs(line) -> int:
    """Number of separate runs of lit pixels in a 1-D line."""
    line = np.concatenate([[0], line, [0]]).astype(int)
    return int((np.diff(line) == 1).sum())


def test_heart_points_down_at_orientation_zero_and_turns_anticlockwise():
    upright = one(HEART, 5, 0, 15, 15)
    rows = np.flatnonzero(upright.any(axis=1))
    assert runs(upright[rows[0]]) == 2        # two lobes on top
    assert upright[rows[-1]].sum() <= 2        # the point at the bottom
    turned = one(HEART, 5, 10, 15, 15)        # about +90 degrees: point to the right
    cols = np.flatnonzero(turned.any(axis=0))
    assert runs(turned[:, cols[1]]) == 2      # lobes on the left (the edge column is one tip)
    assert turned[:, cols[-1]].sum() <= 3


def test_every_sprite_stays_inside_the_frame():
    masks = D.sprite_masks(D.FACTOR_VALUES[1], D.FACTOR_VALUES[2])
    area = masks.reshape(3, 6, 40, -1).sum(axis=-1)
    corners = [(0, 0), (0, 31), (31, 0), (31, 31)]
    classes = np.array([[s, k, o, x, y] for s in range(3) for k in range(6)
                        for o in range(40) for x, y in corners])
    images = D.render(classes).reshape(3, 6, 40, 4, 64, 64)
    assert np.array_equal(images.sum(axis=(-1, -2)), np.repeat(area[..., None], 4, axis=-1))
    # and the largest sprites come within 4 pixels of the edge: the frame is used, not wasted
    edge = [0, 1, 2, 3, -4, -3, -2, -1]
    assert images[..., edge, :].sum() > 0 and images[..., edge].sum() > 0


# ---------------------------------------------------------------- the official file

@pytest.fixture(scope="module")
def rows():
    return D.sample_classes(120, seed=3)


def test_test_files_pickle_metadata_like_python2(rows, tmp_path):
    arrays = official_arrays(rows[:4])
    blob = py2_pickle(arrays["metadata"])
    opcodes = [op.name for op, _, _ in pickletools.genops(blob)]
    assert opcodes[0] == "PROTO" and blob[1] == 2
    assert "SHORT_BINSTRING" in opcodes and "BINUNICODE" not in opcodes
    path = write_npz(tmp_path / "f.npz", arrays)
    with pytest.raises(UnicodeError):  # what readers without encoding="latin1" hit
        np.load(path, allow_pickle=True)["metadata"]


def test_load_npz_round_trip(rows, tmp_path):
    path = write_official_npz(tmp_path / "dsprites.npz", rows)
    imgs, classes, values = D.load_npz(path)
    assert imgs.dtype == np.uint8 and classes.dtype == np.int64 and values.dtype == np.float64
    assert np.array_equal(imgs, D.render(rows))
    assert np.array_equal(classes, rows)
    assert np.allclose(values, D.factor_values(rows))


def broken_variants(rows):
    n = len(rows)
    arrays = official_arrays(rows)
    not_a_dict = np.empty((), dtype=object)
    not_a_dict[()] = ["a", "list"]
    values_off = arrays["latents_values"].copy()
    values_off[5, 3] += 0.1
    classes_off = arrays["latents_classes"].copy()
    classes_off[7, 4] = 32
    bright = arrays["imgs"].copy()
    bright[0, 0, 0] = 255
    return {
        "missing imgs": ({"imgs": REMOVE}, "imgs"),
        "missing latents_values": ({"latents_values": REMOVE}, "latents_values"),
        "missing latents_classes": ({"latents_classes": REMOVE}, "latents_classes"),
        "missing metadata": ({"metadata": REMOVE}, "metadata"),
        "imgs float": ({"imgs": arrays["imgs"].astype(np.float32)}, "`imgs` must be uint8"),
        "imgs 32x32": ({"imgs": arrays["imgs"][:, :32, :32].copy()}, "`imgs` must have shape"),
        "imgs 255": ({"imgs": bright}, "`imgs` must hold 0/1"),
        "classes float": ({"latents_classes": arrays["latents_classes"].astype(float)},
                          "`latents_classes` must hold integer"),
        "classes 5 columns": ({"latents_classes": arrays["latents_classes"][:, 1:].copy()},
                              "`latents_classes` must have shape"),
        "classes short": ({"latents_classes": arrays["latents_classes"][: n - 1].copy()},
                          "`latents_classes` must have shape"),
        "values int": ({"latents_values": arrays["latents_values"].astype(np.int64)},
                       "`latents_values` must hold float"),
        "classes out of range": ({"latents_classes": classes_off},
                                 "`latents_classes` column posX"),
        "values disagree": ({"latents_values": values_off}, "`latents_values` column orientation"),
        "metadata not a dict": ({"metadata": not_a_dict}, "`metadata` must be a pickled dict"),
    }


BROKEN_CASES = ["missing imgs", "missing latents_values", "missing latents_classes",
                "missing metadata", "imgs float", "imgs 32x32", "imgs 255", "classes float",
                "classes 5 columns", "classes short", "values int", "classes out of range",
                "values disagree", "metadata not a dict"]


@pytest.mark.parametrize("case", BROKEN_CASES)
def test_broken_files_raise_errors_naming_the_key(rows, tmp_path, case):
    variants = broken_variants(rows)
    assert sorted(variants) == sorted(BROKEN_CASES)
    overrides, expected = variants[case]
    path = write_official_npz(tmp_path / "broken.npz", rows, **overrides)
    with pytest.raises(D.DSpritesFileError) as err:
        D.load_npz(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_not_an_npz_and_missing_file(tmp_path):
    bad = tmp_path / "page.npz"
    bad.write_text("<html>quota exceeded</html>")
    with pytest.raises(D.DSpritesFileError, match="not a readable .npz"):
        D.load_npz(bad)
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        D.load_npz(tmp_path / "nowhere.npz")


def test_select_rows_finds_the_sampled_rows_in_any_order(rows):
    wanted = D.sample_classes(40, seed=11)
    extra = D.sample_classes(60, seed=12)
    file_classes = np.unique(np.concatenate([wanted, extra]), axis=0)
    file_classes = file_classes[np.random.default_rng(0).permutation(len(file_classes))]
    picked = D.select_rows(file_classes, 40, 11, "f.npz")
    assert np.array_equal(file_classes[picked], wanted)
    everything = D.select_rows(file_classes, 0, 11, "f.npz")
    assert np.all(np.diff(D.grid_index(file_classes[everything])) > 0)
    assert len(everything) == len(file_classes)
    # a file without the drawn rows gives a seeded subset of its own rows, sorted by grid index
    subset = D.select_rows(extra, 40, 11, "f.npz")
    assert len(subset) == len(np.unique(subset)) == 40
    assert np.all(np.diff(D.grid_index(extra[subset])) > 0)
    assert np.array_equal(subset, D.select_rows(extra, 40, 11, "f.npz"))
    assert not np.array_equal(subset, D.select_rows(extra, 40, 12, "f.npz"))
    with pytest.raises(D.DSpritesFileError, match=r"`dsprites.acquire.n_images` \(61\) is more than the 60"):
        D.select_rows(extra, 61, 11, "f.npz")
    with pytest.raises(D.DSpritesFileError, match="more than once"):
        D.select_rows(np.concatenate([extra, extra[:1]]), 0, 11, "f.npz")


# ---------------------------------------------------------------- acquisition

def read_outputs(folder: Path):
    images = np.load(folder / "images.npy", mmap_mode="r")
    return np.asarray(images), pd.read_parquet(folder / "factors.parquet")


def file_for(tmp_path: Path, n_images: int, seed: int) -> Path:
    """An official-format file holding the rows drawn for (n_images, seed) and others, shuffled."""
    classes = np.unique(np.concatenate([D.sample_classes(n_images, seed),
                                        D.sample_classes(70, seed + 1)]), axis=0)
    classes = classes[np.random.default_rng(5).permutation(len(classes))]
    return write_official_npz(tmp_path / D.DSPRITES_FILENAME, classes)


def test_generate_writes_images_and_factors(tmp_path):
    out = tmp_path / "out"
    summary = D.acquire("generate", out / "images.npy", out / "factors.parquet",
                        n_images=200, seed=4)
    assert summary["source"] == "generate" and summary["n_images"] == 200
    assert summary["seconds"] >= 0
    images, factors = read_outputs(out)
    classes = D.sample_classes(200, 4)
    assert images.dtype == np.uint8 and images.shape == (200, 64, 64)
    assert np.array_equal(images, D.render(classes))
    assert np.array_equal(factors[list(D.FACTOR_NAMES)].to_numpy(), classes)
    assert sorted(p.name for p in out.iterdir()) == ["factors.parquet", "images.npy"]


def test_the_three_sources_give_the_same_rows(tmp_path):
    n, seed = 90, 21
    npz = file_for(tmp_path, n, seed)
    state, stop = start_server()
    try:
        state.routes["/dsprites.npz"] = Route(npz.read_bytes())
        md5 = hashlib.md5(npz.read_bytes()).hexdigest()
        outputs = {}
        for source in D.SOURCES:
            out = tmp_path / source
            D.acquire(source, out / "images.npy", out / "factors.parquet", n_images=n,
                      seed=seed, path=npz, url=state.url("/dsprites.npz"), md5=md5,
                      download_dir=tmp_path / "downloads")
            outputs[source] = read_outputs(out)
    finally:
        stop()
    assert (tmp_path / "downloads" / D.DSPRITES_FILENAME).is_file()
    images, factors = outputs["generate"]
    for source in ("download", "path"):
        assert np.array_equal(outputs[source][0], images)
        pd.testing.assert_frame_equal(outputs[source][1], factors)


def test_failed_download_writes_no_outputs(tmp_path):
    npz = file_for(tmp_path, 10, 0)
    state, stop = start_server()
    try:
        state.routes["/dsprites.npz"] = Route(npz.read_bytes())
        with pytest.raises(DownloadError, match="dsprites.source: path"):
            D.acquire("download", tmp_path / "out" / "images.npy",
                      tmp_path / "out" / "factors.parquet", n_images=10, seed=0,
                      url=state.url("/dsprites.npz"), md5="f" * 32,
                      download_dir=tmp_path / "dl")
    finally:
        stop()
    assert list((tmp_path / "dl").iterdir()) == []
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_unknown_source_and_broken_file(tmp_path):
    with pytest.raises(ValueError, match="source must be one of"):
        D.acquire("magic", tmp_path / "i.npy", tmp_path / "f.parquet", n_images=5, seed=0)
    broken = write_official_npz(tmp_path / "b.npz", D.sample_classes(5, 0), metadata=REMOVE)
    with pytest.raises(D.DSpritesFileError, match="metadata"):
        D.acquire("path", tmp_path / "o" / "i.npy", tmp_path / "o" / "f.parquet",
                  n_images=0, seed=0, path=broken)
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- the stage script

def full_params(acquire_section: str) -> str:
    """The repository's params.yaml with its dsprites.acquire section replaced (the stage checks
    all of dsprites)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dsprites"].pop("acquire")
    params["dsprites"]["evaluate"].update(n_train=200, n_test=100, gbt_n_train=100, gbt_n_test=50)
    params["dsprites"].update(yaml.safe_load(acquire_section) or {})
    return yaml.safe_dump(params)


STAGE_ARGS = ["--source", "external", "--images", "data/dsprites/images.npy",
              "--factors", "data/dsprites/factors.parquet"]


def run_stage(folder: Path, params: str) -> subprocess.CompletedProcess:
    (folder / "params.yaml").write_text(full_params(params))
    return subprocess.run([sys.executable, str(REPO / "stages" / "dsprites_acquire.py"), *STAGE_ARGS],
                          cwd=folder, capture_output=True, text=True, timeout=120)


def test_stage_script_writes_valid_outputs(tmp_path):
    done = run_stage(tmp_path, "acquire:\n  source: generate\n  n_images: 500\n  seed: 2\n"
                               "  path: external\n  md5: null\n  download_dir: null\n")
    assert done.returncode == 0, done.stderr
    assert '"n_images": 500' in done.stdout
    images, factors = read_outputs(tmp_path / "data" / "dsprites")
    assert images.shape == (500, 64, 64) and images.dtype == np.uint8
    assert len(factors) == 500 and factors["grid_index"].is_monotonic_increasing
    assert np.array_equal(images, D.render(D.sample_classes(500, 2)))


@pytest.mark.parametrize("params, key", [
    ("acquire:\n  source: web\n  n_images: 5\n  seed: 0\n  path: x\n", "dsprites.acquire.source"),
    ("acquire:\n  source: generate\n  n_images: -1\n  seed: 0\n  path: x\n", "dsprites.acquire.n_images"),
    ("acquire:\n  source: generate\n  n_images: 5\n  path: x\n", "dsprites.acquire.seed"),
    ("acquire:\n  source: path\n  n_images: 5\n  seed: 0\n  path: no.npz\n", "dsprites.acquire.path"),
    ("acquire:\n  source: generate\n  n_images: 5\n  seed: 0\n", "dsprites.acquire.path"),
    ("acquire:\n  source: download\n  n_images: 5\n  seed: 0\n  path: x\n  md5: abc\n", "dsprites.acquire.md5"),
    ("acquire:\n  source: download\n  n_images: 5\n  seed: 0\n  path: x\n  url: ftp://x\n",
     "dsprites.acquire.url"),
    ("other: 1\n", "dsprites.acquire"),
], ids=["source", "n_images", "seed", "path", "no_path", "md5", "url", "section"])
def test_stage_script_names_the_bad_param(tmp_path, monkeypatch, capsys, params, key):
    """Through the stage harness in this process: exit code 2, the key named, nothing written."""
    from gatedvae.dsprites.prepare import acquire
    from gatedvae.stage import arg, run

    (tmp_path / "params.yaml").write_text(full_params(params))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        run(acquire, None, arg("--source"), arg("--images"), arg("--factors"), argv=STAGE_ARGS)
    assert exit_.value.code == 2
    assert f"`{key}`" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


# ---------------------------------------------------------------- the file a researcher has

def test_a_plain_array_saved_as_npz_gets_a_clear_error(tmp_path):
    bare = tmp_path / "bare.npz"
    with open(bare, "wb") as f:
        np.save(f, np.zeros((3, 64, 64), np.uint8))  # an .npy under an .npz name
    with pytest.raises(D.DSpritesFileError, match=r"bare.npz: holds a single array \[3, 64, 64\], expected an .npz archive"):
        D.load_npz(bare)
    with pytest.raises(D.DSpritesFileError, match="holds a single array"):
        D.held_rows(bare)


def test_a_folder_holding_one_npz_stands_for_it(tmp_path):
    folder = tmp_path / "external"
    folder.mkdir()
    (folder / ".gitignore").write_text("*\n")
    with pytest.raises(D.DSpritesFileError, match=r"expected exactly one .npz file in this folder \(found none\)"):
        D.resolve_npz(folder)
    written = write_official_npz(folder / "mine.npz", D.sample_classes(30, seed=1))
    assert D.resolve_npz(folder) == written and D.held_rows(folder) == 30
    write_official_npz(folder / "other.npz", D.sample_classes(5, seed=1))
    with pytest.raises(D.DSpritesFileError, match="found mine.npz, other.npz"):
        D.resolve_npz(folder)


def _partial_file(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    classes = D.sample_classes(n, seed=21)
    return write_official_npz(folder / D.DSPRITES_FILENAME, classes[np.random.default_rng(1).permutation(n)])


def test_n_images_takes_a_seeded_subset_of_a_partial_file(tmp_path):
    _partial_file(tmp_path / "external", 600)
    section = "acquire:\n  source: path\n  n_images: {n}\n  seed: 4\n  path: external\n"
    done = run_stage(tmp_path, section.format(n=400))
    assert done.returncode == 0, done.stderr
    assert "a seeded subset of 400 of the file's 600 images" in done.stderr
    images, factors = read_outputs(tmp_path / "data" / "dsprites")
    assert len(factors) == 400 and factors["grid_index"].is_monotonic_increasing
    held = set(D.grid_index(D.sample_classes(600, seed=21)).tolist())
    assert set(factors["grid_index"]) <= held
    assert np.array_equal(images, D.render(factors[list(D.FACTOR_NAMES)].to_numpy()))
    done = run_stage(tmp_path, section.format(n=0))
    assert done.returncode == 0 and len(read_outputs(tmp_path / "data" / "dsprites")[1]) == 600


@pytest.mark.parametrize("n_images, key, said", [
    (301, "dsprites.acquire.n_images", "(301) is more than the 300 images"),
    (0, "dsprites.evaluate.n_train", "+ dsprites.evaluate.n_test (250 + 100) exceed the data (300 images)"),
])
def test_sizes_that_the_file_cannot_meet_fail_at_the_first_stage(tmp_path, n_images, key, said):
    _partial_file(tmp_path / "external", 300)
    section = f"acquire:\n  source: path\n  n_images: {n_images}\n  seed: 4\n  path: external\n"
    if key == "dsprites.evaluate.n_train":
        section += "evaluate: {n_train: 250, n_test: 100, seed: 0, lasso_alpha: 0.02, rf_trees: 10, rf_depth: 12}\n"
    done = run_stage(tmp_path, section)
    assert done.returncode == 2, done.stderr
    assert f"`{key}` {said}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()
