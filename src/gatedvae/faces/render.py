"""Draw one parametric face into an in-the-wild RGB image: a small ray caster over ellipsoids.

The head is an ellipsoid (geometry.head_ellipsoid) whose centre sits well behind the eyes, with
a hair cap, two ears and a protruding nose, each an ellipsoid too. Every pixel's orthographic
ray keeps its nearest hit (a depth buffer), so the far side of a turned head is hidden, the far
ear goes behind it and its silhouette is the rotated ellipsoid's outline. The eyes, brows and
mouth are painted onto the head's surface (a texture over face-frame x, y, looked up at each
hit), so they are foreshortened with it. A fixed light shades every hit (Lambertian), so a turn
shows in the greyscale intensity too. Visibility is resolved on 2 x 2 subpixels, which
anti-aliases every edge (raster). Long hair, neck and shoulders, always behind the head, are
flat polygons drawn with the background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

from gatedvae.faces import geometry
from gatedvae.faces.geometry import Ellipsoid, Surface

SUPERSAMPLE = 2
HAIR_COLOURS = np.array([[25, 20, 18], [70, 45, 30], [120, 85, 50], [200, 170, 110],
                         [150, 150, 150], [140, 60, 30]], dtype=np.float64)
HAIR_COLOUR_NAMES = ("black", "dark_brown", "brown", "blond", "grey", "red")
# Skin tones from light to dark; a factor in [0, 1] interpolates along them.
SKIN_TONES = np.array([[245, 215, 190], [225, 180, 145], [190, 140, 105], [140, 95, 65],
                       [95, 62, 45]], dtype=np.float64)
# A fixed light from the camera's upper left (camera frame), plus ambient light. A more raking
# light shades a turned head more, but landmark detectors (dlib's) misread such faces more often.
LIGHT = np.array([-0.25, 0.5, 0.8]) / np.linalg.norm([-0.25, 0.5, 0.8])
AMBIENT, DIFFUSE = 0.4, 0.65
# The feature texture: face-frame x in [TEX_LEFT, -TEX_LEFT], y in [TEX_BOTTOM, TEX_TOP], about a
# texel per output pixel (texel_density), drawn TEX_SUPERSAMPLE times finer and box-filtered down.
TEX_SUPERSAMPLE, TEX_LEFT, TEX_TOP, TEX_BOTTOM = 2, -1.05, 0.85, -1.75
# Where the neck turns the head (face frame): the body hangs from this point, unturned.
NECK_JOINT = np.array([0.0, -1.55, -1.05])
MOUTH_INSIDE = (35, 12, 15)
# Ears and nose are a little redder than the rest of the skin.
EAR_TINT, NOSE_TINT = np.array([0.97, 0.88, 0.85]), np.array([1.0, 0.93, 0.9])


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


def _colour(rgb) -> tuple[int, int, int]:
    return tuple(min(255, max(0, int(round(float(v))))) for v in rgb)


# --- the face's geometry -------------------------------------------------------------------------

def head_of(face: Face) -> Ellipsoid:
    """The head ellipsoid; an open mouth drops the jaw, lengthening it downwards."""
    return geometry.head_ellipsoid(face.face_width, face.face_height, 0.22 * face.mouth_open)


def mouth_corners(face: Face) -> tuple[float, float]:
    """Half-width and height of the mouth corners: a smile pulls them out and up."""
    neutral_x, neutral_y = geometry.LANDMARKS_3D[4, :2]
    return (float(neutral_x) + geometry.SMILE_WIDEN * face.smile,
            float(neutral_y) + geometry.SMILE_LIFT * face.smile)


def landmarks(face: Face) -> np.ndarray:
    """The 5 CelebA landmarks of this face in output-image pixels, shape [5, 2]."""
    rot = geometry.rotation(face.pitch, face.yaw, face.roll)
    points = geometry.LANDMARKS_3D.copy()
    corner_x, corner_y = mouth_corners(face)
    points[3:, 0] = [-corner_x, corner_x]
    points[3:, 1] = corner_y
    points[3:, 2] = geometry.front_z(head_of(face), points[3:, 0], corner_y)  # on the skin
    return geometry.project(points, rot, face.scale, (face.centre_x, face.centre_y))


def _along(start: np.ndarray, end: np.ndarray, across: tuple[float, float]) -> Ellipsoid:
    """An ellipsoid spanning start..end (face frame) with semi-axes `across` in x and in depth."""
    axis = end - start
    length = float(np.linalg.norm(axis))
    unit = axis / length
    normal = np.cross([1.0, 0.0, 0.0], unit)
    turn = np.column_stack([[1.0, 0.0, 0.0], normal, unit])
    return Ellipsoid((start + end) / 2, np.array([across[0], across[1], length / 2]), turn)


def nose_parts(face: Face) -> list[Ellipsoid]:
    """The nose: a ridge from between the eyes to the tip (geometry.LANDMARKS_3D[2], which it
    ends on) and a broad base (tip and nostril wings) whose front touches the tip."""
    tip = geometry.LANDMARKS_3D[2]
    root = np.array([0.0, 0.02, float(geometry.front_z(head_of(face), 0.0, 0.02)) - 0.04])
    ridge = _along(root, tip, (0.075, 0.07))
    base = Ellipsoid(tip + [0.0, 0.02, -0.15], np.array([0.17, 0.09, 0.15]))
    return [ridge, base]


def ear_parts(face: Face) -> list[Ellipsoid]:
    """Flat ellipsoids on the sides of the head, flared forwards so a turn shows the near one."""
    head = head_of(face)
    flare = np.radians(30)                 # the back edge stands off the head
    ears = []
    for side in (-1.0, 1.0):
        outward = np.array([side * np.cos(flare), 0.0, np.sin(flare)])
        backward = np.array([-side * np.sin(flare), 0.0, np.cos(flare)])
        turn = np.column_stack([outward, [0.0, 1.0, 0.0], backward])
        centre = np.array([side * (0.98 * head.axes[0] + 0.12), -0.28, head.centre[2] + 0.05])
        ears.append(Ellipsoid(centre, np.array([0.06, 0.42, 0.24]), turn))
    return ears


def hair_shell(face: Face) -> Ellipsoid:
    """The hair cap: a slightly larger head, raised; it shows above the hairline (scalp_test)."""
    head = head_of(face)
    volume = 1.05 + 0.04 * face.hair_length
    return Ellipsoid(head.centre + [0.0, 0.1, -0.04], head.axes * [volume, 1.04, volume])


# Hair grows where face-frame y - HAIRLINE_SLOPE * z > HAIRLINE: 0.62 above the eyes over the
# forehead (z near 0), dropping towards the back of the head, to just above the ears at its sides.
HAIRLINE, HAIRLINE_SLOPE = 0.62, 0.5


def scalp_test(rot: np.ndarray) -> tuple[float, float, float]:
    """(cx, cy, ct) with cx X + cy Y + ct t > HAIRLINE exactly where the camera-frame point
    (X, Y, t) lies on the hair side of the hairline plane: linear, so cheap per subpixel."""
    normal = rot @ np.array([0.0, 1.0, -HAIRLINE_SLOPE])          # the plane's normal, camera frame
    return float(normal[0]), float(normal[1]), float(normal[2])


def long_hair(face: Face) -> Ellipsoid:
    """Hair that falls behind the head: long hair shows beside the face and down to the shoulders."""
    head = head_of(face)
    length = face.hair_length
    return Ellipsoid(head.centre + [0.0, 0.15 - 0.75 * length, -0.5],
                     head.axes * [1.02 + 0.14 * length, 0.75 + 0.45 * length, 0.7])


# --- painted features: a texture over face-frame x, y --------------------------------------------

def texel_density(face: Face) -> int:
    """Texels per unit of the face's texture: one per output pixel, as pixels sample it once."""
    return max(16, int(np.ceil(face.scale)))


