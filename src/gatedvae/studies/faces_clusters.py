"""One member of the faces supervision study: how fine the pairing is.

Every member trains with the main faces run's recipe (faces.main_runs), so what varies is the pairing.
Gated, k clusters: head pose and action units are each clustered into k k-means clusters (the
faces.cluster settings otherwise), and a gated model is trained on pairs within those clusters.
Few clusters make coarse pairs (partners share little); many make pairs of near neighbours in
pose (or action-unit) space, though never the anchor itself. Un-gated: the baseline at the same
budget, which uses no pairs. Every member is scored on the synthetic faces' true factors
(placement, DCI), the pixel variance its pairs explain, and the held-out ELBO.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gatedvae import inputs
from gatedvae.atomic import save_json
from gatedvae.faces import config
from gatedvae.faces.spec import PARTITIONS
from gatedvae.params import check, number
from gatedvae.studies.config import check_studies

log = logging.getLogger(__name__)
STUDY = "studies.faces_clusters"


def pair_groups(params, k: int, features: pd.DataFrame, image_ids: list[str]) -> tuple[pd.DataFrame, dict]:
    """Pose and expression both clustered into k clusters (capped only where clusters would
    average under 2 members), pair index rows in image_ids order."""
    from gatedvae.faces import clustering

    configs = [dataclasses.replace(config.cluster_config(params, part), n_clusters=k, min_mean_size=2.0)
               for part in PARTITIONS]
    return clustering.pair_index(features, image_ids, *configs, expression_aus=config.expression_aus(params))


def member(params, *, gating: str, clusters: int | None, seed: int, images: str, features: str | None,
           raw: str, aligned: str, out: str) -> None:
    """Train and score one member (gated: `clusters` per partition from `features`; un-gated:
    neither); its metrics row goes to `out` (JSON)."""
    from gatedvae.faces import features as feature_table
    from gatedvae.faces.align import aligned_ids
    from gatedvae.faces.scoring import load_ground_truth, pair_variance_explained, run_scores, truth_labels
    from gatedvae.training.fit import train

    gated = gating == "gated"
    check(gated == (clusters is not None), f"{STUDY}.counts",
          "--clusters is required with --gating gated and not allowed with ungated")
    if gated:
        check(clusters >= 2, f"{STUDY}.counts", f"must be integers >= 2, got {clusters}")
        check(features is not None, f"{STUDY}.counts", "a gated member needs --features (the pose and AU features)")
    data = np.asarray(inputs.images(images))
    config.check_faces(params, n_images=len(data))
    check_studies(params)
    truth = load_ground_truth(raw, aligned)
    if truth is None:
        log.warning("no ground-truth factors (real CelebA): this member records the pair variance "
                    "and ELBO only; placement needs faces.acquire.source: synthetic")
    settings = config.eval_settings(params, n_images=len(data))
    # the recipe of the main faces run (faces.main_runs), so the study varies only the pairing
    recipe = config.parse_run(params, config.main_runs(params)[gating])[1]
    cfg = config.train_config(params, gating=gating, image_size=data.shape[1], recipe=recipe, seed=seed)
    cfg.epochs = number(params, f"{STUDY}.epochs", integer=True, positive=True)
    row = {"study": "faces_clusters", "value": clusters if gated else 0, "gating": gating, "seed": seed,
           "recipe": recipe}
    pair_index = None
    if gated:
        table, stats = pair_groups(params, clusters, feature_table.read(features), aligned_ids(aligned))
        pair_index = table[list(PARTITIONS)].to_numpy(np.int64)
        for part in PARTITIONS:
            row[f"{part}_clusters"] = stats[part]["clusters"]
            row[f"{part}_median_cluster_size"] = stats[part]["sizes"]["median"]
            row[f"{part}_pair_variance_explained"] = pair_variance_explained(data, table[part].to_numpy())
    name = Path(out).stem
    result = train(data, pair_index, cfg, checkpoint_dir=f"checkpoints/faces_cluster_study/{name}",
                   progress=False, partition_names=list(PARTITIONS))
    # no throughput in the row: it is read by study_summary, and the same run must give the same
    # bytes (the stage's timing record holds the time)
    scores, _, _ = run_scores(result.model, cfg, data, [truth_labels(truth)] if truth is not None else [],
                              settings)
    row.update(scores)
    if truth is not None:
        for short in ("rf", "lasso"):
            row[f"{short}_placement"] = float(np.mean([scores[f"{short}_placement_{part}"] for part in PARTITIONS]))
    save_json(out, row)
    log.info("faces cluster study %s: %s", name, ", ".join(
        f"{k} {v:.3f}" for k, v in row.items() if k.startswith(("rf_placement_", "test_kl"))))
