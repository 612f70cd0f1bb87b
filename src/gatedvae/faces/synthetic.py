"""A synthetic CelebA: in-the-wild JPEGs of parametric faces with known factors, in CelebA's layout.

Writes into `root`:
  img_celeba/000001.jpg ...          RGB JPEGs (178x218 by default) of faces at random places
  list_landmarks_celeba.txt          5 landmarks in those images' coordinates
  list_bbox_celeba.txt               face bounding boxes
  list_attr_celeba.txt               the 40 attributes; Smiling, Mouth_Slightly_Open, Narrow_Eyes,
                                     hair colours, Pale_Skin, Male from the factors
  list_eval_partition.txt, identity_CelebA.txt
  factors.parquet                    every factor and AU intensity, one row per image
  openface/img_celeba.csv            an OpenFace FeatureExtraction CSV (-fdir over img_celeba,
                                     frames in file-name order): truth plus noise, some failures
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from gatedvae.atomic import atomic_path, save_parquet
from gatedvae.faces import celeba, openface
from gatedvae.faces.render import HAIR_COLOUR_NAMES, Face, landmarks, render
from gatedvae.faces.spec import SyntheticConfig

IMAGE_SIZE = (178, 218)


def au_intensities(smile, mouth_open, brow, eye_closure) -> dict[str, np.ndarray]:
    """The AU intensities (0..5) that the expression factors stand for; others are 0."""
    smile, mouth_open, brow, eye_closure = map(np.asarray, (smile, mouth_open, brow, eye_closure))
    zero = np.zeros_like(smile, dtype=np.float64)
    aus = {name: zero.copy() for name in openface.AU_INTENSITIES}
    aus["AU12_r"] = 5.0 * smile                                   # lip-corner puller
    aus["AU06_r"] = 2.5 * smile                                   # cheek raiser goes with a smile
    aus["AU25_r"] = 5.0 * np.clip(mouth_open * 2.0, 0, 1)        # lips part
    aus["AU26_r"] = 5.0 * np.clip((mouth_open - 0.3) / 0.7, 0, 1)  # jaw drop
    aus["AU01_r"] = 5.0 * np.clip(brow, 0, 1)                     # inner brow raiser
    aus["AU02_r"] = 5.0 * np.clip(brow, 0, 1)                     # outer brow raiser
    aus["AU04_r"] = 5.0 * np.clip(-brow, 0, 1)                    # brow lowerer
    aus["AU45_r"] = 5.0 * eye_closure                             # blink
    return aus


def sample_factors(cfg: SyntheticConfig) -> pd.DataFrame:
    """One row per image: identity nuisances, pose, expression, placement; vectorised."""
    rng = np.random.default_rng(cfg.seed)
    n, k = cfg.n_images, cfg.n_identities
    ident = pd.DataFrame({
        "face_width": rng.uniform(0.85, 1.12, k), "face_height": rng.uniform(0.9, 1.08, k),
        "skin_tone": rng.beta(1.6, 1.6, k), "hair_colour": rng.integers(0, len(HAIR_COLOUR_NAMES), k),
        "hair_length": rng.uniform(0, 1, k), "male": rng.random(k) < 0.5,
    })
    identity = rng.integers(0, k, n)
    frame = ident.iloc[identity].reset_index(drop=True)
    frame.insert(0, "identity", identity + 1)
    deg = np.pi / 180
    frame["yaw"] = rng.uniform(-cfg.max_yaw_deg, cfg.max_yaw_deg, n) * deg
    frame["pitch"] = rng.uniform(-cfg.max_pitch_deg, cfg.max_pitch_deg, n) * deg
    frame["roll"] = rng.uniform(-cfg.max_roll_deg, cfg.max_roll_deg, n) * deg

    def active(p, low, high):  # about half the faces show each action, at varied strengths
        return np.where(rng.random(n) < p, rng.uniform(low, high, n), 0.0)

    frame["smile"] = active(0.5, 0.1, 1.0)
    frame["mouth_open"] = active(0.45, 0.1, 1.0)
    frame["brow"] = active(0.6, -1.0, 1.0)
    frame["eye_closure"] = active(0.35, 0.1, 1.0)
    frame["scale"] = rng.uniform(24, 34, n)
    width, height = IMAGE_SIZE
    frame["centre_x"] = rng.uniform(0.38, 0.62, n) * width
    frame["centre_y"] = rng.uniform(0.38, 0.52, n) * height
    for name, values in au_intensities(frame["smile"], frame["mouth_open"], frame["brow"],
                                       frame["eye_closure"]).items():
        frame[name] = values
    frame.insert(0, "image_id", [f"{i + 1:06d}.jpg" for i in range(n)])
    return frame


def face_of(row) -> Face:
    return Face(**{f.name: (int(row[f.name]) if f.name == "hair_colour" else float(row[f.name]))
                   for f in fields(Face)})


def _render_chunk(args) -> list[np.ndarray]:
    """Render and save one chunk of images; returns their landmarks (runs in a worker)."""
    rows, folder, seed, quality = args
    out = []
    for row in rows:
        face = face_of(row)
        rng = np.random.default_rng([seed, int(row["image_id"][:-4])])
        image = render(face, IMAGE_SIZE, rng)
        image.save(Path(folder) / row["image_id"], format="JPEG", quality=quality)
        out.append(landmarks(face))
    return out


def generate(root: str | Path, cfg: SyntheticConfig, *, progress: bool = True) -> pd.DataFrame:
    """Write the synthetic CelebA into `root` (replacing it whole); returns the factors."""
    root = Path(root)
    factors = sample_factors(cfg)
    with atomic_path(root) as tmp:
        images = tmp / "img_celeba"
        images.mkdir(parents=True)
        records = factors.to_dict("records")
        chunk = 64
        jobs = [(records[i:i + chunk], str(images), cfg.seed, cfg.jpeg_quality)
                for i in range(0, len(records), chunk)]
        workers = cfg.workers or os.cpu_count() or 1
        points: list[np.ndarray] = []
        bar = tqdm(total=len(records), desc="render faces", unit="img", disable=not progress)
        if workers == 1:
            results = map(_render_chunk, jobs)
            for result in results:
                points += result
                bar.update(len(result))
        else:
            with ProcessPoolExecutor(workers) as pool:
                for result in pool.map(_render_chunk, jobs):
                    points += result
                    bar.update(len(result))
        bar.close()
        lm = np.stack(points)  # [N, 5, 2]
        _write_annotations(tmp, factors, lm, cfg)
        save_parquet(tmp / "factors.parquet", factors)
    return factors


def _write_annotations(root: Path, factors: pd.DataFrame, lm: np.ndarray, cfg: SyntheticConfig) -> None:
    ids = pd.Index(factors["image_id"], name="image_id")
    celeba.write_landmarks(root / "list_landmarks_celeba.txt",
                           pd.DataFrame(np.round(lm.reshape(len(lm), 10)).astype(np.int64), index=ids,
                                        columns=celeba.LANDMARK_COLUMNS))
    # The face box: around the landmarks, widened like CelebA's (which includes forehead and chin).
    iod = np.hypot(*(lm[:, 1] - lm[:, 0]).T)
    size = np.maximum(factors["scale"].to_numpy(), iod) * 2.6
    centre = lm.mean(axis=1)
    box = np.stack([centre[:, 0] - size / 2, centre[:, 1] - size * 0.55, size, size * 1.25], axis=1)
    box[:, :2] = np.maximum(box[:, :2], 0)
    celeba.write_bbox(root / "list_bbox_celeba.txt",
                      pd.DataFrame(np.round(box).astype(np.int64), index=ids, columns=celeba.BBOX_COLUMNS))
    celeba.write_attributes(root / "list_attr_celeba.txt", attributes_from_factors(factors, cfg.seed))
    n = len(factors)
    partition = np.where(np.arange(n) < 0.8 * n, 0, np.where(np.arange(n) < 0.9 * n, 1, 2))
    celeba.write_eval_partition(root / "list_eval_partition.txt", pd.Series(partition, index=ids))
    celeba.write_identity(root / "identity_CelebA.txt", pd.Series(factors["identity"].to_numpy(), index=ids))
    openface.write_sequence_csv(root / "openface" / "img_celeba.csv", openface_rows(factors, cfg))


def attributes_from_factors(factors: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 40])
    n = len(factors)
    attrs = pd.DataFrame(np.where(rng.random((n, 40)) < 0.15, 1, -1), columns=celeba.ATTRIBUTES,
                         index=pd.Index(factors["image_id"], name="image_id"))

    def setcol(name, mask):
        attrs[name] = np.where(np.asarray(mask), 1, -1)

    hair = factors["hair_colour"].to_numpy()
    setcol("Smiling", factors["smile"] > 0.4)
    setcol("Mouth_Slightly_Open", factors["mouth_open"] > 0.15)
    setcol("Narrow_Eyes", factors["eye_closure"] > 0.5)
    setcol("Arched_Eyebrows", factors["brow"] > 0.4)
    setcol("Black_Hair", hair == 0)
    setcol("Brown_Hair", (hair == 1) | (hair == 2))
    setcol("Blond_Hair", hair == 3)
    setcol("Gray_Hair", hair == 4)
    setcol("Pale_Skin", factors["skin_tone"] < 0.15)
    setcol("Male", factors["male"])
    setcol("Eyeglasses", np.zeros(n, bool))
    setcol("Wearing_Hat", np.zeros(n, bool))
    return attrs


def openface_rows(factors: pd.DataFrame, cfg: SyntheticConfig) -> pd.DataFrame:
    """What OpenFace would report: truth plus noise, the pose in OpenFace's convention (its yaw
    and roll the project's negated; openface.from_project_pose); failed rows are zeros with
    success 0; low-confidence rows carry five times the noise."""
    rng = np.random.default_rng([cfg.seed, 26])
    n = len(factors)
    fail = rng.random(n) < cfg.openface_failure_rate
    low = ~fail & (rng.random(n) < cfg.openface_low_confidence_rate)
    noise_scale = np.where(low, 5.0, 1.0)
    deg = np.pi / 180
    rows = pd.DataFrame({"confidence": np.where(low, rng.uniform(0.2, 0.6, n), rng.uniform(0.85, 0.98, n)),
                         "success": (~fail).astype(int)})
    rows["pose_Tx"] = (factors["centre_x"] - IMAGE_SIZE[0] / 2) * 2.0
    rows["pose_Ty"] = (factors["centre_y"] - IMAGE_SIZE[1] / 2) * 2.0
    rows["pose_Tz"] = 18000.0 / factors["scale"]
    # noise on the project's angles, written in OpenFace's convention (openface.py)
    noisy = [factors[factor].to_numpy() + rng.normal(0, cfg.openface_pose_noise_deg * deg, n) * noise_scale
             for factor in ("pitch", "yaw", "roll")]
    for name, values in zip(("pose_Rx", "pose_Ry", "pose_Rz"), openface.from_project_pose(*noisy)):
        rows[name] = values
    for name in openface.AU_INTENSITIES:
        noisy = factors[name] + rng.normal(0, cfg.openface_au_noise, n) * noise_scale
        rows[name] = np.clip(noisy, 0, 5)
    for name in openface.AU_PRESENCES:
        source = name.replace("_c", "_r")
        rows[name] = (rows[source] > 1.0).astype(int) if source in rows else 0
    values = [c for c in rows.columns if c not in ("success",)]
    rows.loc[fail, values] = 0.0
    return rows