def _texel(points, per_unit: float) -> list[float]:
    """Face-frame points [K, 2] as flat texture coordinates [x0, y0, x1, ...] at `per_unit`."""
    shifted = np.asarray(points, dtype=np.float64) - [TEX_LEFT, TEX_TOP]
    return (shifted * [per_unit, -per_unit]).ravel().tolist()


def _curve(xs, ys) -> np.ndarray:
    return np.array((xs, ys)).T             # [K, 2]; np.stack costs four times as much here


# Parameters along the feature outlines, made once: each face draws dozens of outlines.
EYE_U, BROW_U, MOUTH_U = np.linspace(-1.0, 1.0, 15), np.linspace(0.0, 1.0, 9), np.linspace(-1.0, 1.0, 17)
FOLD_S = np.linspace(0.0, 1.0, 8)[:, None]
CIRCLE = {n: np.linspace(0, 2 * np.pi, n, endpoint=False) for n in (12, 20)}


def eye_outlines(face: Face, side: float) -> dict[str, np.ndarray]:
    """One eye: the opening between the lids, the upper lid above it, iris and pupil clipped to
    the opening. Closing lowers the upper lid onto the lower one."""
    centre, half_width = 0.5 * side, 0.25
    u = EYE_U
    bulge = (1.0 - u ** 2) ** 0.8
    xs = centre + half_width * u
    upper = (0.13 - 0.165 * face.eye_closure) * bulge
    # A smile's raised cheeks push the lower lid up a little (AU06).
    lower = (-0.09 + 0.03 * face.smile + (0.055 - 0.03 * face.smile) * face.eye_closure) * bulge
    crease = 0.2 * (1.0 - (u / 1.1) ** 2) ** 0.8 - 0.03 * face.eye_closure

    def inside_opening(radius, n=20):
        angle = CIRCLE[n]
        px = centre + radius * np.cos(angle)
        low, high = np.interp(px, xs, lower), np.interp(px, xs, upper)
        return _curve(px, np.clip(radius * np.sin(angle), low, high))

    return {"opening": np.concatenate([_curve(xs, upper), _curve(xs, lower)[::-1]]),
            "lid": np.concatenate([_curve(xs, crease), _curve(xs, upper)[::-1]]),
            "lash": _curve(xs, upper),
            "iris": inside_opening(0.11), "pupil": inside_opening(0.05, n=12)}


