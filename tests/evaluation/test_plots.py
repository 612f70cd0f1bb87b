import numpy as np
import pytest
from PIL import Image

from gatedvae.atomic import save_figure
from gatedvae.evaluation.plots import hinton, line_with_errorbars, reconstruction_grid, traversal_grid

CODES = [f"z{i}" for i in range(8)]
FACTORS = ["shape", "scale", "orientation", "pos_x", "pos_y"]


def saved_png(fig, path, dpi=40) -> np.ndarray:
    """Save through the project's atomic writer, read the real PNG back, check its size."""
    save_figure(path, fig, dpi=dpi)
    with Image.open(path) as im:
        assert im.format == "PNG"
        width, height = fig.get_size_inches() * dpi
        assert im.size == (round(width), round(height))
        pixels = np.asarray(im.convert("L"), dtype=float)
    assert pixels.std() > 5  # not blank
    return pixels


def test_hinton_square_area_follows_importance_and_boundaries_are_drawn(tmp_path):
    r = np.zeros((8, 5))
    r[0, 0], r[2, 1], r[4, 2], r[6, 3], r[7, 4] = 1.0, 0.25, 0.04, 0.5, 0.5
    fig = hinton(r, CODES, FACTORS, partition_sizes=[2, 2, 2, 2], title="gated beta-VAE, RF",
                 partition_labels=["shape", "scale", "orient.", "position"])
    ax = fig.axes[0]
    sides = {(round(p.get_x() + p.get_width() / 2), round(p.get_y() + p.get_height() / 2)): p.get_width()
             for p in ax.patches}
    assert len(sides) == 5  # zero entries draw nothing
    assert sides[(0, 0)] == pytest.approx(0.9)
    assert sides[(2, 1)] == pytest.approx(0.45)  # a quarter of the value, a quarter of the area
    assert sides[(4, 2)] == pytest.approx(0.18)
    boundaries = sorted(line.get_xdata()[0] for line in ax.lines)
    assert boundaries == [1.5, 3.5, 5.5]
    assert {t.get_text() for t in ax.texts} == {"shape", "scale", "orient.", "position"}
    assert [t.get_text() for t in ax.get_yticklabels()] == FACTORS
    assert [t.get_text() for t in ax.get_xticklabels()] == CODES
    saved_png(fig, tmp_path / "hinton.png")


def test_hinton_without_partitions_draws_no_boundaries(tmp_path):
    r = np.random.default_rng(0).random((8, 5))
    fig = hinton(r, CODES, FACTORS)
    assert len(fig.axes[0].lines) == 0
    assert len(fig.axes[0].texts) == 0
    saved_png(fig, tmp_path / "sub" / "plain.png")


def test_hinton_unequal_partitions(tmp_path):
    r = np.ones((24, 2))
    fig = hinton(r, [f"z{i}" for i in range(24)], ["pose", "expression"], partition_sizes=[6, 18])
    assert [line.get_xdata()[0] for line in fig.axes[0].lines] == [5.5]
    assert [t.get_text() for t in fig.axes[0].texts] == ["P0", "P1"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(code_names=CODES[:7]), "code_names: expected 8 labels, got 7"),
        (dict(factor_names=FACTORS + ["extra"]), "factor_names: expected 5 labels"),
        (dict(partition_sizes=[4, 3]), "add up to 7, but there are 8 codes"),
        (dict(partition_labels=["a"]), "partition_labels: given without partition_sizes"),
        (dict(partition_sizes=[4, 4], partition_labels=["a"]), "partition_labels: expected 2 labels"),
        (dict(importance=-np.ones((8, 5))), "non-negative"),
        (dict(importance=np.ones(8)), "2-D"),
    ],
)
def test_hinton_rejects_bad_input(kwargs, message):
    args = dict(importance=np.ones((8, 5)), code_names=CODES, factor_names=FACTORS) | kwargs
    with pytest.raises(ValueError, match=message):
        hinton(**args)


