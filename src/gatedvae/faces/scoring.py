"""Faces evaluation: DCI and placement against two kinds of label, and reconstruction quality.

Placement of a group of factors (pose: yaw, pitch; expression: smile, mouth_open, brow,
eye_closure) is the mean over its factors of the share of each factor's importance that lies in
the group's own partition (gatedvae.evaluation.metrics.placement).

Labels: the synthetic faces' true factors where they exist (keys rf_*, lasso_*), and always the
extractor's own features, the pose and AU values the pair index was clustered from (keys
extractor_rf_*, extractor_lasso_*; pose: pitch, yaw; expression: the clustered AU columns). Those
are weak, noisy labels, the only ones real CelebA has; on synthetic faces both are computed, so
the report shows how far the weak labels lead a reader from the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gatedvae import inputs
from gatedvae.evaluation.evaluate import evaluate_codes
from gatedvae.evaluation.settings import EvalSettings
from gatedvae.faces.spec import FACTOR_GROUPS, FACTOR_NAMES, PARTITIONS


def load_ground_truth(raw_dir: Path, aligned_dir: Path) -> np.ndarray | None:
    """The synthetic faces' true factors [N, len(FACTOR_NAMES)] in aligned-image order, or None
    for real CelebA (no factors.parquet)."""
    factors_path = Path(raw_dir) / "factors.parquet"
    if not factors_path.exists():
        return None
    ids = inputs.table(Path(aligned_dir) / "index.parquet")["image_id"]
    table = inputs.table(factors_path).set_index("image_id")
    missing = ids[~ids.isin(table.index)]
    if len(missing):
        raise ValueError(f"{factors_path}: no factors for {len(missing)} aligned image(s), "
                         f"e.g. {missing.iloc[0]!r}; re-run faces_acquire")
    return table.loc[ids, FACTOR_NAMES].to_numpy(np.float64)


def pair_variance_explained(images_u8: np.ndarray, groups: np.ndarray, *, chunk: int = 2048) -> float:
    """The share of pixel variance that a partition's groups explain: omega squared of a one-way
    ANOVA per pixel, summed over pixels, (SSB - (k - 1) MSW) / (SST + MSW), which corrects for
    the chance agreement of small groups (0 when groups carry nothing, 1 when they fix every
    pixel). It bounds what a gated step for the partition can learn from its pair targets."""
    n = len(images_u8)
    _, ids = np.unique(np.asarray(groups, dtype=np.int64), return_inverse=True)
    k = int(ids.max()) + 1
    if not 1 < k < n:
        raise ValueError(f"need between 2 and N - 1 groups for N = {n} images, got {k}")
    d = int(np.prod(images_u8.shape[1:]))
    sums, total, squares = np.zeros((k, d)), np.zeros(d), 0.0
    for start in range(0, n, chunk):
        x = np.asarray(images_u8[start:start + chunk], dtype=np.float64).reshape(-1, d)
        np.add.at(sums, ids[start:start + chunk], x)
        total += x.sum(axis=0)
        squares += float((x ** 2).sum())
    counts = np.bincount(ids, minlength=k).astype(np.float64)
    sst = squares - float((total ** 2).sum()) / n
    ssb = float(((sums ** 2).sum(axis=1) / counts).sum()) - float((total ** 2).sum()) / n
    msw = (sst - ssb) / (n - k)
    return (ssb - (k - 1) * msw) / (sst + msw)


def most_active_dims(codes: np.ndarray, start: int, stop: int, k: int) -> list[int]:
    """Up to k dims of [start, stop) with the largest variance of the posterior mean, in order."""
    variance = codes[:, start:stop].var(axis=0)
    return sorted((start + np.argsort(-variance)[:k]).tolist())


@dataclass
class Labels:
    """Per-image labels to score codes against: values [N, K] in aligned-image order, which rows
    have them (`usable`), the K names and each partition's group of names."""
    values: np.ndarray
    usable: np.ndarray
    names: list[str]
    groups: dict[str, list[str]]
    source: str                     # "ground truth" or the extractor's name
    dropped: dict = field(default_factory=dict)   # label columns left out, with why


