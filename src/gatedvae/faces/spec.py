"""Faces in one place: the latent partitions (the pair index's columns, in latent order), the
factors that belong to each, and CelebA's image sets. Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass, fields

PARTITIONS = ("pose", "expression")
POSE_FACTORS = ("yaw", "pitch")
EXPRESSION_FACTORS = ("smile", "mouth_open", "brow", "eye_closure")
# partition -> the synthetic faces' factors whose placement it is scored on
FACTOR_GROUPS = {"pose": POSE_FACTORS, "expression": EXPRESSION_FACTORS}
FACTOR_NAMES = [f for group in FACTOR_GROUPS.values() for f in group]
# each factor's intended partition (its index in PARTITIONS)
INTENDED = [PARTITIONS.index(g) for g, members in FACTOR_GROUPS.items() for _ in members]

SOURCES = ("synthetic", "path", "download")
# image set -> (image folder, landmark file) in CelebA's official layout
IMAGE_SETS = {"wild": ("img_celeba", "list_landmarks_celeba.txt"),
              "aligned": ("img_align_celeba", "list_landmarks_align_celeba.txt")}

EXTRACTORS = ("openface", "celeba_annotations", "landmarks68", "synthetic")
# OpenFace 2.0 action-unit columns: intensities (0-5) and presences (0/1)
AU_INTENSITIES = ("AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r",
                  "AU12_r", "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r",
                  "AU45_r")
AU_PRESENCES = tuple(a.replace("_r", "_c") for a in AU_INTENSITIES[:-1]) + ("AU28_c", "AU45_c")


@dataclass(frozen=True)
class Needs:
    """What the chosen stages read from the raw folder, so acquisition checks and installs just that."""
    image_set: str                    # `aligned` or `wild` (spec.IMAGE_SETS)
    attributes: bool = False          # list_attr_celeba.txt (the celeba_annotations extractor)
    openface_csv: str | None = None   # the OpenFace output, relative to the folder (openface extractor)

    @property
    def image_folder(self) -> str:
        return IMAGE_SETS[self.image_set][0]

    @property
    def annotations(self) -> tuple[str, ...]:
        landmarks = IMAGE_SETS[self.image_set][1]
        return (landmarks, "list_attr_celeba.txt") if self.attributes else (landmarks,)


@dataclass(frozen=True)
class SyntheticConfig:
    n_images: int = 2000
    n_identities: int = 200
    seed: int = 0
    max_yaw_deg: float = 35.0
    max_pitch_deg: float = 22.0
    max_roll_deg: float = 20.0
    jpeg_quality: int = 90
    # OpenFace CSV: noise on pose (degrees) and AU intensities, failed and low-confidence rows.
    openface_pose_noise_deg: float = 2.0
    openface_au_noise: float = 0.3
    openface_failure_rate: float = 0.02
    openface_low_confidence_rate: float = 0.03
    workers: int = 0  # 0: all cores


def config_from_dict(values: dict) -> SyntheticConfig:
    known = {f.name for f in fields(SyntheticConfig)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown synthetic options {sorted(unknown)}; known: {sorted(known)}")
    return SyntheticConfig(**values)
