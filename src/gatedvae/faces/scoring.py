"""Faces evaluation: latent traversals and, with synthetic ground truth, DCI and placement.

Placement of a group of factors (pose: yaw, pitch; expression: smile, mouth_open, brow,
eye_closure) is the mean over its factors of the share of each factor's importance that lies in
the group's own partition (gatedvae.evaluation.metrics.placement).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gatedvae import inputs
from gatedvae.evaluation.evaluate import evaluate_codes
from gatedvae.evaluation.settings import EvalSettings
from gatedvae.faces.spec import FACTOR_GROUPS, FACTOR_NAMES, INTENDED


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


def factor_scores(codes_train, factors_train, codes_test, factors_test, *, partition_sizes,
                  settings: EvalSettings) -> dict[str, tuple[dict, dict, np.ndarray]]:
    """Per regressor (lasso, rf): (summary, details, importance) of codes against the synthetic
    faces' factors (FACTOR_NAMES order), through the one evaluation path (evaluate_codes).
    summary: the disentanglement, completeness and informativeness averages; details: the
    per-factor values, and `groups`, the placement of each partition's factor group."""
    metrics, importance = evaluate_codes(codes_train, factors_train, codes_test, factors_test,
                                         partition_sizes=partition_sizes, intended=INTENDED,
                                         factor_names=FACTOR_NAMES, settings=settings,
                                         extra_metrics=False)
    out = {}
    for key, m in metrics.items():
        per_factor = m["placement"]["per_factor"]
        groups = {g: float(np.mean([per_factor[f] for f in members if f in per_factor]))
                  for g, members in FACTOR_GROUPS.items()}
        summary = {k: float(m[k]["avg"]) for k in ("disentanglement", "completeness", "informativeness")}
        out[key] = (summary, {"groups": groups, **m}, importance[key])
    return out


def run_scores(model, cfg, data: np.ndarray, truth: np.ndarray | None, settings: EvalSettings
               ) -> tuple[dict, dict, dict]:
    """One trained model scored as the report compares runs: (row, details, importances).

    row (flat numbers): RF and lasso D, C, I and the placement of each partition's factors
    (synthetic faces only), the held-out reconstruction, KL and ELBO, and the collapse
    diagnostics on the test images (KL and active dims per partition, reconstruction against the
    mean face); `collapsed` is 1 when a partition has no active dim or the codes reconstruct the
    test images no better than the mean face does, and its placement is then not evidence of
    anything. details and importances (per regressor) feed Hinton diagrams."""
    from gatedvae.evaluation.evaluate import reconstruction_and_elbo, split_rows
    from gatedvae.faces.spec import PARTITIONS
    from gatedvae.training.diagnostics import collapse_diagnostics, collapsed_partitions
    from gatedvae.training.infer import encode_mean

    train_rows, test_rows = split_rows(len(data), settings)
    row: dict = {}
    details, importances = {}, {}
    if truth is not None:
        scores = factor_scores(encode_mean(model, data[train_rows], pixel_max=cfg.pixel_max), truth[train_rows],
                               encode_mean(model, data[test_rows], pixel_max=cfg.pixel_max), truth[test_rows],
                               partition_sizes=cfg.partitions, settings=settings)
        for short, (summary, detail, importance) in scores.items():
            for key, value in summary.items():
                row[f"{short}_{key}"] = value
            for part in PARTITIONS:
                row[f"{short}_placement_{part}"] = detail["groups"][part]
            details[short], importances[short] = detail, importance
    test = reconstruction_and_elbo(model, data[test_rows], pixel_max=cfg.pixel_max, seed=settings.seed)
    row.update({f"test_{k}": v for k, v in test.items() if k != "recon_sampled"})
    diagnostics = collapse_diagnostics(model, np.asarray(data[test_rows]), cfg.partitions,
                                       pixel_max=cfg.pixel_max, names=PARTITIONS)
    row.update({k: v for k, v in diagnostics.items() if k.startswith(("kl_", "active_", "recon_vs"))})
    # collapsed: a partition carries nothing, or the codes reconstruct no better than the mean face
    row["collapsed"] = int(bool(collapsed_partitions(diagnostics, PARTITIONS))
                           or diagnostics["recon_vs_mean_face"] >= 1.0)
    return row, details, importances
