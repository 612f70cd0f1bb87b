"""Draw one parametric face into an in-the-wild RGB image with PIL.

Every facial feature is a set of 3D points in the generic face frame (geometry.py), moved by the
expression factors, rotated by the head pose and projected; drawing happens at twice the output
size and is box-filtered down, which anti-aliases edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from gatedvae.faces import geometry

SUPERSAMPLE = 2
HAIR_COLOURS = np.array([[25, 20, 18], [70, 45, 30], [120, 85, 50], [200, 170, 110],
                         [150, 150, 150], [140, 60, 30]], dtype=np.float64)
HAIR_COLOUR_NAMES = ("black", "dark_brown", "brown", "blond", "grey", "red")
# Skin tones from light to dark; a factor in [0, 1] interpolates along them.
SKIN_TONES = np.array([[245, 215, 190], [225, 180, 145], [190, 140, 105], [140, 95, 65],
                       [95, 62, 45]], dtype=np.float64)


@dataclass(frozen=True)
class Face:
    """Every factor of one rendered face (pose in radians, expression factors in [0, 1])."""
    pitch: float
    yaw: float
    roll: float
    smile: float
    mouth_open: float
    brow: float          # -1 lowered (AU04) .. 0 neutral .. 1 raised (AU01/AU02)
    eye_closure: float
    face_width: float    # nuisance: head shape multipliers near 1
    face_height: float
    skin_tone: float     # 0 light .. 1 dark
    hair_colour: int     # index into HAIR_COLOURS
    hair_length: float   # 0 short .. 1 long
    centre_x: float      # eye-midpoint position in the output image, pixels
    centre_y: float
    scale: float         # pixels per inter-ocular distance


def skin_colour(tone: float) -> np.ndarray:
    position = np.clip(tone, 0, 1) * (len(SKIN_TONES) - 1)
    low = int(np.floor(position))
    high = min(low + 1, len(SKIN_TONES) - 1)
    return SKIN_TONES[low] + (position - low) * (SKIN_TONES[high] - SKIN_TONES[low])


def _ellipse(cx, cy, ax, ay, n=24):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t), np.zeros(n)], axis=1)


def _colour(rgb) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.clip(np.round(rgb), 0, 255))


def feature_points(face: Face) -> dict[str, np.ndarray]:
    """The face-frame 3D outlines of every feature for this face's expression."""
    eye_half_height = 0.14 * (1.0 - 0.92 * face.eye_closure)
    parts: dict[str, np.ndarray] = {}
    for side, sx in (("left", -1.0), ("right", 1.0)):
        parts[f"{side}_eye"] = _ellipse(0.5 * sx, 0.0, 0.24, eye_half_height)
        iris_r = min(0.1, eye_half_height)
        parts[f"{side}_iris"] = _ellipse(0.5 * sx, 0.0, 0.1, iris_r, n=16)
        raise_, lower = max(face.brow, 0.0), max(-face.brow, 0.0)
        inner_y = 0.30 + 0.16 * raise_ - 0.14 * lower
        mid_y = 0.36 + 0.20 * raise_ - 0.04 * lower
        outer_y = 0.29 + 0.12 * raise_
        inner_x = 0.22 + 0.04 * lower
        xs = sx * np.array([inner_x, 0.5, 0.78, 0.78, 0.5, inner_x])
        ys = np.array([inner_y, mid_y, outer_y, outer_y - 0.05, mid_y - 0.08, inner_y - 0.08])
        parts[f"{side}_brow"] = np.stack([xs, ys, np.zeros(6)], axis=1)
    nose_tip = geometry.LANDMARKS_3D[2]
    parts["nose"] = np.array([[0.0, -0.05, 0.22], [0.06, -0.05, 0.25], nose_tip + [0.11, -0.04, -0.05],
                              nose_tip + [0.0, -0.07, 0.0], nose_tip + [-0.11, -0.04, -0.05],
                              [-0.06, -0.05, 0.25]])
    corner_x = 0.42 + 0.08 * face.smile
    corner_y = -1.08 + 0.14 * face.smile
    gap = 0.34 * face.mouth_open
    xs = np.linspace(-corner_x, corner_x, 9)
    bow = 1.0 - (xs / corner_x) ** 2           # 1 at the centre, 0 at the corners
    upper_outer = corner_y + (0.10 - 0.10 * face.smile) * bow + 0.02 * bow
    upper_inner = corner_y + 0.01 * bow - 0.06 * face.smile * bow
    lower_inner = upper_inner - gap * bow
    lower_outer = lower_inner - 0.11 * bow - 0.02
    lower_outer[[0, -1]] = corner_y
    z = np.zeros(9)
    parts["lips"] = np.concatenate([np.stack([xs, upper_outer, z], 1),
                                    np.stack([xs[::-1], lower_outer[::-1], z], 1)])
    parts["mouth_inside"] = np.concatenate([np.stack([xs, upper_inner, z], 1),
                                            np.stack([xs[::-1], lower_inner[::-1], z], 1)])
    return parts


