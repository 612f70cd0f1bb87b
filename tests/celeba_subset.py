"""CelebA as a researcher has it, for the real-data DVC tests: an aligned-image folder with its
landmarks and attributes (and OpenFace's CSV of the same folder), rendered by the synthetic
generator and written under the real names; its factors.parquet, the ground truth, stays behind."""

from __future__ import annotations

import shutil
from pathlib import Path

from gatedvae.faces.synthetic import SyntheticConfig, generate

OPENFACE_CSV = "openface/img_align_celeba.csv"


def celeba_subset(root: Path, n_images: int = 128, *, stray_file: bool = False) -> Path:
    """Write the subset into `root` (img_align_celeba/, list_landmarks_align_celeba.txt,
    list_attr_celeba.txt, OPENFACE_CSV); stray_file adds a .DS_Store to the image folder.
    Returns the generator's own folder beside it."""
    made = root.parent / "made"
    generate(made, SyntheticConfig(n_images=n_images, n_identities=12, seed=5, workers=1), progress=False)
    shutil.copytree(made / "img_celeba", root / "img_align_celeba")
    if stray_file:
        (root / "img_align_celeba" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    shutil.copy2(made / "list_landmarks_celeba.txt", root / "list_landmarks_align_celeba.txt")
    shutil.copy2(made / "list_attr_celeba.txt", root / "list_attr_celeba.txt")
    (root / OPENFACE_CSV).parent.mkdir()
    shutil.copy2(made / "openface" / "img_celeba.csv", root / OPENFACE_CSV)
    return made