def brow_outline(face: Face, side: float) -> np.ndarray:
    """One brow from its inner to its outer end: raising lifts it (the inner end most) and arches
    it; lowering pulls the inner end down and in."""
    raise_, lower = max(face.brow, 0.0), max(-face.brow, 0.0)
    u = BROW_U
    xs = side * (0.2 + 0.06 * lower + 0.62 * u)
    mid = (0.34 + 0.08 * np.sin(np.pi * 0.9 * u) + raise_ * (0.22 - 0.08 * u + 0.06 * np.sin(np.pi * u))
           - lower * (0.17 * (1 - u) + 0.04 * u))
    half = 0.06 - 0.03 * u
    return np.concatenate([_curve(xs, mid + half), _curve(xs, mid - half)[::-1]])


def mouth_outlines(face: Face) -> dict[str, np.ndarray]:
    """Lips, the dark opening between them and the upper teeth, around a centre line that a smile
    bends up at the corners (mouth_corners)."""
    corner_x, corner_y = mouth_corners(face)
    u = MOUTH_U
    xs = corner_x * u
    lift = 0.02 + 0.22 * face.smile
    middle = corner_y - lift * (1.0 - u ** 2)
    gap = (0.025 + 0.04 * face.smile + 0.36 * face.mouth_open) * (1.0 - u ** 2) ** 0.6
    inner_upper, inner_lower = middle + 0.3 * gap, middle - 0.7 * gap
    body = np.sqrt(1.0 - u ** 2)
    outer_upper = inner_upper + (0.085 - 0.035 * face.smile) * body - 0.02 * np.exp(-(u / 0.15) ** 2)
    outer_lower = inner_lower - (0.10 - 0.03 * face.smile) * body
    # An open smile bares the upper teeth; a closed one or a slack open mouth shows none.
    bared = min(1.0, 2.0 * face.smile) * min(1.0, 4.0 * face.mouth_open)
    teeth = min(0.08, 0.4 * float(gap.max())) * bared * (np.abs(u) < 0.75)
    return {"lips": np.concatenate([_curve(xs, outer_upper), _curve(xs, outer_lower)[::-1]]),
            "opening": np.concatenate([_curve(xs, inner_upper), _curve(xs, inner_lower)[::-1]]),
            "teeth": np.concatenate([_curve(xs, inner_upper),
                                     _curve(xs, np.maximum(inner_upper - teeth, inner_lower))[::-1]])}