def truth_labels(truth: np.ndarray | None) -> Labels | None:
    if truth is None:
        return None
    return Labels(values=truth, usable=np.ones(len(truth), bool), names=list(FACTOR_NAMES),
                  groups={g: list(m) for g, m in FACTOR_GROUPS.items()}, source="ground truth")


def extractor_labels(features_path: str | Path, aligned_dir: str | Path, aus: list[str]) -> Labels:
    """The extractor's pitch, yaw and the clustered AU columns `aus` (those it filled and that
    vary among the images it succeeded on), the AUs made pose-free as the pair index's are
    (clustering.pose_corrected), matched to the aligned images by name; images without features
    (or without a row) are not usable."""
    from gatedvae.faces import features

    frame = features.read(features_path)
    ids = inputs.table(Path(aligned_dir) / "index.parquet")["image_id"]
    table = frame.set_index("image_id").reindex(ids)
    usable = table["success"].fillna(False).to_numpy(dtype=bool)
    dropped = {}
    expression = []
    for name in aus:
        column = table.loc[usable, name].to_numpy(dtype=np.float64)
        if not np.isfinite(column).any():
            dropped[name] = "not estimated by this extractor"
        elif np.nanstd(column) < 1e-9:
            dropped[name] = "constant over these images"
        else:
            expression.append(name)
    names = ["pitch", "yaw", *expression]
    values = table[names].to_numpy(dtype=np.float64)
    # a successful row missing one AU the extractor fills elsewhere: the column's mean (as clustering does)
    means = np.nanmean(values[usable], axis=0) if usable.any() else np.zeros(len(names))
    values = np.where(np.isfinite(values), values, means)
    if expression and usable.any():  # the expression labels the pair index clustered: pose-free
        from gatedvae.faces.clustering import pose_corrected

        values[np.ix_(usable, range(2, len(names)))] = pose_corrected(values[usable, 2:], values[usable, :2])[0]
    extractor = str(frame["extractor"].iloc[0]) if len(frame) else "unknown"
    return Labels(values=values, usable=usable, names=names,
                  groups={"pose": ["pitch", "yaw"], "expression": expression}, source=extractor,
                  dropped=dropped)


def factor_scores(codes_train, factors_train, codes_test, factors_test, *, partition_sizes,
                  settings: EvalSettings, names: list[str] | None = None,
                  groups: dict[str, list[str]] | None = None) -> dict[str, tuple[dict, dict, np.ndarray]]:
    """Per regressor (lasso, rf): (summary, details, importance) of codes against labels (the
    synthetic faces' factors in FACTOR_NAMES order unless `names` and `groups` say otherwise),
    through the one evaluation path (evaluate_codes). summary: the disentanglement,
    completeness and informativeness averages; details: the per-factor values, and `groups`,
    the placement of each partition's factor group."""
    names = list(FACTOR_NAMES) if names is None else list(names)
    groups = FACTOR_GROUPS if groups is None else groups
    intended = [PARTITIONS.index(g) for g, members in groups.items() for _ in members]
    order = [f for members in groups.values() for f in members]
    if order != names:
        raise ValueError(f"label names {names} must list each group's members in order {order}")
    metrics, importance = evaluate_codes(codes_train, factors_train, codes_test, factors_test,
                                         partition_sizes=partition_sizes, intended=intended,
                                         factor_names=names, settings=settings,
                                         extra_metrics=False)
    out = {}
    for key, m in metrics.items():
        per_factor = m["placement"]["per_factor"]
        groups_placement = {g: float(np.mean([per_factor[f] for f in members if f in per_factor]))
                            for g, members in groups.items()}
        summary = {k: float(m[k]["avg"]) for k in ("disentanglement", "completeness", "informativeness")}
        out[key] = (summary, {"groups": groups_placement, **m}, importance[key])
    return out


