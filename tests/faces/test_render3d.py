"""The 3D renderer: a turned head looks turned (silhouette, nose, ears), renders are deterministic
and the landmarks sit on what is drawn; the variance shares that measure it; the sweeps."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gatedvae.faces import geometry, sweeps
from gatedvae.faces.render import EAR_TINT, Face, landmarks, render, skin_colour
from gatedvae.faces.synthetic import IMAGE_SIZE, SyntheticConfig, face_of, generate, sample_factors
from gatedvae.faces.variance import aligned_greyscale, factor_variance_shares

DEG = np.pi / 180
# Short hair (nothing falls beside the face) and a skin tone no background colour imitates by chance.
HEAD = Face(pitch=0.0, yaw=0.0, roll=0.0, smile=0.0, mouth_open=0.0, brow=0.0, eye_closure=0.0,
            face_width=1.0, face_height=1.0, skin_tone=0.3, hair_colour=0, hair_length=0.0,
            centre_x=89.0, centre_y=95.0, scale=30.0)


def _turned(yaw_deg=0.0, pitch_deg=0.0, **changes) -> Face:
    return dataclasses.replace(HEAD, yaw=yaw_deg * DEG, pitch=pitch_deg * DEG, **changes)


def _tinted(image: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Pixels whose colour is `colour` times one light level: the Lambertian shading scales all
    three channels alike, so a surface of that colour keeps its channel ratios."""
    ratio = image.astype(np.float64) / colour
    return (image.sum(axis=2) > 60) & (np.ptp(ratio, axis=2) < 0.04)


def _rows_between_eyes_and_mouth(face: Face) -> slice:
    lm = landmarks(face)
    return slice(int(lm[:2, 1].max()) + 2, int(lm[3:, 1].min()) - 2)


def _cheek_widths(face: Face) -> tuple[float, float]:
    """Median skin width from the nose tip landmark to the face's outline, left and right, over
    the rows between the eyes and the mouth (features off: only skin there)."""
    image = np.asarray(render(face, IMAGE_SIZE, np.random.default_rng(3), draw_features=False))
    skin = _tinted(image, skin_colour(face.skin_tone))
    nose_x = landmarks(face)[2, 0]
    left, right = [], []
    for row in skin[_rows_between_eyes_and_mouth(face)]:
        columns = np.flatnonzero(row)
        left.append(nose_x - columns.min())
        right.append(columns.max() - nose_x)
    return float(np.median(left)), float(np.median(right))


def test_yaw_narrows_the_far_cheek_and_widens_the_near_one():
    left, right = _cheek_widths(_turned(0))
    assert left == pytest.approx(right, abs=1.5)                 # frontal: symmetric
    left, right = _cheek_widths(_turned(30))                     # turned to the image's right
    assert left > 1.6 * right, (left, right)
    mirrored = _cheek_widths(_turned(-30))
    assert mirrored[1] > 1.6 * mirrored[0], mirrored


def test_the_outline_moves_against_the_nose():
    """The head's centre sits behind the eyes, so a turn moves the outline's middle the other
    way from the features (as in a photograph): the skin's centre lags the nose tip."""
    def skin_centre(face):
        image = np.asarray(render(face, IMAGE_SIZE, np.random.default_rng(3), draw_features=False))
        skin = _tinted(image, skin_colour(face.skin_tone))[_rows_between_eyes_and_mouth(face)]
        return np.flatnonzero(skin.any(axis=0)).mean()

    for yaw in (-30, 30):
        face = _turned(yaw)
        lag = skin_centre(face) - landmarks(face)[2, 0]
        assert np.sign(lag) == -np.sign(yaw) and abs(lag) > 0.3 * face.scale, (yaw, lag)


