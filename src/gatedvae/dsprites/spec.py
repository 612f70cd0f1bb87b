"""dSprites in one place: its factors, image size, sources and the official file, and the name
of each sweep run. Imports nothing heavy, so params validation can use it."""

from __future__ import annotations

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
SHAPE_NAMES = ("square", "ellipse", "heart")
FACTOR_SIZES = (3, 6, 40, 32, 32)
N_GRID = 3 * 6 * 40 * 32 * 32          # 737,280 images
IMAGE_SIZE = 64

SOURCES = ("generate", "download", "path")
DSPRITES_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
DSPRITES_URL = ("https://raw.githubusercontent.com/deepmind/dsprites-dataset/master/"
                + DSPRITES_FILENAME)
DSPRITES_MD5 = "7da33b31b13a06f4b04a70402ce90c2e"


def run_key(model: str, gating: str, seed: int) -> str:
    """The folder of one sweep run: DVC's `${key}` of the dsprites_train@ matrix member (a test
    checks the two agree), so that the aggregate stage finds the runs the params ask for."""
    return f"{model}-{gating}-{seed}"
