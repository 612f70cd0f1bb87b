"""A generic 3D face in units of the inter-ocular distance, and its rotation and projection.

Frame: x to the image's right, y up, z towards the camera; the eyes' centres lie at
(+-0.5, 0, 0). Pose angles (radians): pitch about x (positive: the top of the face comes towards the camera,
looking down), yaw about y
(positive: the face turns towards the image's right, so the nose tip moves right), roll about z
(positive: counter-clockwise in the image). The synthetic renderer draws this face and the
landmark pose estimator inverts its 5-point projection, so both share these constants.

The renderer casts orthographic rays (along the camera's -z) at ellipsoids: the head, its hair,
ears and nose. The camera frame is the face frame rotated by `rotation`; a pixel's ray is the line
of camera-frame points (X, Y, t), and t, its depth, grows towards the camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The five CelebA landmarks in CelebA's order ("left" = image left).
LANDMARK_NAMES = ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")
LANDMARKS_3D = np.array([
    [-0.5, 0.0, 0.0],      # left eye centre
    [0.5, 0.0, 0.0],       # right eye centre
    [0.0, -0.62, 0.55],    # nose tip, in front of the face plane
    [-0.42, -1.08, 0.0],   # left mouth corner (neutral expression)
    [0.42, -1.08, 0.0],    # right mouth corner
])
NOSE_DEPTH = float(LANDMARKS_3D[2, 2])
NOSE_DROP = float(-LANDMARKS_3D[2, 1])
MOUTH_DROP = float(-LANDMARKS_3D[3, 1])
# A full smile moves the mouth corners (LANDMARKS_3D[3:]) out by SMILE_WIDEN and up by SMILE_LIFT,
# in proportion to the smile factor (render.mouth_corners).
SMILE_WIDEN, SMILE_LIFT = 0.14, 0.22
# The head is an ellipsoid whose centre sits well behind the eyes (a head is deeper than it is
# wide), so turning it moves the features across its outline as in a photograph. Its depth axis is
# whatever puts the eye centres on its surface (head_ellipsoid).
HEAD_CENTRE = np.array([0.0, -0.45, -1.05])
HEAD_AXES = np.array([1.08, 1.55])


def rotation(pitch, yaw, roll) -> np.ndarray:
    """Rotation matrices R = Rz(roll) @ Ry(yaw) @ Rx(pitch); vectorised, shape [..., 3, 3]."""
    pitch, yaw, roll = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (pitch, yaw, roll)))
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cr, sr = np.cos(roll), np.sin(roll)
    one, zero = np.ones_like(cp), np.zeros_like(cp)
    rx = np.stack([np.stack([one, zero, zero], -1),
                   np.stack([zero, cp, -sp], -1),
                   np.stack([zero, sp, cp], -1)], -2)
    ry = np.stack([np.stack([cy, zero, sy], -1),
                   np.stack([zero, one, zero], -1),
                   np.stack([-sy, zero, cy], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, zero], -1),
                   np.stack([sr, cr, zero], -1),
                   np.stack([zero, zero, one], -1)], -2)
    return rz @ ry @ rx


def angles_from_rotation(rot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pitch, yaw, roll) of rotation matrices [..., 3, 3] as `rotation` composes them, |yaw| <=
    pi / 2: R[2] = (-sin y, cos y sin p, cos y cos p) and R[:, 0] = cos y (cos r, sin r, .)."""
    rot = np.asarray(rot, dtype=np.float64)
    pitch = np.arctan2(rot[..., 2, 1], rot[..., 2, 2])
    yaw = np.arctan2(-rot[..., 2, 0], np.hypot(rot[..., 2, 1], rot[..., 2, 2]))
    roll = np.arctan2(rot[..., 1, 0], rot[..., 0, 0])
    return pitch, yaw, roll


def project(points: np.ndarray, rot: np.ndarray, scale: float, centre: tuple[float, float]) -> np.ndarray:
    """Orthographic projection of face-frame points [K, 3] to image pixels [K, 2] (x right, y down)."""
    rotated = points @ rot.T
    u = centre[0] + scale * rotated[:, 0]
    v = centre[1] - scale * rotated[:, 1]
    return np.stack([u, v], axis=1)


