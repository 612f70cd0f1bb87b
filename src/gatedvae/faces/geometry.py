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

    Closed form, vectorised: roll from the eye line; then, in the roll-free frame, yaw from the
    nose tip's sideways offset against the eye spacing (the nose stands NOSE_DEPTH in front of
    the face plane) and pitch from where the nose tip falls between the eye line and the mouth
    line. Accurate to a few degrees for |yaw|, |pitch| < 40 degrees on faces shaped like the
    generic model; a proxy on real faces.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes_mid = (lm[:, 0] + lm[:, 1]) / 2
    mouth_mid = (lm[:, 3] + lm[:, 4]) / 2
    eye_vec = lm[:, 1] - lm[:, 0]
    # Image y points down, so a counter-clockwise roll gives a negative eye-line slope.
    roll = np.arctan2(-eye_vec[:, 1], eye_vec[:, 0])
    c, s = np.cos(roll), np.sin(roll)

    def unroll(p):  # into face-up coordinates (x right, y up), undoing the roll
        d = p - eyes_mid
        x, y = d[:, 0], -d[:, 1]
        return np.stack([c * x + s * y, -s * x + c * y], axis=1)

    nose = unroll(lm[:, 2])
    mouth = unroll(mouth_mid)
    eye_span = np.hypot(eye_vec[:, 0], eye_vec[:, 1])      # = scale * cos(yaw)
    # Sideways: the nose's offset from the face's midline, where face-plane points cancel.
    tan_yaw = (nose[:, 0] - mouth[:, 0] * (NOSE_DROP / MOUTH_DROP)) / (eye_span * NOSE_DEPTH)
    # Vertically: the nose's drop below the eye line over the mouth's drop, seen in the image,
    # is r = (NOSE_DROP cos p + NOSE_DEPTH sin p) / (MOUTH_DROP cos p) for pitch p.
    mouth_drop = -mouth[:, 1]
    ratio = -nose[:, 1] / np.where(np.abs(mouth_drop) > 1e-9, mouth_drop, np.nan)
    pitch = np.arctan((ratio - NOSE_DROP / MOUTH_DROP) * MOUTH_DROP / NOSE_DEPTH)
    # The sideways offset above is NOSE_DEPTH cos(p) sin(yaw) against the eye span's cos(yaw).
    yaw = np.arctan(tan_yaw / np.cos(pitch))
    return pitch, yaw, roll
