"""An optional extractor from dlib's 68-point landmarks (the iBUG 300-W layout the paper's labels use).

Head pose comes from the rigid points only (eye corners, nose bridge and nose base) by a
weak-perspective PnP against a generic 3D face (MODEL_68_3D) in geometry.py's frame and units, so
neither the mouth nor the jaw can carry expression into pose. Expression proxies on the OpenFace
AU intensity scale (0..5) come from landmark distances in the frontalised face frame.

dlib and its model file are optional (``pip install -e ".[landmarks]"``: dlib-bin and
face-recognition-models, which ships shape_predictor_68_face_landmarks.dat); importing this
module never needs them, and every function that does raises LandmarksUnavailable.

Point indices (0-based, image left = the subject's right): 0-16 jaw, 17-21 / 22-26 brows (image
left / right, inner ends 21 and 22), 27-30 nose bridge (30 the tip), 31-35 nose base (33 centre),
36-41 / 42-47 eyes (corners 36, 39 and 42, 45; upper lids 37, 38 / 43, 44; lower lids 41, 40 /
47, 46), 48-59 outer lips (corners 48, 54), 60-67 inner lips (62 upper centre, 66 lower centre).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae.errors import StageError
from gatedvae.faces import features, geometry

log = logging.getLogger(__name__)

EXTRACTOR = "landmarks68"
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
INSTALL_HINT = 'pip install -e ".[landmarks]"'

# A generic 3D face for the rigid points, in geometry.py's frame (x right, y up, z towards the
# camera) and units (1 = the distance between the eye centres, which sit at (+-0.5, 0, 0)).
# Rough adult anthropometry, taking the eye-centre distance as 62 mm: inner canthi 32 mm apart,
# outer canthi 92 mm apart (palpebral fissures 30 mm wide, with a slight upward canthal tilt),
# the inner canthi ~4 mm and the outer ~13 mm behind the corneas; the soft-tissue nasion ~12 mm
# in front of the corneas, the dorsum running straight down to geometry's nose tip (pronasale,
# 38 mm below the eye line, 34 mm in front), the subnasale ~7 mm below and ~16 mm behind the tip,
# the alar bases ~26 mm apart. Rows are indexed by the 68-point numbering; NaN where not rigid.
RIGID_POINTS = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)
MODEL_68_3D = np.full((68, 3), np.nan)
MODEL_68_3D[list(RIGID_POINTS)] = [
    [0.0, 0.02, 0.20],      # 27 nasion (top of the bridge, between the eyes)
    [0.0, -0.19, 0.32],     # 28 bridge
    [0.0, -0.40, 0.44],     # 29 bridge
    [0.0, -0.62, 0.55],     # 30 nose tip = geometry.LANDMARKS_3D[2]
    [-0.21, -0.68, 0.24],   # 31 left alar base
    [-0.11, -0.72, 0.31],   # 32 left nostril
    [0.0, -0.73, 0.29],     # 33 subnasale
    [0.11, -0.72, 0.31],    # 34 right nostril
    [0.21, -0.68, 0.24],    # 35 right alar base
    [-0.74, 0.025, -0.21],  # 36 left eye, outer corner
    [-0.26, -0.015, -0.06],  # 39 left eye, inner corner
    [0.26, -0.015, -0.06],  # 42 right eye, inner corner
    [0.74, 0.025, -0.21],   # 45 right eye, outer corner
]

# Each proxy maps a landmark measure linearly from its value on a neutral generic face (0) to its
# value in a strong expression (5), clipped to 0..5: (neutral, strong). Measures are in the
# frontalised face frame (below), units of the inter-ocular distance (IOD, ~62 mm).
CALIBRATION = {
    "mouth_width": (0.82, 1.05),     # 48-54; a broad smile widens the mouth by ~14 mm
    "corner_lift": (-0.01, 0.10),    # lip corners' height above the upper inner lip centre (62)
    "lip_gap": (0.0, 0.15),          # 62-66, the inner-lip opening (lips part: AU25)
    "jaw_gap": (0.10, 0.50),         # the same opening, from jaw drop on (AU26)
    "inner_brow": (0.24, 0.38),      # inner brow (21, 22) above its eye's corner line
    "outer_brow": (0.24, 0.38),      # outer brow (17-18, 25-26) above its eye's corner line
    "brow_gap": (0.45, 0.33),        # 21-22 apart; a frown draws the brows together ...
    "brow_drop": (0.24, 0.16),       # ... and down
    "eye_aspect": (0.30, 0.05),      # eye aspect ratio: lid opening over eye width
}
PROXY_COLUMNS = ("AU01_r", "AU02_r", "AU04_r", "AU12_r", "AU25_r", "AU26_r", "AU45_r")


class LandmarksUnavailable(StageError, ImportError):
    """dlib or its 68-point model is missing; the message says what to install."""


def _model_path() -> Path | None:
    """The 68-point model inside face_recognition_models, found without importing the package
    (its __init__ imports pkg_resources, which setuptools >= 81 no longer ships)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "models" / MODEL_FILE
        if path.is_file():
            return path
    return None


