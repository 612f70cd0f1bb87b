"""Greyscale: BT.601 luma in PIL's integer arithmetic (bit for bit), shape kept, uint8 out; the
stage's contact sheet."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gatedvae.faces.figures import contact_sheet
from gatedvae.faces.greyscale import to_greyscale


def test_known_colours():
    rgb = np.array([[[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]]], dtype=np.uint8)
    assert to_greyscale(rgb).tolist() == [[[76, 150], [29, 255]]]


def test_every_pixel_is_what_pil_gives():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 16, 12, 3), dtype=np.uint8)
    rgb[0] = 0
    rgb[1] = 255
    grey = to_greyscale(rgb, chunk=2)
    assert grey.shape == (5, 16, 12) and grey.dtype == np.uint8
    assert grey[0].max() == 0 and grey[1].min() == 255
    pil = np.stack([np.asarray(Image.fromarray(im).convert("L")) for im in rgb])
    assert np.array_equal(grey, pil)
    # a quarter of a million colours (every green level; red and blue in steps of 8)
    edges = np.stack(np.meshgrid(np.arange(0, 256, 8), np.arange(256), np.arange(0, 256, 8),
                                 indexing="ij"), -1).reshape(1, -1, 1, 3).astype(np.uint8)
    assert np.array_equal(to_greyscale(edges)[0, :, 0],
                          np.asarray(Image.fromarray(edges[0]).convert("L"))[:, 0])


@pytest.mark.parametrize("bad", [np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4, 3), np.float32)])
def test_rejects_wrong_input(bad):
    with pytest.raises(ValueError, match="expected uint8 images"):
        to_greyscale(bad)


def test_contact_sheet_tiles_in_order():
    images = np.stack([np.full((4, 4), 10 * k, np.uint8) for k in range(5)])
    sheet = contact_sheet(images, rows=2, cols=3, gap=1, upscale=1)
    assert sheet.shape == (2 * 5 + 1, 3 * 5 + 1)
    assert sheet[1, 1] == 0 and sheet[1, 6] == 10 and sheet[6, 1] == 30 and sheet[6, 6] == 40
    assert sheet[6, 11] == 255  # the sixth cell is empty


def test_contact_sheet_shrinks_to_the_images_there_are():
    """6 x 10 asked, 4 images: one row of 4, not 60 cells of which 56 are white."""
    images = np.stack([np.full((4, 4), 10 * k, np.uint8) for k in range(4)])
    sheet = contact_sheet(images, rows=6, cols=10, gap=1, upscale=1)
    assert sheet.shape == (1 * 5 + 1, 4 * 5 + 1)
    assert sheet[1, 16] == 30
    # 23 images at 10 columns: three rows
    many = np.zeros((23, 4, 4), np.uint8)
    assert contact_sheet(many, rows=6, cols=10, gap=1, upscale=1).shape == (3 * 5 + 1, 10 * 5 + 1)