def landmarks(face: Face) -> np.ndarray:
    """The 5 CelebA landmarks of this face in output-image pixels, shape [5, 2]."""
    rot = geometry.rotation(face.pitch, face.yaw, face.roll)
    points = geometry.LANDMARKS_3D.copy()
    points[3:, 0] = [-(0.42 + 0.08 * face.smile), 0.42 + 0.08 * face.smile]
    points[3:, 1] = -1.08 + 0.14 * face.smile
    return geometry.project(points, rot, face.scale, (face.centre_x, face.centre_y))


def render(face: Face, size: tuple[int, int], rng: np.random.Generator, *,
           draw_features: bool = True) -> Image.Image:
    """An RGB image of `size` (width, height): cluttered background, hair, head and features.

    `rng` draws only the background clutter, so two calls with equal generators and faces give
    equal images; `draw_features=False` leaves the face blank (the landmark test compares both).
    """
    ss = SUPERSAMPLE
    width, height = size
    image = Image.new("RGB", (width * ss, height * ss))
    draw = ImageDraw.Draw(image)
    _background(draw, width * ss, height * ss, rng)

    rot = geometry.rotation(face.pitch, face.yaw, face.roll)
    scale = face.scale * ss
    centre = (face.centre_x * ss, face.centre_y * ss)

    def poly(points):
        return [tuple(p) for p in geometry.project(points, rot, scale, centre)]

    skin = skin_colour(face.skin_tone)
    hair = HAIR_COLOURS[face.hair_colour]
    head_c = geometry.HEAD_CENTRE
    ax = geometry.HEAD_AXES[0] * face.face_width
    ay = geometry.HEAD_AXES[1] * face.face_height + 0.1 * face.mouth_open
    # Shoulders and neck, then hair behind the head (long hair reaches the shoulders), the head,
    # and a fringe cap over the forehead.
    clothes = _colour(rng.uniform(20, 200, 3))
    draw.polygon(poly(_ellipse(head_c[0], head_c[1] - 2.9, 2.6, 1.3, n=32) + [0, 0, head_c[2] - 0.5]),
                 fill=clothes)
    draw.polygon(poly(np.array([[-0.5, -1.2, -0.6], [0.5, -1.2, -0.6], [0.55, -2.2, -0.6],
                                [-0.55, -2.2, -0.6]])), fill=_colour(skin * 0.85))
    draw.polygon(poly(_ellipse(head_c[0], head_c[1] + 0.35 - 0.6 * face.hair_length, ax * 1.18,
                               ay * (1.0 + 0.45 * face.hair_length), n=40) + [0, 0, head_c[2]]),
                 fill=_colour(hair))
    draw.polygon(poly(_ellipse(head_c[0], head_c[1] - 0.1 * face.mouth_open, ax, ay, n=48)
                      + [0, 0, head_c[2]]), fill=_colour(skin))
    cap = _ellipse(head_c[0], head_c[1] + ay * 0.62, ax * 1.02, ay * 0.45, n=40) + [0, 0, head_c[2]]
    cap = cap[cap[:, 1] > head_c[1] + ay * 0.62 - 0.05]
    draw.polygon(poly(np.concatenate([cap, [[ax * 0.9, 0.45, -0.2], [-ax * 0.9, 0.45, -0.2]]])),
                 fill=_colour(hair))
    if draw_features:
        _features(draw, face, poly, skin, hair, scale)
    return image.reduce(ss)


def _features(draw, face, poly, skin, hair, scale):
    parts = feature_points(face)
    line = max(1, int(round(0.035 * scale)))
    for side in ("left", "right"):
        draw.polygon(poly(parts[f"{side}_brow"]), fill=_colour(hair * 0.7))
        draw.polygon(poly(parts[f"{side}_eye"]), fill=(235, 235, 230))
        draw.polygon(poly(parts[f"{side}_iris"]), fill=(50, 35, 30))
        # Upper lid line over the top half of the eye outline (points 0..12 have y >= 0).
        draw.line(poly(parts[f"{side}_eye"][:13]), fill=_colour(skin * 0.4), width=line)
    draw.polygon(poly(parts["nose"]), fill=_colour(skin * 0.78))
    draw.polygon(poly(parts["lips"]), fill=_colour(skin * np.array([0.75, 0.45, 0.45])))
    draw.polygon(poly(parts["mouth_inside"]), fill=(60, 20, 25))
    if face.mouth_open > 0.25 and face.smile > 0.3:
        teeth = parts["mouth_inside"][:9].copy()
        lower = teeth.copy()
        lower[:, 1] -= 0.06
        draw.polygon(poly(np.concatenate([teeth, lower[::-1]])), fill=(230, 228, 215))


def _background(draw, width, height, rng):
    """A vertical two-colour gradient with a few muted shapes: in-the-wild clutter."""
    top, bottom = rng.uniform(30, 230, 3), rng.uniform(30, 230, 3)
    steps = 48
    for i in range(steps):
        colour = top + (bottom - top) * i / (steps - 1)
        y0 = height * i // steps
        draw.rectangle([0, y0, width, height * (i + 1) // steps], fill=_colour(colour))
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.1, 0.5) * width, rng.uniform(0.1, 0.5) * height
        colour = _colour(rng.uniform(40, 220, 3))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