def _drawn_nose_tip_span(face: Face) -> tuple[int, int]:
    """The first and last column of what the features add in the rows at the nose tip landmark."""
    rng = lambda: np.random.default_rng(9)  # noqa: E731 (the same clutter both times)
    drawn = np.asarray(render(face, IMAGE_SIZE, rng()), dtype=np.int32)
    blank = np.asarray(render(face, IMAGE_SIZE, rng(), draw_features=False), dtype=np.int32)
    tip_row = int(round(landmarks(face)[2, 1]))
    band = (np.abs(drawn - blank).sum(axis=2) > 30)[tip_row - 1:tip_row + 2]
    columns = np.flatnonzero(band.any(axis=0))
    return int(columns.min()), int(columns.max())


@pytest.mark.parametrize("yaw", [-30, -15, 15, 30])
def test_nose_tip_and_drawn_nose_move_with_yaw(yaw):
    face = _turned(yaw)
    lm = landmarks(face)
    eyes_mid = lm[:2, 0].mean()
    tip_shift = lm[2, 0] - eyes_mid
    # The generic nose tip is 0.55 in front of the eyes' plane: it moves by 0.55 sin(yaw).
    assert tip_shift / face.scale == pytest.approx(geometry.NOSE_DEPTH * np.sin(yaw * DEG), abs=1e-9)
    # The drawn nose follows: the landmark is on it, its edge in the turn's direction (the tip's
    # profile, or a nostril wing on small turns) moves out and the other edge in.
    first, last = _drawn_nose_tip_span(face)
    assert first - 1 <= lm[2, 0] <= last + 1
    front_first, front_last = _drawn_nose_tip_span(HEAD)
    front_mid = landmarks(HEAD)[:2, 0].mean()
    assert (front_first + front_last) / 2 == pytest.approx(landmarks(HEAD)[2, 0], abs=1.0)
    leading = (last - eyes_mid if yaw > 0 else eyes_mid - first) - (front_last - front_mid)
    trailing = (eyes_mid - first if yaw > 0 else last - eyes_mid) - (front_mid - front_first)
    assert leading > 0.5 * abs(tip_shift) and trailing < 0, (leading, trailing, tip_shift)


def _ear_pixels(face: Face) -> tuple[int, int]:
    """Ear-coloured pixels left and right of the face, in the rows between the eyes and the mouth
    and beyond every feature (0.75 inter-ocular distances from the eye midpoint)."""
    image = np.asarray(render(face, IMAGE_SIZE, np.random.default_rng(3)))
    ears = _tinted(image, skin_colour(face.skin_tone) * EAR_TINT)[_rows_between_eyes_and_mouth(face)]
    middle = landmarks(face)[:2, 0].mean()
    reach = 0.75 * face.scale
    left, right = int(np.floor(middle - reach)), int(np.ceil(middle + reach))
    return int(ears[:, :left].sum()), int(ears[:, right:].sum())


def test_ears_show_on_the_near_side_only():
    left, right = _ear_pixels(_turned(0))
    assert min(left, right) > 100 and max(left, right) < 2 * min(left, right)   # the light is from the left
    left, right = _ear_pixels(_turned(30))          # face turned right: its left side is near
    assert left > 40 and right == 0, (left, right)
    left, right = _ear_pixels(_turned(-30))
    assert right > 40 and left == 0, (left, right)


def test_pitch_moves_the_nose_tip_down_when_looking_down():
    down, up = landmarks(_turned(pitch_deg=20)), landmarks(_turned(pitch_deg=-20))
    below_eyes = lambda lm: lm[2, 1] - lm[:2, 1].mean()  # noqa: E731 (image y grows downwards)
    assert below_eyes(down) > below_eyes(landmarks(HEAD)) > below_eyes(up)


def test_render_is_deterministic_byte_for_byte():
    face = face_of(sample_factors(SyntheticConfig(n_images=1, seed=4)).iloc[0])
    first = render(face, IMAGE_SIZE, np.random.default_rng([4, 1])).tobytes()
    again = render(face, IMAGE_SIZE, np.random.default_rng([4, 1])).tobytes()
    assert first == again