def test_reconstruction_grid_tiles_the_images_in_order(tmp_path):
    rng = np.random.default_rng(1)
    originals = rng.integers(0, 256, (6, 16, 12), dtype=np.uint8)
    recons = rng.random((6, 16, 12))
    fig = reconstruction_grid([originals, recons], ["original", "reconstruction"], title="beta-VAE")
    ax = fig.axes[0]
    mosaic = np.asarray(ax.images[0].get_array())
    assert mosaic.shape == (2 * 17 + 1, 6 * 13 + 1)
    np.testing.assert_allclose(mosaic[1:17, 1 + 3 * 13 : 1 + 3 * 13 + 12], originals[3] / 255.0)
    np.testing.assert_allclose(mosaic[18:34, 1 + 5 * 13 : 1 + 5 * 13 + 12], recons[5])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["original", "reconstruction"]
    saved_png(fig, tmp_path / "recon.png")


def test_reconstruction_grid_rejects_bad_input():
    ok = np.zeros((4, 8, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"rows\[1\]: shape \(3, 8, 8\) differs"):
        reconstruction_grid([ok, ok[:3]], ["a", "b"])
    with pytest.raises(ValueError, match=r"rows\[0\]: float images must lie in \[0, 1\]"):
        reconstruction_grid([ok.astype(float) + 2.0], ["a"])
    with pytest.raises(ValueError, match="row_labels: expected 2 labels"):
        reconstruction_grid([ok, ok], ["a"])
    with pytest.raises(ValueError, match="at least one row"):
        reconstruction_grid([], [])


def test_traversal_grid_labels_dims_and_steps(tmp_path):
    images = np.random.default_rng(2).random((3, 5, 10, 10))
    fig = traversal_grid(images, ["pose z0", "pose z1", "expr z6"], [-2, -1, 0, 1, 2], title="traversals")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-2.0", "-1.0", "+0.0", "+1.0", "+2.0"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["pose z0", "pose z1", "expr z6"]
    assert np.asarray(ax.images[0].get_array()).shape == (3 * 11 + 1, 5 * 11 + 1)
    saved_png(fig, tmp_path / "traversal.png")
    with pytest.raises(ValueError, match="step_values: expected 5 values"):
        traversal_grid(images, ["a", "b", "c"], [0, 1])
    with pytest.raises(ValueError, match=r"images: expected \[n_dims, n_steps, H, W\]"):
        traversal_grid(images[0], ["a"], [0, 1, 2, 3, 4])


def test_line_with_errorbars(tmp_path):
    x = [0.25, 0.5, 1.0, 2.0]
    means = [[0.1, 0.2, 0.4, 0.45], [0.1, 0.1, 0.12, 0.1]]
    stds = [[0.01, 0.05, 0.04, 0.03], [0.0, 0.02, 0.02, 0.01]]
    fig = line_with_errorbars(x, means, stds, ["gated", "un-gated"], "million images seen", "RF disentanglement", "sweep")
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gated", "un-gated"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), means[0])
    saved_png(fig, tmp_path / "sweep.png")
    with pytest.raises(ValueError, match=r"means: expected shape \[n_series, 4\]"):
        line_with_errorbars(x, [[1, 2]], [[0, 0]], ["a"], "x", "y")
    with pytest.raises(ValueError, match="stds non-negative"):
        line_with_errorbars(x, means, -np.ones((2, 4)), ["a", "b"], "x", "y")
    with pytest.raises(ValueError, match="labels: expected 2 labels"):
        line_with_errorbars(x, means, stds, ["a"], "x", "y")


def test_line_with_errorbars_log_axis_and_baselines(tmp_path):
    x = [4, 16, 64]
    means = [[0.3, 0.4, 0.5], [0.7, 0.7, 0.6]]
    fig = line_with_errorbars(x, means, np.zeros((2, 3)), ["pose", "expression"], "clusters", "placement",
                              log_x=True, references={"pose": 0.25, "chance": 0.5})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    baselines = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert [list(line.get_ydata()) for line in baselines] == [[0.25, 0.25], [0.5, 0.5]]
    assert baselines[0].get_color() == ax.containers[0].lines[0].get_color()  # the pose colour
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "chance", "expression", "pose", "pose: baseline"]
    saved_png(fig, tmp_path / "clusters.png")
    with pytest.raises(ValueError, match="log axis needs positive"):
        line_with_errorbars([0, 1, 2], means, np.zeros((2, 3)), ["a", "b"], "x", "y", log_x=True)
    with pytest.raises(ValueError, match="references: expected finite"):
        line_with_errorbars(x, means, np.zeros((2, 3)), ["a", "b"], "x", "y", references={"a": float("nan")})
