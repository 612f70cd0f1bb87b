"""How much of the synthetic faces' pixel variance pose, expression and identity each explain.

A factor group that explains little pixel variance gives a gated step little to learn from its
pair targets, so this is the first check on a renderer: turning the head must change the
aligned greyscale image at least as much as swapping expressions does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import inputs
from gatedvae.faces.scoring import pair_variance_explained

POSE_BINS = 5          # yaw and pitch each, equal width, joint: 25 pose groups
EXPRESSION_BINS = 3    # smile, mouth_open, brow, eye_closure each, joint: up to 81 groups
EXPRESSION_COLUMNS = ("smile", "mouth_open", "brow", "eye_closure")
# The pipeline's alignment settings (params.yaml faces.align), so measurements show model inputs.
ALIGN_SIZE, ALIGN_FACE_SCALE = 64, 0.85


def equal_width_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin index 0..bins-1 of each value over [min, max] cut into `bins` equal widths."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.linspace(values.min(), values.max(), bins + 1)[1:-1]
    return np.digitize(values, edges)


def joint_groups(factors: pd.DataFrame, columns, bins: int) -> np.ndarray:
    """One group id per row for the joint cell of `columns`, each cut into `bins` equal widths."""
    group = np.zeros(len(factors), dtype=np.int64)
    for name in columns:
        group = group * bins + equal_width_bins(factors[name].to_numpy(), bins)
    return group


def factor_groups(factors: pd.DataFrame) -> dict[str, np.ndarray]:
    """The grouping each share is measured over (pose, expression, identity)."""
    return {"pose": joint_groups(factors, ("yaw", "pitch"), POSE_BINS),
            "expression": joint_groups(factors, EXPRESSION_COLUMNS, EXPRESSION_BINS),
            "identity": factors["identity"].to_numpy(np.int64)}


def factor_variance_shares(images_u8: np.ndarray, factors: pd.DataFrame) -> dict[str, float]:
    """The share of pixel variance (omega squared, pooled over pixels; scoring.
    pair_variance_explained) that pose, expression and identity each explain.

    images_u8: [N, H, W] uint8, row i showing factors' row i (the images must be in factors' row
    order, i.e. the order of its image_id column). factors: the synthetic factors table
    (factors.parquet). Pose groups: yaw x pitch, each in 5 equal-width bins; expression: smile,
    mouth_open, brow and eye_closure, each in 3 equal-width bins, jointly; identity: its column.
    """
    if len(images_u8) != len(factors):
        raise ValueError(f"{len(images_u8)} images but {len(factors)} factor rows")
    return {name: float(pair_variance_explained(images_u8, groups))
            for name, groups in factor_groups(factors).items()}


def aligned_greyscale(root: str | Path, *, size: int = ALIGN_SIZE, face_scale: float = ALIGN_FACE_SCALE,
                      workers: int = 1) -> tuple[np.ndarray, pd.DataFrame]:
    """A synthetic folder (synthetic.generate's output) aligned and greyscaled as the pipeline
    does: ([N, size, size] uint8, the factors of the images that aligned, in the same order)."""
    from gatedvae.faces import celeba
    from gatedvae.faces.align import align_images
    from gatedvae.faces.greyscale import to_greyscale

    root = Path(root)
    factors = inputs.table(root / "factors.parquet")
    ids = factors["image_id"].tolist()
    points = (celeba.read_landmarks(root / "list_landmarks_celeba.txt").loc[ids]
              .to_numpy(np.float64).reshape(-1, 5, 2))
    result = align_images(root / "img_celeba", ids, points, size=size, face_scale=face_scale,
                          workers=workers, progress=False)
    kept = factors.set_index("image_id").loc[result.image_ids].reset_index()
    return to_greyscale(result.images), kept