def available() -> bool:
    """Whether dlib and the 68-point model are installed."""
    try:
        has_dlib = importlib.util.find_spec("dlib") is not None
    except (ImportError, ValueError):
        has_dlib = False
    return has_dlib and _model_path() is not None


@functools.lru_cache(maxsize=1)
def _models():
    try:
        import dlib
    except ImportError as err:
        raise LandmarksUnavailable(f"the landmarks68 extractor needs dlib ({err}); "
                                   f"install it with {INSTALL_HINT}") from err
    path = _model_path()
    if path is None:
        raise LandmarksUnavailable(f"the landmarks68 extractor needs {MODEL_FILE} from the "
                                   f"face-recognition-models package; install it with {INSTALL_HINT}")
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))


def detect(image_rgb_uint8: np.ndarray) -> np.ndarray | None:
    """The 68 points [68, 2] (x, y pixels) of the largest face dlib's frontal detector finds
    (upsampling once if it finds none at the original size), or None.

    Faces scoring under half the best detection's score are passed over first: the HOG detector
    fires weakly on clutter (on the astronaut saved as a quality-75 JPEG, a 105-pixel box on her
    suit scores 0.07 beside her 88-pixel face's 1.6), and such a box must not win on size."""
    detector, predictor = _models()
    image = np.ascontiguousarray(image_rgb_uint8, dtype=np.uint8)
    for upsample in (0, 1):
        boxes, scores, _ = detector.run(image, upsample, 0.0)
        if len(boxes):
            break
    else:
        return None
    best = max(scores)
    box = max((b for b, sc in zip(boxes, scores) if sc >= best / 2),
              key=lambda r: r.width() * r.height())
    shape = predictor(image, box)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def _fit(points: np.ndarray):
    """Weak-perspective PnP on the rigid points: rotations [N, 3, 3] and scales [N] (pixels per
    IOD). Least squares gives the affine camera A (2 x 3) with q ~ A m for the centred model
    points m and the centred face-up image points q; its nearest scaled pair of orthonormal rows
    (SVD: A = U S V^T -> s = mean(S), rows U V^T) are R's first two rows, their cross product
    the third. Rows with a non-finite rigid point give NaN."""
    pts = np.asarray(points, dtype=np.float64)
    rigid = list(RIGID_POINTS)
    q = pts[:, rigid] * [1.0, -1.0]                        # image (y down) -> face-up (y up)
    q = q - q.mean(axis=1, keepdims=True)
    model = MODEL_68_3D[rigid] - MODEL_68_3D[rigid].mean(axis=0)
    n = len(pts)
    rot = np.full((n, 3, 3), np.nan)
    scale = np.full(n, np.nan)
    ok = np.isfinite(q).all(axis=(1, 2))
    if ok.any():
        affine = np.swapaxes(np.linalg.pinv(model) @ q[ok], 1, 2)   # [n, 2, 3]
        u, sv, vt = np.linalg.svd(affine, full_matrices=False)
        rows = u @ vt
        rot[ok] = np.concatenate([rows, np.cross(rows[:, 0], rows[:, 1])[:, None]], axis=1)
        scale[ok] = sv.mean(axis=1)
    return rot, scale