def test_landmarks_lie_on_rendered_features_over_many_poses():
    """As test_synthetic's landmark test, on more faces: every landmark has a pixel that the
    features change within one pixel of it."""
    for row in sample_factors(SyntheticConfig(n_images=80, seed=21)).to_dict("records"):
        face = face_of(row)
        drawn, blank = (np.asarray(render(face, IMAGE_SIZE, np.random.default_rng(2), draw_features=features),
                                   dtype=np.int32) for features in (True, False))
        mask = np.abs(drawn - blank).sum(axis=2) > 30
        for k, (x, y) in enumerate(landmarks(face)):
            xi, yi = int(round(x)), int(round(y))
            assert mask[yi - 1:yi + 2, xi - 1:xi + 2].any(), (geometry.LANDMARK_NAMES[k], row)


def test_mouth_corner_landmarks_sit_on_the_skin():
    """The mouth is painted on the head's surface, so its corners' depth is the surface's."""
    face = _turned(25, 10, smile=0.8, mouth_open=0.6)
    head = geometry.head_ellipsoid(face.face_width, face.face_height, 0.22 * face.mouth_open)
    rot = geometry.rotation(face.pitch, face.yaw, face.roll)
    corner = geometry.LANDMARKS_3D[4, :2] + np.array([geometry.SMILE_WIDEN, geometry.SMILE_LIFT]) * face.smile
    point = np.array([corner[0], corner[1], geometry.front_z(head, *corner)])
    expected = geometry.project(point[None], rot, face.scale, (face.centre_x, face.centre_y))[0]
    np.testing.assert_allclose(landmarks(face)[4], expected, atol=1e-9)
    # and the eye centres lie on the head: the ellipsoid passes through (+-0.5, 0, 0)
    assert geometry.front_z(head, 0.5, 0.0) == pytest.approx(0.0, abs=1e-12)


def test_cast_known_answer_on_a_sphere_and_a_turned_ellipsoid():
    sphere = geometry.Ellipsoid(np.array([0.2, -0.1, -1.0]), np.array([0.5, 0.5, 0.5]))
    xs = np.linspace(-0.5, 0.9, 15, dtype=np.float32)[None, :]
    ys = np.linspace(-0.7, 0.5, 13, dtype=np.float32)[:, None]
    placed = geometry.Placed(sphere, np.eye(3))
    t = placed.cast(xs, ys)
    inside = 0.25 - (xs - 0.2) ** 2 - (ys + 0.1) ** 2
    hit, miss = inside > 1e-4, inside < -1e-4                     # (rays grazing the outline aside)
    np.testing.assert_allclose(t[hit], -1.0 + np.sqrt(inside[hit]), atol=1e-5)
    assert (t[miss] < geometry.MISS / 2).all()                   # float32's nearest to MISS
    # The normal at the sphere's front faces the camera; at its side, sideways.
    front = placed.surface(np.float32([0.2]), np.float32([-0.1]), np.float32([-0.5]))
    assert front.facing([0.0, 0.0, 1.0])[0] == pytest.approx(1.0, abs=1e-6)
    side = placed.surface(np.float32([0.7]), np.float32([-0.1]), np.float32([-1.0]))
    assert side.facing([1.0, 0.0, 0.0])[0] == pytest.approx(1.0, abs=1e-6)
    # A long ellipsoid turned 90 degrees about y shows its long axis along the camera's x.
    rod = geometry.Ellipsoid(np.zeros(3), np.array([0.1, 0.1, 1.0]))
    low, high = geometry.extent(rod, geometry.rotation(0.0, np.pi / 2, 0.0))
    np.testing.assert_allclose(np.concatenate([low, high]), [-1.0, -0.1, 1.0, 0.1], atol=1e-12)
    t = geometry.Placed(rod, geometry.rotation(0.0, np.pi / 2, 0.0)).cast(
        np.float32([[0.0, 0.6, 1.1]]), np.float32([[0.0]]))
    np.testing.assert_allclose(t[0, :2], [0.1, 0.1 * np.sqrt(1 - 0.36)], atol=1e-6)
    assert t[0, 2] < geometry.MISS / 2


# --- variance shares ---------------------------------------------------------------------------

