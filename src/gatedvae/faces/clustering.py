"""The faces pair index: k-means of standardised pose features and of AU features.

Two images may be paired for a partition when they share its cluster. The AU values are first
made pose-free (pose_corrected): an extractor's expression estimates can carry head pose (on real
photos landmarks68's inner-brow proxy AU01 correlates -0.78 with pitch: a brow in front of the
eyes drops towards them as the head looks down), and expression clusters that follow pose would
pair images of one pose, teaching the expression partition pose. Images whose features
failed cannot be clustered: each gets a cluster of its own (so it is paired with itself, a
plain VAE step for that partition), and the statistics count them. Clusters that k-means leaves
with one member are, by default, merged into the nearest cluster with two or more.
cluster_faces is the stage (stages/faces_cluster.py).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans

from gatedvae import timing
from gatedvae.faces.config import ClusterConfig  # noqa: F401 (re-exported)
from gatedvae.faces.features import POSE_COLUMNS
from gatedvae.faces.spec import AU_INTENSITIES

log = logging.getLogger(__name__)


def cluster(values: np.ndarray, cfg: ClusterConfig, *, name: str) -> tuple[np.ndarray, dict]:
    """Labels [N] int64 for the rows of `values` (finite, [N, D]) and statistics."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    mean, std = values.mean(axis=0), values.std(axis=0)
    usable = std > 1e-12
    if not usable.any():
        raise ValueError(f"{name}: every feature is constant over {n} images; nothing to cluster")
    z = (values[:, usable] - mean[usable]) / std[usable]
    k = int(min(cfg.n_clusters, max(1, n // cfg.min_mean_size)))
    if k < 2:
        raise ValueError(f"{name}: {n} images with features allow {k} cluster(s) at "
                         f"faces.cluster.min_mean_size {cfg.min_mean_size:g} (k = min("
                         f"{cfg.n_clusters}, {n} // {cfg.min_mean_size:g})); at least 2 are needed: "
                         f"lower faces.cluster.min_mean_size to {n / 2:g} or less, or use more images")
    if cfg.algorithm == "minibatch":
        model = MiniBatchKMeans(k, random_state=cfg.seed, n_init=cfg.n_init,
                                batch_size=max(cfg.batch_size, 3 * k), max_no_improvement=20)
    elif cfg.algorithm == "full":
        model = KMeans(k, random_state=cfg.seed, n_init=cfg.n_init)
    else:
        raise ValueError(f"{name}: algorithm must be 'minibatch' or 'full', got {cfg.algorithm!r}")
    with timing.phase("k-means"):  # timed in the stage's record: the stats stay the same bytes
        labels = model.fit_predict(z).astype(np.int64)
    centres = model.cluster_centers_
    sizes = np.bincount(labels, minlength=k)
    singletons = int((sizes == 1).sum())
    merged = 0
    if cfg.merge_singletons and singletons and (sizes >= 2).any():
        lonely = np.flatnonzero(sizes[labels] == 1)
        targets = np.flatnonzero(sizes >= 2)
        d = ((z[lonely, None, :] - centres[None, targets, :]) ** 2).sum(axis=2)
        labels[lonely] = targets[d.argmin(axis=1)]
        merged = len(lonely)
    labels = _relabel(labels)
    final = np.bincount(labels)
    if k < cfg.n_clusters or merged:
        log.info("%s: %d clusters requested; %d images allow %d (faces.cluster.min_mean_size %g); "
                 "%d made after merging %d singletons into their nearest cluster", name,
                 cfg.n_clusters, n, k, cfg.min_mean_size, len(final), merged)
    if len(final) < 2:
        raise ValueError(f"{name}: k-means left {len(final)} cluster of {n} images; at least 2 "
                         "are needed (the features barely vary: check the extractor's output)")
    stats = {
        "features": [c for c, u in zip(_feature_names(values.shape[1], name), usable) if u],
        "n_images": n, "requested_clusters": cfg.n_clusters, "clusters": int(len(final)),
        "algorithm": cfg.algorithm, "inertia": float(model.inertia_),
        "kmeans_singletons": singletons, "singletons_merged_into_nearest": merged,
        "sizes": _size_summary(final),
    }
    return labels, stats


def _feature_names(d, name):
    return list(POSE_COLUMNS) if d == len(POSE_COLUMNS) and name == "pose" else [f"{name}_{i}" for i in range(d)]


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive ids 0..K-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int64)


def _size_summary(sizes: np.ndarray) -> dict:
    return {"min": int(sizes.min()), "median": float(np.median(sizes)), "mean": float(sizes.mean()),
            "max": int(sizes.max()), "singletons": int((sizes == 1).sum())}


def pose_corrected(au_values: np.ndarray, pose_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AU values [N, K] with the part that head pose predicts removed: each column minus its
    least-squares fit on (pitch, yaw, pitch^2, yaw^2), plus its mean (so the scale is kept), and
    the share of each column's variance pose explained (R^2; 0 when it carries no pose).
    True expression does not depend on where the head points; what pose predicts is the
    extractor's error. Rows must all be usable (finite).

    The fit keeps only the pose directions with a singular value at least 0.1 of the largest
    (standardised terms): poses bunched at a few values (a pose cluster's jitter) make the
    squares nearly collinear with the angles, and an exact fit would then explain the AU noise
    by that jitter."""
    pitch, yaw = pose_values[:, 0], pose_values[:, 1]
    terms = np.column_stack([pitch, yaw, pitch ** 2, yaw ** 2])
    centred_au = au_values - au_values.mean(axis=0)
    if len(pitch) <= terms.shape[1] + 1:
        return au_values, np.zeros(au_values.shape[1])
    terms = terms - terms.mean(axis=0)
    scale = terms.std(axis=0)
    terms = terms[:, scale > 1e-12] / scale[scale > 1e-12]
    if terms.shape[1] == 0:
        return au_values, np.zeros(au_values.shape[1])
    u, singular, _ = np.linalg.svd(terms, full_matrices=False)
    basis = u[:, singular >= 0.1 * singular[0]]
    fitted = basis @ (basis.T @ centred_au)
    total = (centred_au ** 2).sum(axis=0)
    r2 = np.where(total > 0, (fitted ** 2).sum(axis=0) / np.where(total > 0, total, 1), 0.0)
    return au_values - fitted, r2


def au_columns(frame: pd.DataFrame) -> list[str]:
    """AU columns the extractor filled (finite somewhere among successful rows)."""
    ok = frame["success"].to_numpy()
    return [c for c in AU_INTENSITIES if np.isfinite(frame.loc[ok, c].to_numpy()).any()]


def pair_index(feats: pd.DataFrame, image_ids: list[str], pose_cfg: ClusterConfig,
               expression_cfg: ClusterConfig, *, expression_aus: list[str] | None = None
               ) -> tuple[pd.DataFrame, dict]:
    """groups (columns pose, expression; one row per image of `image_ids`, in that order) and
    statistics. Images without successful features each get a cluster of their own.
    `expression_aus`: the AU columns to cluster (None: every one the extractor filled)."""
    table = feats.set_index("image_id").reindex(image_ids)
    missing_row = table["success"].isna().to_numpy()
    ok = table["success"].fillna(False).to_numpy(dtype=bool)
    filled = au_columns(feats)
    if expression_aus is None:
        aus = filled
    else:
        unknown = [a for a in expression_aus if a not in AU_INTENSITIES]
        if unknown:
            raise ValueError(f"expression AUs {unknown} are not OpenFace intensity columns {AU_INTENSITIES}")
        aus = [a for a in expression_aus if a in filled]
        if len(aus) < len(expression_aus):
            log.info("expression: AUs %s have no values from this extractor; clustering %s",
                     [a for a in expression_aus if a not in filled], aus)
    if not aus:
        raise ValueError("features: no AU column has values; cannot cluster expressions")
    pose_values = table[list(POSE_COLUMNS)].to_numpy(dtype=np.float64)
    au_values = table[aus].to_numpy(dtype=np.float64)
    # A successful row may still lack one AU the extractor fills elsewhere: impute the mean.
    au_values = np.where(np.isfinite(au_values), au_values, np.nanmean(au_values[ok], axis=0))
    usable = ok & np.isfinite(pose_values).all(axis=1)
    if usable.sum() < 2:
        raise ValueError(f"only {int(usable.sum())} of {len(image_ids)} images have features; "
                         "cannot cluster")
    au_values = au_values.copy()
    au_values[usable], pose_r2 = pose_corrected(au_values[usable], pose_values[usable])
    groups = pd.DataFrame(index=range(len(image_ids)))
    stats = {"n_images": len(image_ids), "with_features": int(usable.sum()),
             "without_features": int((~usable).sum()), "no_features_row": int(missing_row.sum()),
             "unclustered_images_paired_with": "themselves (one cluster each)"}
    for column, values, cfg in (("pose", pose_values, pose_cfg), ("expression", au_values, expression_cfg)):
        labels, part_stats = cluster(values[usable], cfg, name=column)
        if column == "expression":
            part_stats["features"] = aus
            # how much of each AU head pose predicted, removed before clustering (pose_corrected)
            part_stats["pose_r2_removed"] = {a: round(float(v), 4) for a, v in zip(aus, pose_r2)}
        full = np.empty(len(image_ids), dtype=np.int64)
        full[usable] = labels
        k = labels.max() + 1
        full[~usable] = k + np.arange(int((~usable).sum()))
        groups[column] = full
        stats[column] = part_stats
    return groups.reset_index(drop=True), stats


# The stage (stages/faces_cluster.py)

def cluster_faces(params, *, features: str, aligned: str, out: str, stats: str) -> None:
    """k-means of pose and AU features into the pair index groups.parquet."""
    from gatedvae.atomic import save_json, save_parquet
    from gatedvae.errors import StageError
    from gatedvae.faces import config, features as feature_table
    from gatedvae.faces.align import aligned_ids

    config.check_faces(params)
    try:
        groups, summary = pair_index(
            feature_table.read(features), aligned_ids(aligned), config.cluster_config(params, "pose"),
            config.cluster_config(params, "expression"), expression_aus=config.expression_aus(params))
    except ValueError as e:  # features that cannot be clustered; the message says why
        if isinstance(e, StageError):
            raise
        raise StageError(f"{features}: {e}") from e
    save_parquet(out, groups)
    save_json(stats, summary)
    log.info("pose: %d clusters; expression: %d clusters; %d images without features paired with "
             "themselves", summary["pose"]["clusters"], summary["expression"]["clusters"],
             summary["without_features"])