def pose_from_68(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitch, yaw and roll (radians, geometry.py's conventions) from 68 points [N, 68, 2], by a
    weak-perspective PnP (_fit) on RIGID_POINTS only; the mouth, jaw and brows are never read.
    Exact on noise-free orthographic projections of MODEL_68_3D; a proxy on real faces."""
    return geometry.angles_from_rotation(_fit(points)[0])


def _frontal(points: np.ndarray) -> np.ndarray:
    """All 68 points in the frontalised face frame: origin at the eye midpoint (means of 36-41
    and 42-47), x right along the eye line (undoing roll), y up; x divided by the eye span seen in
    the image and y by the fitted scale times cos(pitch), so lengths in the face plane read in
    IOD units whatever the pose (an eye span foreshortened by yaw, a height by pitch)."""
    pts = np.asarray(points, dtype=np.float64)
    rot, scale = _fit(pts)
    pitch = geometry.angles_from_rotation(rot)[0]
    left, right = pts[:, 36:42].mean(axis=1), pts[:, 42:48].mean(axis=1)
    eye = right - left
    span = np.hypot(eye[:, 0], eye[:, 1])
    c, s = eye[:, 0] / span, -eye[:, 1] / span             # cos, sin of the eye line's roll
    d = pts - ((left + right) / 2)[:, None]
    x, y = d[..., 0], -d[..., 1]
    xr, yr = c[:, None] * x + s[:, None] * y, -s[:, None] * x + c[:, None] * y
    return np.stack([xr / span[:, None], yr / (scale * np.cos(pitch))[:, None]], axis=-1)


def _level(value, name):
    neutral, strong = CALIBRATION[name]
    return np.clip((value - neutral) / (strong - neutral), 0.0, 1.0)


def expression_proxies(points: np.ndarray) -> dict[str, np.ndarray]:
    """AU intensity proxies (0..5) from 68 points [N, 68, 2], keyed by OpenFace column name.

    In the frontalised frame (_frontal; IOD units), each measure m is mapped by
    5 * clip((m - neutral) / (strong - neutral), 0, 1) with CALIBRATION's values:
      AU12_r  mean of mouth_width (|48-54|) and corner_lift (corners 48, 54 above 62)
      AU25_r  lip_gap, the inner-lip opening (62 above 66)
      AU26_r  jaw_gap, the same opening on a wider range (jaw drop opens it further)
      AU01_r  inner_brow: 21 and 22 above their eye's corner line (mean of 36, 39 / 42, 45)
      AU02_r  outer_brow: 17-18 and 25-26 above the same lines
      AU04_r  mean of brow_gap (|21-22| shrinking) and brow_drop (inner brow height falling)
      AU45_r  eye_aspect, (|37-41| + |38-40|) / (2 |36-39|) and likewise for 42-47, falling
    Linear and uncalibrated against OpenFace: ordinal proxies for the paper's labels.
    """
    f = _frontal(points)
    x, y = f[..., 0], f[..., 1]
    eye_line_l, eye_line_r = (y[:, 36] + y[:, 39]) / 2, (y[:, 42] + y[:, 45]) / 2
    inner_brow = ((y[:, 21] - eye_line_l) + (y[:, 22] - eye_line_r)) / 2
    outer_brow = ((y[:, 17] + y[:, 18]) / 2 - eye_line_l + (y[:, 25] + y[:, 26]) / 2 - eye_line_r) / 2
    gap = y[:, 62] - y[:, 66]

    def dist(a, b):
        return np.hypot(*(f[:, a] - f[:, b]).T)

    aspect = ((dist(37, 41) + dist(38, 40)) / (2 * dist(36, 39))
              + (dist(43, 47) + dist(44, 46)) / (2 * dist(42, 45))) / 2
    smile = (_level(dist(48, 54), "mouth_width")
             + _level((y[:, 48] + y[:, 54]) / 2 - y[:, 62], "corner_lift")) / 2
    frown = (_level(x[:, 22] - x[:, 21], "brow_gap") + _level(inner_brow, "brow_drop")) / 2
    out = {
        "AU01_r": _level(inner_brow, "inner_brow"),
        "AU02_r": _level(outer_brow, "outer_brow"),
        "AU04_r": frown,
        "AU12_r": smile,
        "AU25_r": _level(gap, "lip_gap"),
        "AU26_r": _level(gap, "jaw_gap"),
        "AU45_r": _level(aspect, "eye_aspect"),
    }
    return {name: 5.0 * out[name] for name in PROXY_COLUMNS}


def extract(image_dir: Path, image_ids: list[str], *, counts: dict | None = None,
            progress: bool = False) -> pd.DataFrame:
    """The features.parquet contract frame for `image_ids` (files image_dir / image_id): success
    where dlib finds a face (confidence 1.0, pose and PROXY_COLUMNS filled, other AUs NaN);
    unreadable images and images without a face stay success False, counted in `counts`."""
    from PIL import Image, UnidentifiedImageError
    from tqdm import tqdm

    _models()  # fail before reading any image when dlib is missing
    image_dir = Path(image_dir)
    out = features.empty(image_ids, EXTRACTOR)
    found, points, failures = [], [], []
    no_face = unreadable = 0
    bar = tqdm(image_ids, desc=EXTRACTOR, unit="image", disable=not progress)
    for i, image_id in enumerate(bar):
        try:
            with Image.open(image_dir / image_id) as im:
                image = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as e:
            unreadable += 1
            failures.append({"image_id": image_id, "reason": f"unreadable image: {type(e).__name__}"})
            continue
        pts = detect(image)
        if pts is None:
            no_face += 1
            failures.append({"image_id": image_id, "reason": "no face found by dlib's detector"})
            continue
        found.append(i)
        points.append(pts)
    if found:
        pts = np.stack(points)
        pitch, yaw, _ = pose_from_68(pts)
        out.loc[found, "success"] = True
        out.loc[found, "confidence"] = 1.0
        out.loc[found, "pitch"] = pitch
        out.loc[found, "yaw"] = yaw
        for name, values in expression_proxies(pts).items():
            out.loc[found, name] = values
    values = dict(n_images=len(image_ids), no_face=no_face, unreadable=unreadable)
    if counts is not None:
        counts.update(values)
        counts["failures"] = failures
    log.info("features: %s", ", ".join(f"{k} {v}" for k, v in values.items()))
    return out