def pose_from_landmarks(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitch, yaw and roll (radians) from 5 landmarks [N, 5, 2] under a scaled orthographic model.

    Closed form, vectorised, and blind to the mouth: only the eyes and the nose tip enter, so an
    expression (a smile lifts the mouth corners) cannot move the pose. With R = Rz Ry Rx and
    scale s, the eye centres (+-0.5, 0, 0) project, after undoing the roll, onto a horizontal
    line of length E = s cos(yaw) (so roll is the eye line's angle), and the nose tip
    (0, -D, Z) (D = NOSE_DROP, Z = NOSE_DEPTH) lands, relative to the eye midpoint, at

        x = s sin(yaw) (Z cos p - D sin p) =  s L sin(yaw) sin(a)
        y = -s (D cos p + Z sin p)         = -s L cos(a),     a = phi - p, phi = atan2(Z, D),

    with L = hypot(D, Z). With u = -y / (E L) and v = x / (E L) this is cos a = u cos(yaw) and
    sin a = v / tan(yaw), so c = cos^2(yaw) solves u^2 c^2 - (1 + u^2 + v^2) c + 1 = 0, whose one
    root in (0, 1] gives

        tan^2(yaw) = (v^2 + S - w) / 2,  tan(a) = sqrt(v^2 + S + w) / (sqrt(2) u),
        w = 1 - u^2,  S = sqrt(w^2 + v^2 (2 (1 + u^2) + v^2)),

    (S -+ w evaluated without cancellation), yaw taking the sign of v and a >= 0. Exact on
    noise-free projections of the generic model for pitch < phi (about 41.6 degrees; beyond it
    the pose (2 phi - p, -yaw) gives the same 3 points and the smaller pitch is returned); a
    proxy on real faces, whose noses differ from the generic one.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes_mid = (lm[:, 0] + lm[:, 1]) / 2
    eye_vec = lm[:, 1] - lm[:, 0]
    # Image y points down, so a counter-clockwise roll gives a negative eye-line slope.
    roll = np.arctan2(-eye_vec[:, 1], eye_vec[:, 0])
    c, s = np.cos(roll), np.sin(roll)
    d = lm[:, 2] - eyes_mid
    dx, dy = d[:, 0], -d[:, 1]                              # face-up (x right, y up), then unrolled
    nose_x, nose_y = c * dx + s * dy, -s * dx + c * dy
    eye_span = np.hypot(eye_vec[:, 0], eye_vec[:, 1])       # = scale * cos(yaw)
    nose_len = np.hypot(NOSE_DROP, NOSE_DEPTH)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = -nose_y / (eye_span * nose_len)
        v = nose_x / (eye_span * nose_len)
        w = 1.0 - u ** 2
        t = v ** 2 * (2.0 * (1.0 + u ** 2) + v ** 2)        # = S^2 - w^2 >= 0
        big = np.sqrt(w ** 2 + t)                            # S
        # S - w and S + w: one is a plain sum, the other their quotient, t / (S +- w).
        pos = w >= 0
        s_plus = np.where(pos, big + w, np.where(big - w > 0, t / (big - w), 0.0))
        s_minus = np.where(pos, np.where(big + w > 0, t / (big + w), 0.0), big - w)
        yaw = np.arctan2(np.sign(v) * np.sqrt(v ** 2 + s_minus), np.sqrt(2.0))
        a = np.arctan2(np.sqrt(v ** 2 + s_plus), np.sqrt(2.0) * u)
    pitch = np.arctan2(NOSE_DEPTH, NOSE_DROP) - a
    return pitch, yaw, roll


@dataclass(frozen=True)
class Ellipsoid:
    """Semi-axes `axes` along the columns of `turn` (its orientation in the frame it lives in),
    centred at `centre`."""
    centre: np.ndarray
    axes: np.ndarray
    turn: np.ndarray = field(default_factory=lambda: np.eye(3))


def head_ellipsoid(face_width: float = 1.0, face_height: float = 1.0, jaw_drop: float = 0.0) -> Ellipsoid:
    """The head in the face frame; `jaw_drop` lengthens it downwards (an open mouth), keeping its top."""
    width = HEAD_AXES[0] * face_width
    height = HEAD_AXES[1] * face_height + jaw_drop
    centre_y = HEAD_CENTRE[1] - jaw_drop
    # The depth semi-axis that puts the eye centres (+-0.5, 0, 0) on the surface.
    rest = 1.0 - (0.5 / width) ** 2 - (centre_y / height) ** 2
    depth = -HEAD_CENTRE[2] / np.sqrt(rest)
    return Ellipsoid(np.array([0.0, centre_y, HEAD_CENTRE[2]]), np.array([width, height, depth]))


def front_z(ellipsoid: Ellipsoid, x, y):
    """z of an axis-aligned ellipsoid's front surface over the face-frame point (x, y)."""
    cx, cy, cz = ellipsoid.centre
    ax, ay, az = ellipsoid.axes
    inside = 1.0 - ((np.asarray(x) - cx) / ax) ** 2 - ((np.asarray(y) - cy) / ay) ** 2
    return cz + az * np.sqrt(np.maximum(inside, 0.0))


def extent(ellipsoid: Ellipsoid, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The camera-frame box (low, high corners in X, Y) the ellipsoid projects into."""
    spread = rot @ ellipsoid.turn * ellipsoid.axes              # columns: the rotated semi-axes
    half = np.sqrt((spread[:2] ** 2).sum(axis=1))
    middle = (rot @ ellipsoid.centre)[:2]
    return middle - half, middle + half


# The depth of a miss: far behind everything, finite so that masking stays plain arithmetic.
MISS = -1e30


class Placed:
    """An ellipsoid seen by the camera: the camera-frame point (X, Y, t) sits at
    q = G (X, Y, t) + h in the ellipsoid's unit-sphere coordinates (|q| = 1 on its surface), for
    an ellipsoid in a frame that `rot` turns into the camera frame. The per-pixel methods work on
    float32 grids with Python-float coefficients, computed once here.

    Along a pixel's ray |q|^2 = 1 is a quadratic a t^2 + b t + c = 0 whose b is linear and whose
    discriminant is quadratic in X and Y, so both are built from row and column vectors with a
    few full-size operations.
    """

    def __init__(self, ellipsoid: Ellipsoid, rot: np.ndarray):
        to_local = ellipsoid.turn.T / ellipsoid.axes[:, None]
        g, h = to_local @ rot.T, -to_local @ ellipsoid.centre
        self.g = g
        self.rows = np.column_stack([g, h]).tolist()           # q_k = rows[k] . (X, Y, t, 1)
        self.gram = (g @ g.T).tolist()                          # |normal|^2 = q^T G G^T q
        g0, g1, g2 = g.T                                        # dq/dX, dq/dY, dq/dt
        a = g2 @ g2
        bx, by, b0 = 2 * (g2 @ g0), 2 * (g2 @ g1), 2 * (g2 @ h)
        # b = bx X + by Y + b0; b^2 - 4ac = dxx X^2 + dyy Y^2 + 2 dxy XY + 2 dx X + 2 dy Y + d0
        self.b = (float(bx), float(by), float(b0))
        self.disc = tuple(float(v) for v in (
            bx * bx - 4 * a * (g0 @ g0), by * by - 4 * a * (g1 @ g1), bx * by - 4 * a * (g0 @ g1),
            bx * b0 - 4 * a * (g0 @ h), by * b0 - 4 * a * (g1 @ h), b0 * b0 - 4 * a * (h @ h - 1)))
        self.half_over_a = float(0.5 / a)

    def cast(self, xs: np.ndarray, ys: np.ndarray, *, rim: bool = False) -> np.ndarray:
        """Depth t [H, W] where orthographic rays through camera-frame points xs [1, W],
        ys [H, 1] meet the ellipsoid's near side; MISS elsewhere, or, with `rim`, the depth where
        a missing ray passes closest to the ellipsoid (near its outline: to colour pixels that the
        ellipsoid covers only partly, away from their centre)."""
        dxx, dyy, dxy, dx, dy, d0 = self.disc
        bx, by, b0 = self.b
        disc = ((2 * dxy) * xs) * ys + ((dxx * xs + 2 * dx) * xs + d0) + (dyy * ys + 2 * dy) * ys
        b = bx * xs + (by * ys + b0)
        t = (np.sqrt(np.maximum(disc, 0)) - b) * self.half_over_a   # the larger root: nearer the camera
        return t if rim else t + (disc <= 0) * np.float32(MISS)

    def surface(self, xs: np.ndarray, ys: np.ndarray, t: np.ndarray) -> "Surface":
        """The surface points at camera-frame (X, Y, t) (broadcastable arrays, t from cast)."""
        return Surface(t, tuple(r[0] * xs + r[1] * ys + r[2] * t + r[3] for r in self.rows), self)


@dataclass
class Surface:
    """Points on a placed ellipsoid: depth t and unit-sphere coordinates q."""
    t: np.ndarray
    q: tuple[np.ndarray, np.ndarray, np.ndarray]
    placed: Placed

    def facing(self, direction) -> np.ndarray:
        """Cosine between the surface normal and a camera-frame unit direction."""
        # The normal is the gradient of |q|^2, G^T q; its length needs q's quadratic form G G^T.
        along = (self.placed.g @ np.asarray(direction, dtype=np.float64)).tolist()
        gram = self.placed.gram
        q0, q1, q2 = self.q
        dot = q0 * along[0] + q1 * along[1] + q2 * along[2]
        norm2 = (gram[0][0] * q0 * q0 + gram[1][1] * q1 * q1 + gram[2][2] * q2 * q2
                 + 2 * (gram[0][1] * q0 * q1 + gram[0][2] * q0 * q2 + gram[1][2] * q1 * q2))
        return dot / np.sqrt(np.maximum(norm2, 1e-12))