def smile_lines(face: Face) -> list[np.ndarray]:
    """The folds from the nose wings to past the mouth corners that a smile deepens."""
    corner_x, corner_y = mouth_corners(face)
    s = FOLD_S
    lines = []
    for side in (-1.0, 1.0):
        start = np.array([side * 0.26, -0.6])
        bend = np.array([side * (0.44 + 0.1 * face.smile), -0.85])
        end = np.array([side * (corner_x + 0.08), corner_y - 0.14])
        lines.append((1 - s) ** 2 * start + 2 * s * (1 - s) * bend + s ** 2 * end)
    return lines


def feature_texture(face: Face, skin: np.ndarray, hair: np.ndarray) -> np.ndarray:
    """The skin with eyes, brows, mouth and expression lines painted on, [H, W, 3] float32 over
    face-frame x, y at texel_density(face) texels per unit (TEX_* constants)."""
    per_unit = texel_density(face) * TEX_SUPERSAMPLE
    width = int(round(-2 * TEX_LEFT * per_unit / TEX_SUPERSAMPLE)) * TEX_SUPERSAMPLE
    height = int(round((TEX_TOP - TEX_BOTTOM) * per_unit / TEX_SUPERSAMPLE)) * TEX_SUPERSAMPLE
    image = Image.new("RGB", (width, height), _colour(skin))
    draw = ImageDraw.Draw(image)

    def line(points, colour, thickness):
        width = max(1, int(round(thickness * per_unit)))
        draw.line(_texel(points, per_unit), fill=_colour(colour), width=width, joint="curve")

    raise_, lower = max(face.brow, 0.0), max(-face.brow, 0.0)
    if lower > 0.05:   # frown lines between the brows
        for side in (-1.0, 1.0):
            line([[side * 0.09, 0.16], [side * 0.07, 0.36]], skin * (1 - 0.4 * lower), 0.035)
    if raise_ > 0.05:  # forehead wrinkles
        for height_y in (0.5, 0.58):
            xs = np.linspace(-0.45, 0.45, 7)
            line(_curve(xs, height_y + 0.03 * (1 - (xs / 0.45) ** 2)), skin * (1 - 0.3 * raise_), 0.025)
    if face.smile > 0.05:
        for side in (-1.0, 1.0):  # raised, rounder cheeks catch more light: a soft highlight
            centre = np.array([side * 0.56, -0.52 + 0.06 * face.smile])
            for step, radius in enumerate((0.26, 0.19, 0.12)):
                corners = _texel([centre + [-radius, radius], centre + [radius, -radius]], per_unit)
                draw.ellipse(corners, fill=_colour(skin * (1 + 0.04 * (step + 1) * face.smile)))
        for fold in smile_lines(face):
            line(fold, skin * (1 - 0.3 * face.smile), 0.03)
    for side in (-1.0, 1.0):   # the eye sockets: soft shadow under the brow ridge
        for step, (rx, ry) in enumerate(((0.36, 0.24), (0.3, 0.18))):
            corners = _texel([[side * 0.5 - rx, 0.04 + ry], [side * 0.5 + rx, 0.04 - ry]], per_unit)
            draw.ellipse(corners, fill=_colour(skin * (0.94 - 0.04 * step)))
    for side in (-1.0, 1.0):
        eye = eye_outlines(face, side)
        draw.polygon(_texel(eye["opening"], per_unit), fill=(235, 235, 228))
        draw.polygon(_texel(eye["iris"], per_unit), fill=(70, 50, 38))
        draw.polygon(_texel(eye["pupil"], per_unit), fill=(15, 10, 10))
        draw.polygon(_texel(eye["lid"], per_unit), fill=_colour(skin * 0.8))
        line(eye["lash"], (35, 25, 22), 0.045)
        draw.polygon(_texel(brow_outline(face, side), per_unit), fill=_colour(hair * 0.5 + 10))
    mouth = mouth_outlines(face)
    draw.polygon(_texel(mouth["lips"], per_unit), fill=_colour(skin * np.array([0.78, 0.5, 0.5])))
    draw.polygon(_texel(mouth["opening"], per_unit), fill=MOUTH_INSIDE)
    corner_x, corner_y = mouth_corners(face)
    for side in (-1.0, 1.0):   # where the lips meet at the corners (the landmarks), dark on any skin
        line([[side * (corner_x - 0.06), corner_y], [side * (corner_x + 0.05), corner_y + 0.01]],
             MOUTH_INSIDE, 0.06)
    if face.smile * face.mouth_open > 0:   # a flat polygon would still draw its outline
        draw.polygon(_texel(mouth["teeth"], per_unit), fill=(230, 228, 215))
    # Pixels are shaded at one point each (raster): filtering down to about a pixel's footprint
    # keeps thin lines (lids, lip corners) from breaking up between samples.
    return np.asarray(image.reduce(TEX_SUPERSAMPLE), dtype=np.float32)