def variance_explained(images_u8: np.ndarray, reconstructions: np.ndarray, *, pixel_max: int = 255) -> float:
    """The share of the images' pixel variance the reconstructions explain: 1 - MSE / MSE of the
    mean image (the images' own mean face); 0 for the mean face itself, 1 for a perfect copy."""
    x = np.asarray(images_u8, dtype=np.float64).reshape(len(images_u8), -1) / pixel_max
    r = np.asarray(reconstructions, dtype=np.float64).reshape(len(x), -1)
    baseline = float(((x - x.mean(axis=0)) ** 2).mean())
    return 1.0 - float(((x - r) ** 2).mean()) / baseline if baseline > 0 else float("nan")


def run_scores(model, cfg, data: np.ndarray, labels: list[Labels], settings: EvalSettings
               ) -> tuple[dict, dict, dict]:
    """One trained model scored as the report compares runs: (row, details, importances).

    row (flat numbers): for each kind of label (ground truth: keys rf_*, lasso_*; the extractor's
    features: extractor_rf_*, extractor_lasso_*), RF and lasso D, C, I and the placement of each
    partition's group, on the train and test rows that have labels; the held-out reconstruction,
    KL and ELBO, the share of test pixel variance the reconstructions explain, and the collapse
    diagnostics on the test images (KL and active dims per partition, reconstruction against the
    mean face); `collapsed` is 1 when a partition has no active dim or the codes reconstruct the
    test images no better than the mean face does, and its placement is then not evidence of
    anything. details and importances ({prefix}{regressor}: rf, lasso, extractor_rf, ...) feed
    Hinton diagrams."""
    from gatedvae.evaluation.evaluate import reconstruction_and_elbo, split_rows
    from gatedvae.training.diagnostics import collapse_diagnostics, collapsed_partitions
    from gatedvae.training.infer import encode_mean, reconstruct

    train_rows, test_rows = split_rows(len(data), settings)
    row: dict = {}
    details, importances = {}, {}
    if labels:
        codes_train = encode_mean(model, data[train_rows], pixel_max=cfg.pixel_max)
        codes_test = encode_mean(model, data[test_rows], pixel_max=cfg.pixel_max)
    for label in labels:
        prefix = "" if label.source == "ground truth" else "extractor_"
        train, test = label.usable[train_rows], label.usable[test_rows]
        scores = factor_scores(codes_train[train], label.values[train_rows][train],
                               codes_test[test], label.values[test_rows][test],
                               partition_sizes=cfg.partitions, settings=settings,
                               names=label.names, groups=label.groups)
        for short, (summary, detail, importance) in scores.items():
            for key, value in summary.items():
                row[f"{prefix}{short}_{key}"] = value
            for part in PARTITIONS:
                row[f"{prefix}{short}_placement_{part}"] = detail["groups"][part]
            details[prefix + short], importances[prefix + short] = detail, importance
        if prefix:  # how many images the weak labels cover
            row["extractor_n_train"], row["extractor_n_test"] = int(train.sum()), int(test.sum())
    test = reconstruction_and_elbo(model, data[test_rows], pixel_max=cfg.pixel_max, seed=settings.seed)
    row.update({f"test_{k}": v for k, v in test.items() if k != "recon_sampled"})
    row["test_variance_explained"] = variance_explained(
        data[test_rows], reconstruct(model, data[test_rows], pixel_max=cfg.pixel_max), pixel_max=cfg.pixel_max)
    diagnostics = collapse_diagnostics(model, np.asarray(data[test_rows]), cfg.partitions,
                                       pixel_max=cfg.pixel_max, names=PARTITIONS)
    row.update({k: v for k, v in diagnostics.items() if k.startswith(("kl_", "active_", "recon_vs"))})
    # collapsed: a partition carries nothing, or the codes reconstruct no better than the mean face
    row["collapsed"] = int(bool(collapsed_partitions(diagnostics, PARTITIONS))
                           or diagnostics["recon_vs_mean_face"] >= 1.0)
    return row, details, importances
