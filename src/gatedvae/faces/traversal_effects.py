"""The paper's faces claim as a number: what each partition's traversal changes in the decoded face.

For each active dim of a partition, held-out faces are encoded, that dim is set to values in
[-span, span] (the traversal figures' range), the codes are decoded, and the decoded images'
head pose (yaw, pitch; degrees) and expression (smile, mouth_open, brow, eye_closure; the
renderer's units, 0..1) are read by an estimator of images: a ridge regression from pixels to the
synthetic faces' true factors, fitted on the training rows and scored on the held-out real
images (its own R^2, reported), and scored on the model's reconstructions of them too (how much
of each factor the decoded faces still carry for it to read).

Per partition: pose change = |d yaw/dz| + |d pitch/dz| (degrees per unit of z), expression change
= the sum over the expression factors of |d factor/dz| (per unit of z), each the slope of a
least-squares line through the traversal, averaged over images and then over the partition's
active dims. The claim holds when the pose partition's traversals move pose several times as
much as the expression partition's do (pose_selectivity), and the expression partition's move
expression several times as much as the pose partition's (expression_selectivity). Synthetic
faces only: real photographs have no factors to fit the estimator on.
"""

from __future__ import annotations

import numpy as np
import torch

from gatedvae.faces.spec import FACTOR_GROUPS, FACTOR_NAMES, PARTITIONS

DEGREES = 180.0 / np.pi
POSE_IN_DEGREES = ("yaw", "pitch")   # radians in factors.parquet, degrees here


class FactorEstimator:
    """Ridge regression from pixels in [0, 1] to the true factors (pose in degrees)."""

    def __init__(self, alpha: float = 10.0):
        from sklearn.linear_model import Ridge

        self.model = Ridge(alpha=alpha)

    @staticmethod
    def _units(factors: np.ndarray) -> np.ndarray:
        out = np.array(factors, dtype=np.float64, copy=True)
        for name in POSE_IN_DEGREES:
            out[:, FACTOR_NAMES.index(name)] *= DEGREES
        return out

    def fit(self, images01: np.ndarray, factors: np.ndarray) -> "FactorEstimator":
        self.model.fit(images01.reshape(len(images01), -1), self._units(factors))
        return self

    def predict(self, images01: np.ndarray) -> np.ndarray:
        return self.model.predict(images01.reshape(len(images01), -1))

    def r2(self, images01: np.ndarray, factors: np.ndarray) -> dict[str, float]:
        truth, guess = self._units(factors), self.predict(images01)
        total = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
        return {name: round(float(1 - ((guess[:, j] - truth[:, j]) ** 2).sum() / total[j]), 4)
                for j, name in enumerate(FACTOR_NAMES)}


@torch.no_grad()
def decoded_traversals(model, images_u8: np.ndarray, dim: int, values, *, pixel_max: int,
                       batch: int = 512) -> np.ndarray:
    """The images' posterior means with `dim` set to each value, decoded: [N, len(values), H, W]
    in [0, 1] (infer.traverse for many images at once)."""
    from gatedvae.training.infer import to_float

    model.eval()
    x = to_float(torch.from_numpy(np.asarray(images_u8, dtype=np.uint8)), pixel_max)
    mu = model.encode(x)[0]
    values = torch.as_tensor(np.asarray(values, dtype=np.float32))
    z = mu[:, None, :].repeat(1, len(values), 1)
    z[:, :, dim] = values
    flat = z.reshape(-1, mu.shape[1])
    out = torch.cat([torch.sigmoid(model.decode(flat[i:i + batch])) for i in range(0, len(flat), batch)])
    return out.reshape(len(images_u8), len(values), *out.shape[-2:]).numpy()


def slopes(estimates: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of each factor against the traversal value, per image:
    estimates [N, S, K], values [S] -> [N, K]."""
    centred = values - values.mean()
    return np.einsum("nsk,s->nk", estimates - estimates.mean(axis=1, keepdims=True), centred) / (centred ** 2).sum()


def partition_effects(model, cfg, images_u8: np.ndarray, dims_by_partition: dict[str, list[int]],
                      values, estimator: FactorEstimator) -> dict:
    """Per partition: pose and expression change per unit of z (mean over its dims of the mean
    |slope| over images), and per dim; then the two selectivity ratios."""
    pose = [FACTOR_NAMES.index(f) for f in FACTOR_GROUPS["pose"]]
    expression = [FACTOR_NAMES.index(f) for f in FACTOR_GROUPS["expression"]]
    values = np.asarray(values, dtype=np.float64)
    out: dict = {}
    for part in PARTITIONS:
        per_dim = []
        for dim in dims_by_partition.get(part, []):
            decoded = decoded_traversals(model, images_u8, dim, values, pixel_max=cfg.pixel_max)
            estimates = estimator.predict(decoded.reshape(-1, *decoded.shape[2:])).reshape(
                len(images_u8), len(values), -1)
            mean_abs = np.abs(slopes(estimates, values)).mean(axis=0)    # [K]
            per_dim.append({"dim": int(dim), "pose_change": float(mean_abs[pose].sum()),
                            "expression_change": float(mean_abs[expression].sum()),
                            **{f"{name}_per_unit": round(float(mean_abs[j]), 4) for j, name in enumerate(FACTOR_NAMES)}})
        out[part] = {
            "active_dims": [d["dim"] for d in per_dim],
            "pose_change": float(np.mean([d["pose_change"] for d in per_dim])) if per_dim else float("nan"),
            "expression_change": float(np.mean([d["expression_change"] for d in per_dim])) if per_dim else float("nan"),
            "per_dim": per_dim}
    p, e = out.get("pose", {}), out.get("expression", {})
    out["pose_selectivity"] = _ratio(p.get("pose_change"), e.get("pose_change"))
    out["expression_selectivity"] = _ratio(e.get("expression_change"), p.get("expression_change"))
    return out


def _ratio(a, b) -> float:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b <= 0:
        return float("nan")
    return float(a / b)


def active_dims(codes: np.ndarray, partition_sizes: list[int]) -> dict[str, list[int]]:
    """Each partition's dims whose posterior mean varies over the images (the collapse
    diagnostics' activity test, Var > ACTIVE_VARIANCE)."""
    from gatedvae.training.diagnostics import ACTIVE_VARIANCE

    threshold = ACTIVE_VARIANCE
    variance = codes.var(axis=0)
    out, start = {}, 0
    for part, size in zip(PARTITIONS, partition_sizes):
        out[part] = [d for d in range(start, start + size) if variance[d] > threshold]
        start += size
    return out
