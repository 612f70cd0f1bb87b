"""Sweeps of one factor at a time through the synthetic renderer, aligned and greyscaled by the
pipeline's own code, so a figure shows what the model sees when only that factor changes.

pose_sweep('yaw' | 'pitch') turns a few fixed identities (neutral, roll 0) from -max to +max;
expression_sweep runs smile, mouth_open, eye_closure over 0..1 and brow over -1..1 on one
frontal identity. save_sweep_figure draws either grid with each column's value underneath.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from gatedvae.faces import align
from gatedvae.faces.greyscale import to_greyscale
from gatedvae.faces.render import Face, landmarks, render
from gatedvae.faces.spec import SyntheticConfig
from gatedvae.faces.synthetic import IMAGE_SIZE
from gatedvae.faces.variance import ALIGN_FACE_SCALE

BACKGROUND_SEED = 1234
# Three fixed identities: (face_width, face_height, skin_tone, hair_colour, hair_length).
IDENTITIES = ((1.0, 1.0, 0.25, 1, 0.3), (1.1, 0.92, 0.7, 0, 0.05), (0.9, 1.05, 0.45, 3, 0.9))
EXPRESSIONS = (("smile", 0.0, 1.0), ("mouth_open", 0.0, 1.0), ("brow", -1.0, 1.0),
               ("eye_closure", 0.0, 1.0))


def neutral_face(identity: int = 0) -> Face:
    """A frontal, neutral face of one of IDENTITIES, centred in a CelebA-sized image."""
    width, height, skin, hair, length = IDENTITIES[identity]
    return Face(pitch=0.0, yaw=0.0, roll=0.0, smile=0.0, mouth_open=0.0, brow=0.0, eye_closure=0.0,
                face_width=width, face_height=height, skin_tone=skin, hair_colour=hair,
                hair_length=length, centre_x=IMAGE_SIZE[0] / 2, centre_y=0.45 * IMAGE_SIZE[1],
                scale=30.0)


def aligned_grey(faces: list[Face], size: int = 64, *, jpeg_quality: int = SyntheticConfig.jpeg_quality,
                 face_scale: float = ALIGN_FACE_SCALE) -> np.ndarray:
    """What the pipeline makes of these faces: rendered, saved as JPEG (synthetic.generate),
    aligned on their 5 landmarks (align.align_images) and greyscaled; [N, size, size] uint8."""
    names = [f"{i + 1:06d}.jpg" for i in range(len(faces))]
    with tempfile.TemporaryDirectory() as folder:
        for name, face in zip(names, faces):
            image = render(face, IMAGE_SIZE, np.random.default_rng(BACKGROUND_SEED))
            image.save(Path(folder) / name, format="JPEG", quality=jpeg_quality)
        result = align.align_images(folder, names, np.stack([landmarks(f) for f in faces]), size=size,
                                    face_scale=face_scale, workers=1, progress=False)
    if result.failures:
        raise ValueError(f"could not align sweep faces: {result.failures}")
    return to_greyscale(result.images)


def sweep_values(kind: str, cfg: SyntheticConfig, steps: int) -> np.ndarray:
    """The swept angles in radians, -max..max of the config's range for `kind`."""
    limits = {"yaw": cfg.max_yaw_deg, "pitch": cfg.max_pitch_deg}
    if kind not in limits:
        raise ValueError(f"pose sweep kind must be 'yaw' or 'pitch', got {kind!r}")
    return np.radians(np.linspace(-limits[kind], limits[kind], steps))


def pose_sweep(kind: str, cfg: SyntheticConfig, *, steps: int = 7, size: int = 64,
               face_scale: float = ALIGN_FACE_SCALE) -> np.ndarray:
    """[rows=3 identities, steps, size, size] uint8: aligned greyscale faces turned in yaw (pitch 0)
    or pitch (yaw 0) from -max to +max of cfg's range; neutral expression, roll 0."""
    angles = sweep_values(kind, cfg, steps)
    faces = [dataclasses.replace(neutral_face(i), **{kind: float(a)})
             for i in range(len(IDENTITIES)) for a in angles]
    grid = aligned_grey(faces, size, jpeg_quality=cfg.jpeg_quality, face_scale=face_scale)
    return grid.reshape(len(IDENTITIES), steps, size, size)


def expression_sweep(cfg: SyntheticConfig | None = None, *, steps: int = 7, size: int = 64,
                     face_scale: float = ALIGN_FACE_SCALE) -> np.ndarray:
    """[rows=4 (smile, mouth_open, brow, eye_closure), steps, size, size] uint8: one frontal
    identity, each expression factor swept over its range (brow -1..1, the others 0..1)."""
    cfg = cfg or SyntheticConfig()
    faces = [dataclasses.replace(neutral_face(0), **{name: float(v)})
             for name, low, high in EXPRESSIONS for v in np.linspace(low, high, steps)]
    grid = aligned_grey(faces, size, jpeg_quality=cfg.jpeg_quality, face_scale=face_scale)
    return grid.reshape(len(EXPRESSIONS), steps, size, size)


def save_sweep_figure(grid: np.ndarray, path, title: str, *, column_labels=None, row_labels=None) -> None:
    """A PNG of grid [rows, cols, H, W] uint8 with a label under each column (e.g. the angle in
    degrees) and, optionally, each row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gatedvae.atomic import atomic_path

    rows, cols = grid.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols + 0.6, 1.45 * rows + 0.5), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(grid[r, c], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if column_labels is not None:
                ax.set_xlabel(column_labels[c], fontsize=8)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def save_pose_sweep(kind: str, cfg: SyntheticConfig, path, *, steps: int = 7, size: int = 64,
                    face_scale: float = ALIGN_FACE_SCALE) -> None:
    """pose_sweep drawn with the angle in degrees under each column."""
    labels = [f"{d:+.0f}°" for d in np.degrees(sweep_values(kind, cfg, steps))]
    save_sweep_figure(pose_sweep(kind, cfg, steps=steps, size=size, face_scale=face_scale), path,
                      f"{kind} sweep (aligned, greyscale)", column_labels=labels)


def save_expression_sweep(path, cfg: SyntheticConfig | None = None, *, steps: int = 7, size: int = 64,
                          face_scale: float = ALIGN_FACE_SCALE) -> None:
    """expression_sweep drawn with each row's factor and the value under each column."""
    grid = expression_sweep(cfg, steps=steps, size=size, face_scale=face_scale)
    labels = [f"{v:.2f}" for v in np.linspace(0, 1, steps)]
    rows = [f"{name}\n{low:g}..{high:g}" for name, low, high in EXPRESSIONS]
    save_sweep_figure(grid, path, "expression sweep (frontal, aligned, greyscale)",
                      column_labels=[f"t={v}" for v in labels], row_labels=rows)


def write_sweeps(params, *, out_dir: str) -> None:
    """Stage faces_sweeps: the yaw, pitch and expression sweeps of the synthetic renderer at the
    configured pose ranges, aligned as faces.align says: <out_dir>/faces_sweep_{yaw,pitch,expression}.png."""
    from gatedvae.faces import config

    cfg = config.synthetic_config(params)
    settings = config.align_settings(params)
    out = Path(out_dir)
    for kind in ("yaw", "pitch"):
        save_pose_sweep(kind, cfg, out / f"faces_sweep_{kind}.png", size=settings.size,
                        face_scale=settings.face_scale)
    save_expression_sweep(out / "faces_sweep_expression.png", cfg, size=settings.size,
                          face_scale=settings.face_scale)