# --- ray casting ----------------------------------------------------------------------------------

@dataclass
class View:
    """The camera in output pixels: face-frame rotation, pixels per unit, the eye midpoint."""
    rot: np.ndarray
    scale: float
    centre: tuple[float, float]

    def grid(self, box, ss: int = 1):
        """Camera-frame X [1, W*ss] and Y [H*ss, 1] of the ss x ss subpixel centres of the output
        pixels in box (x0, y0, x1, y1); output pixel centres sit at integers."""
        x0, y0, x1, y1 = box
        offsets = (np.arange(ss, dtype=np.float32) + 0.5) / ss - 0.5
        u = (np.arange(x0, x1, dtype=np.float32)[:, None] + offsets).ravel()
        v = (np.arange(y0, y1, dtype=np.float32)[:, None] + offsets).ravel()
        scale, (cx, cy) = np.float32(self.scale), np.float32(self.centre)
        return ((u - cx) / scale)[None, :], ((cy - v) / scale)[:, None]

    def box(self, ellipsoid: Ellipsoid, rot: np.ndarray, width: int, height: int):
        """The output-pixel box (x0, y0, x1, y1) an ellipsoid may cover, clipped to the image."""
        low, high = geometry.extent(ellipsoid, rot)
        x0 = int(np.floor(self.centre[0] + self.scale * low[0]))
        x1 = int(np.ceil(self.centre[0] + self.scale * high[0])) + 1
        y0 = int(np.floor(self.centre[1] - self.scale * high[1]))
        y1 = int(np.ceil(self.centre[1] - self.scale * low[1])) + 1
        return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)

    def face_points(self, xs, ys, t):
        """Face-frame coordinates of camera-frame points (X, Y, t): R^T (X, Y, t)."""
        r = self.rot.astype(np.float32)
        return tuple(r[0, k] * xs + r[1, k] * ys + r[2, k] * t for k in range(3))


# paint(surface, xs, ys) -> colours [..., 3] or one colour [3] at the surface's points.
Paint = Callable[[Surface, np.ndarray, np.ndarray], np.ndarray]
# keep(xs, ys, t) -> which camera-frame hits of a part count; rays pass the others.
Keep = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Part:
    """One ellipsoid of the scene: `rot` turns its frame into the camera's."""
    ellipsoid: Ellipsoid
    rot: np.ndarray
    paint: Paint
    keep: Keep | None = None


def _lit(points: Surface) -> np.ndarray:
    return AMBIENT + DIFFUSE * np.maximum(points.facing(LIGHT), 0.0)


def _coverage(won: np.ndarray) -> np.ndarray:
    """The share of each output pixel's SUPERSAMPLE^2 subpixels that are True, float32 [H, W]."""
    ss = SUPERSAMPLE
    counts = won.view(np.uint8)
    total = sum(counts[i::ss, j::ss] for i in range(ss) for j in range(ss))   # uint8: at most ss^2
    return total * np.float32(1.0 / ss ** 2)


