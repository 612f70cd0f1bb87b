"""The synthetic face generator: landmarks on the rendered features, determinism, ground truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gatedvae.faces import celeba, geometry
from gatedvae.faces.render import Face, landmarks, render
from gatedvae.faces.synthetic import IMAGE_SIZE, SyntheticConfig, au_intensities, face_of, sample_factors

FRONTAL = Face(pitch=0.0, yaw=0.0, roll=0.0, smile=0.0, mouth_open=0.0, brow=0.0, eye_closure=0.0,
               face_width=1.0, face_height=1.0, skin_tone=0.3, hair_colour=1, hair_length=0.5,
               centre_x=89.0, centre_y=95.0, scale=30.0)


def _feature_mask(face: Face) -> np.ndarray:
    """Pixels the facial features change: a render with them minus one without."""
    rng = lambda: np.random.default_rng(7)  # noqa: E731 (the same clutter both times)
    with_features = np.asarray(render(face, IMAGE_SIZE, rng()), dtype=np.int32)
    blank = np.asarray(render(face, IMAGE_SIZE, rng(), draw_features=False), dtype=np.int32)
    return np.abs(with_features - blank).sum(axis=2) > 30


@pytest.mark.parametrize("pose", [(0, 0, 0), (0.3, -0.5, 0.2), (-0.3, 0.55, -0.3)])
def test_landmarks_lie_on_rendered_features(pose):
    sampled = sample_factors(SyntheticConfig(n_images=12, seed=11))
    faces = [dataclasses.replace(FRONTAL, pitch=pose[0], yaw=pose[1], roll=pose[2])]
    faces += [face_of(r) for r in sampled.to_dict("records")]
    for face in faces:
        mask = _feature_mask(face)
        for k, (x, y) in enumerate(landmarks(face)):
            xi, yi = int(round(x)), int(round(y))
            window = mask[yi - 1:yi + 2, xi - 1:xi + 2]
            assert window.any(), f"landmark {geometry.LANDMARK_NAMES[k]} at ({x:.1f}, {y:.1f}) is off the features"


def test_eye_landmarks_hit_the_iris():
    image = np.asarray(render(FRONTAL, IMAGE_SIZE, np.random.default_rng(0)), dtype=np.int32)
    for x, y in landmarks(FRONTAL)[:2]:
        assert image[int(round(y)), int(round(x))].max() < 90  # the dark iris, not skin or sclera


def test_frontal_geometry_is_symmetric():
    lm = landmarks(FRONTAL)
    assert lm[0, 1] == pytest.approx(lm[1, 1]) and lm[1, 0] - lm[0, 0] == pytest.approx(FRONTAL.scale)
    assert lm[2, 0] == pytest.approx(FRONTAL.centre_x)
    turned = landmarks(dataclasses.replace(FRONTAL, yaw=0.4))
    assert turned[2, 0] > FRONTAL.centre_x  # positive yaw moves the nose tip to the image's right


def test_render_is_deterministic_and_in_the_wild_size():
    a = np.asarray(render(FRONTAL, IMAGE_SIZE, np.random.default_rng(5)))
    b = np.asarray(render(FRONTAL, IMAGE_SIZE, np.random.default_rng(5)))
    assert a.shape == (218, 178, 3) and np.array_equal(a, b)


def test_factors_cover_the_configured_ranges():
    f = sample_factors(SyntheticConfig(n_images=3000, seed=1))
    assert np.degrees(f["yaw"].abs().max()) <= 35 and np.degrees(f["yaw"].abs().max()) > 30
    assert f["identity"].between(1, 200).all() and f["image_id"].iloc[0] == "000001.jpg"
    for name in ("smile", "mouth_open", "eye_closure"):
        assert (f[name] == 0).mean() == pytest.approx(1 - {"smile": .5, "mouth_open": .45, "eye_closure": .35}[name], abs=0.05)
    # identity nuisances are fixed per identity
    assert f.groupby("identity")["skin_tone"].nunique().max() == 1


def test_au_mapping_known_values():
    aus = au_intensities(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([-1.0, 0.5]), np.array([0.0, 0.2]))
    assert aus["AU12_r"].tolist() == [5.0, 0.0] and aus["AU25_r"].tolist() == [0.0, 5.0]
    assert aus["AU26_r"].tolist() == [0.0, 5.0] and aus["AU04_r"].tolist() == [5.0, 0.0]
    assert aus["AU01_r"].tolist() == [0.0, 2.5] and aus["AU45_r"].tolist() == [0.0, 1.0]
    assert aus["AU17_r"].tolist() == [0.0, 0.0]


def test_generated_dataset_layout(tiny_celeba):
    root, factors, cfg = tiny_celeba
    images = sorted(p.name for p in (root / "img_celeba").iterdir())
    assert images == factors["image_id"].tolist()
    with Image.open(root / "img_celeba" / images[0]) as im:
        assert im.format == "JPEG" and im.size == IMAGE_SIZE and im.mode == "RGB"
    stored = pd.read_parquet(root / "factors.parquet")
    pd.testing.assert_frame_equal(stored, factors)
    lm = celeba.read_landmarks(root / "list_landmarks_celeba.txt").to_numpy().reshape(-1, 5, 2)
    truth = np.stack([landmarks(face_of(r)) for r in factors.to_dict("records")])
    assert np.abs(lm - truth).max() <= 0.5  # integers, as in CelebA
    box = celeba.read_bbox(root / "list_bbox_celeba.txt").to_numpy()
    inside = ((lm[:, :, 0] >= box[:, None, 0]) & (lm[:, :, 0] <= box[:, None, 0] + box[:, None, 2])
              & (lm[:, :, 1] >= box[:, None, 1]) & (lm[:, :, 1] <= box[:, None, 1] + box[:, None, 3]))
    assert inside.all()