def _random_factors(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"image_id": [f"{i + 1:06d}.jpg" for i in range(n)],
                         "identity": rng.integers(1, 21, n),
                         "yaw": rng.uniform(-0.6, 0.6, n), "pitch": rng.uniform(-0.4, 0.4, n),
                         "smile": rng.uniform(0, 1, n), "mouth_open": rng.uniform(0, 1, n),
                         "brow": rng.uniform(-1, 1, n), "eye_closure": rng.uniform(0, 1, n)})


def _images_from(values: np.ndarray, noise: float = 0.0, seed: int = 1) -> np.ndarray:
    """[N, 8, 8] uint8 images whose pixels are a fixed per-pixel pattern times `values`."""
    rng = np.random.default_rng(seed)
    pattern = rng.uniform(0.2, 1.0, (8, 8))
    images = 40 + values[:, None, None] * pattern * 150 + rng.normal(0, noise, (len(values), 8, 8))
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("group", ["pose", "expression", "identity"])
def test_variance_shares_known_answer(group):
    """Images that are a pure function of one group's bins have share ~1 for it and ~0 for the
    others (the factors are independent)."""
    from gatedvae.faces.variance import factor_groups

    factors = _random_factors(4000)
    groups = factor_groups(factors)[group]
    _, ids = np.unique(groups, return_inverse=True)
    levels = np.random.default_rng(5).uniform(0, 1, ids.max() + 1)
    shares = factor_variance_shares(_images_from(levels[ids]), factors)
    assert shares[group] > 0.99
    for other, share in shares.items():
        if other != group:
            assert abs(share) < 0.03, (other, share)


def test_variance_shares_of_noise_are_zero_and_rows_must_match():
    factors = _random_factors(3000)
    shares = factor_variance_shares(_images_from(np.zeros(3000), noise=20.0), factors)
    assert all(abs(v) < 0.02 for v in shares.values()), shares
    with pytest.raises(ValueError, match="factor rows"):
        factor_variance_shares(np.zeros((10, 8, 8), np.uint8), factors)


def test_pose_explains_more_than_the_flat_renderer_did():
    """Measured on 300 images (30 identities) for seeds 0-2: the flat renderer this replaced had
    pose shares 0.05-0.11; this one 0.16-0.20, and pose dominates expression."""
    cfg = SyntheticConfig(n_images=300, n_identities=30, seed=1, workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp) / "raw", cfg, progress=False)
        images, factors = aligned_greyscale(Path(tmp) / "raw")
    assert images.shape == (300, 64, 64) and factors["image_id"].tolist() == sorted(factors["image_id"])
    shares = factor_variance_shares(images, factors)
    assert shares["pose"] > 0.14, shares
    assert shares["pose"] > 2 * shares["expression"], shares


# --- sweeps --------------------------------------------------------------------------------------

def test_pose_sweeps_turn_the_head(tmp_path):
    cfg = SyntheticConfig()
    grid = sweeps.pose_sweep("yaw", cfg, steps=3)
    assert grid.shape == (3, 3, 64, 64) and grid.dtype == np.uint8
    # the ends of the sweep are mirror images of each other, roughly (the light is not symmetric)
    left, middle, right = grid[0].astype(np.float64)
    apart = np.abs(left - right).mean()
    assert apart > 8 and np.abs(left - right[:, ::-1]).mean() < apart
    assert np.abs(left - middle).mean() > 5 and np.abs(right - middle).mean() > 5
    with pytest.raises(ValueError, match="yaw' or 'pitch"):
        sweeps.pose_sweep("roll", cfg)
    sweeps.save_sweep_figure(grid, tmp_path / "yaw.png", "yaw", column_labels=["-35", "0", "35"])
    with Image.open(tmp_path / "yaw.png") as im:
        assert im.format == "PNG" and im.size[0] > 200


def test_expression_sweep_changes_each_factor_visibly():
    grid = sweeps.expression_sweep(steps=3).astype(np.float64)
    assert grid.shape == (4, 3, 64, 64)
    for row, (name, _, _) in enumerate(sweeps.EXPRESSIONS):
        changed = (np.abs(grid[row, -1] - grid[row, 0]) > 25).sum()   # pixels, of 4096
        assert changed > 40, (name, changed)