def raster(parts: list[Part], view: View, canvas: np.ndarray) -> None:
    """Ray-cast the parts over `canvas` [H, W, 3] uint8 (output pixels) in place.

    Visibility is resolved per subpixel (SUPERSAMPLE^2 rays per pixel: a depth pass over every
    part), colour and light once per output pixel and part; a pixel is the subpixel-weighted
    mix of the parts it shows and the canvas, which anti-aliases every edge at a quarter of the
    shading work. Each part works on its own box with dense arithmetic (masks become 0/1
    factors): masked assignment and fancy indexing cost ten times as much here.
    """
    ss = SUPERSAMPLE
    height, width = canvas.shape[:2]
    boxes = [(part, view.box(part.ellipsoid, part.rot, width, height)) for part in parts]
    boxes = [(part, box) for part, box in boxes if box[0] < box[2] and box[1] < box[3]]
    if not boxes:
        return
    x0, y0 = min(b[0] for _, b in boxes), min(b[1] for _, b in boxes)
    x1, y1 = max(b[2] for _, b in boxes), max(b[3] for _, b in boxes)
    depth = np.full(((y1 - y0) * ss, (x1 - x0) * ss), geometry.MISS, dtype=np.float32)
    fine_xs, fine_ys = view.grid((x0, y0, x1, y1), ss)
    coarse_xs, coarse_ys = view.grid((x0, y0, x1, y1))

    def cells(box, k=1):  # the part's box inside the union's arrays, at k x k subpixels a pixel
        return slice((box[1] - y0) * k, (box[3] - y0) * k), slice((box[0] - x0) * k, (box[2] - x0) * k)

    casts = []
    for part, box in boxes:
        placed = geometry.Placed(part.ellipsoid, part.rot)
        rows, cols = cells(box, ss)
        xs, ys = fine_xs[:, cols], fine_ys[rows]
        t = placed.cast(xs, ys)
        if part.keep is not None:
            # (misses get a depth inside the scene, so that their unused points stay finite)
            t = t + ~part.keep(xs, ys, np.maximum(t, np.float32(-10))) * np.float32(geometry.MISS)
        np.maximum(depth[rows, cols], t, out=depth[rows, cols])
        casts.append((part, placed, box, t))
    layer = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.float32)
    covered = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    for part, placed, box, t in casts:
        won = (t == depth[cells(box, ss)]) & (t > geometry.MISS)
        if not won.any():
            continue
        share = _coverage(won)
        rows, cols = cells(box)
        xs, ys = coarse_xs[:, cols], coarse_ys[rows]
        points = placed.surface(xs, ys, placed.cast(xs, ys, rim=True))
        colour = np.asarray(part.paint(points, xs, ys), dtype=np.float32)
        layer[rows, cols] += (share * _lit(points))[..., None] * colour
        covered[rows, cols] += share
    region = canvas[y0:y1, x0:x1]
    mixed = region * (1 - covered)[..., None] + np.minimum(layer, 255)
    region[:] = mixed + 0.5                                   # the uint8 cast truncates


def _plain(colour) -> Paint:
    colour = np.asarray(colour, dtype=np.float32)
    return lambda points, xs, ys: colour


def _scene(face: Face, view: View, draw_features: bool) -> list[Part]:
    """Every ray-cast part of the head (the depth buffer decides what shows)."""
    skin = skin_colour(face.skin_tone)
    hair = HAIR_COLOURS[face.hair_colour]
    rot = view.rot
    texture = feature_texture(face, skin, hair) if draw_features else None
    shell = hair_shell(face)

    def paint_head(points, xs, ys):
        if texture is None:
            return skin
        x, y, _ = view.face_points(xs, ys, points.t)
        rows, cols = texture.shape[:2]
        per_unit = texel_density(face)
        col = np.clip((x - TEX_LEFT) * per_unit, 0, cols - 1).astype(np.int32)
        row = np.clip((TEX_TOP - y) * per_unit, 0, rows - 1).astype(np.int32)
        return texture.reshape(-1, 3).take(row * cols + col, axis=0)

    cx, cy, ct = scalp_test(rot)

    def keep_hair(xs, ys, t):
        return (cx * xs + cy * ys) + ct * t > HAIRLINE

    down = -rot[:, 1]                                # the face's downward direction, camera frame

    def paint_nose(points, xs, ys):
        # The underside (facing down) darkens towards the nostrils.
        under = np.clip((points.facing(down) - 0.35) / 0.5, 0.0, 1.0)[..., None]
        return (skin * NOSE_TINT).astype(np.float32) * (1.0 - 0.6 * under)

    parts = [Part(head_of(face), rot, paint_head),
             *[Part(ear, rot, _plain(skin * EAR_TINT)) for ear in ear_parts(face)],
             Part(shell, rot, _plain(hair), keep_hair)]
    if draw_features:
        parts += [Part(part, rot, paint_nose) for part in nose_parts(face)]
    return parts


