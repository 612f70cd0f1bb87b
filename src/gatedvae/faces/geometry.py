"""A generic 3D face in units of the inter-ocular distance, and its rotation and projection.

Frame: x to the image's right, y up, z towards the camera; the eyes' centres lie at
(+-0.5, 0, 0). Pose angles (radians): pitch about x (positive: the top of the face comes towards the camera,
looking down), yaw about y
(positive: the face turns towards the image's right, so the nose tip moves right), roll about z
(positive: counter-clockwise in the image). The synthetic renderer draws this face and the
landmark pose estimator inverts its 5-point projection, so both share these constants.
"""

from __future__ import annotations

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
# The head's silhouette is an ellipsoid whose centre sits behind the face plane, so turning the
# head moves the features relative to its outline as in a real face.
HEAD_CENTRE = np.array([0.0, -0.45, -0.85])
HEAD_AXES = np.array([1.15, 1.55])


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