def render(face: Face, size: tuple[int, int], rng: np.random.Generator, *,
           draw_features: bool = True) -> Image.Image:
    """An RGB image of `size` (width, height): cluttered background, shoulders, the head.

    What is always behind the head (long hair, neck, shoulders) is drawn flat, supersampled, with
    the background; the head, hair cap, ears and nose are ray-cast over it.

    `rng` draws only the background clutter and the clothes, so two calls with equal generators
    and faces give equal images; `draw_features=False` leaves the face blank, without eyes,
    brows, mouth or nose (the landmark test compares both).
    """
    ss = SUPERSAMPLE
    width, height = size
    view = View(geometry.rotation(face.pitch, face.yaw, face.roll), face.scale,
                (face.centre_x, face.centre_y))
    image = _background(width * ss, height * ss, rng)
    _behind_head(ImageDraw.Draw(image), face, view, _colour(rng.uniform(20, 200, 3)))
    canvas = np.array(image.reduce(ss))
    raster(_scene(face, view, draw_features), view, canvas)
    return Image.fromarray(canvas)


# The shoulders: an ellipse (camera frame, semi-axes SHOULDERS) hanging below the neck joint,
# unturned by the head's pose; the neck reaches down into them.
SHOULDERS = (2.7, 1.3)
SHOULDERS_DROP = 2.6
NECK_HALF_WIDTH = 0.55


def _outline(ellipsoid: Ellipsoid, rot: np.ndarray, n: int = 48) -> np.ndarray:
    """The camera-frame outline [n, 2] of an ellipsoid: under orthographic projection the
    ellipse whose shape matrix is the X, Y block of M M^T (M maps the unit sphere onto it)."""
    spread = rot @ ellipsoid.turn * ellipsoid.axes
    root = np.linalg.cholesky(spread[:2] @ spread[:2].T)
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return (rot @ ellipsoid.centre)[:2] + np.stack([np.cos(angle), np.sin(angle)], 1) @ root.T


def _behind_head(draw, face: Face, view: View, clothes) -> None:
    """Long hair, neck and shoulders, flat and supersampled: the ray-cast head covers their tops."""
    ss = SUPERSAMPLE

    def pixels(points):  # camera frame -> supersampled pixels (pixel i covers (i + 0.5) / ss - 0.5)
        u = (view.centre[0] + view.scale * points[:, 0] + 0.5) * ss - 0.5
        v = (view.centre[1] - view.scale * points[:, 1] + 0.5) * ss - 0.5
        return list(zip(u, v))

    skin = skin_colour(face.skin_tone)
    hair = HAIR_COLOURS[face.hair_colour]
    draw.polygon(pixels(_outline(long_hair(face), view.rot)), fill=_colour(hair * 0.8))
    x, top = (view.rot @ NECK_JOINT)[:2]
    base = top - SHOULDERS_DROP
    w = NECK_HALF_WIDTH
    neck = np.array([[x - w, top], [x + w, top], [x + 1.1 * w, base], [x - 1.1 * w, base]])
    draw.polygon(pixels(neck), fill=_colour(skin * 0.72))
    angle = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    body = np.stack([x + SHOULDERS[0] * np.cos(angle), base + SHOULDERS[1] * np.sin(angle)], 1)
    draw.polygon(pixels(body), fill=clothes)


def _background(width, height, rng) -> Image.Image:
    """A vertical two-colour gradient in 48 bands with a few muted shapes: in-the-wild clutter."""
    top, bottom = rng.uniform(30, 230, 3), rng.uniform(30, 230, 3)
    steps = 48
    bands = np.clip(np.round(top + (bottom - top) * (np.arange(steps) / (steps - 1))[:, None]), 0, 255)
    column = bands.astype(np.uint8)[np.arange(height) * steps // height]
    image = Image.fromarray(column[:, None]).resize((width, height), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.1, 0.5) * width, rng.uniform(0.1, 0.5) * height
        colour = _colour(rng.uniform(40, 220, 3))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
    return image
