"""Unit tests of gatedvae.studies.faces_clusters.pair_groups: both partitions cut into at most k
clusters, one row per image of image_ids in that order (matched by name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gatedvae import params as P
from gatedvae.faces import features
from gatedvae.faces.spec import AU_INTENSITIES, PARTITIONS
from gatedvae.studies.faces_clusters import pair_groups

ROOT = Path(__file__).resolve().parents[2]
N = 30
IDS = [f"{i:06d}.jpg" for i in range(N)]
# three well-separated blobs per partition, crossed: image i has pose blob i % 3 and
# expression blob (i // 3) % 3, so the two partitions differ
POSE_BLOB = {image: i % 3 for i, image in enumerate(IDS)}
EXPRESSION_BLOB = {image: (i // 3) % 3 for i, image in enumerate(IDS)}
PITCH = (-0.5, 0.0, 0.5)
YAW = (0.6, -0.6, 0.0)
AU_LEVEL = (0.5, 2.5, 4.5)


@pytest.fixture(scope="module")
def params():
    return P.load(ROOT / "params.yaml")


@pytest.fixture(scope="module")
def feats(params):
    """A features.parquet frame (the contract of gatedvae.faces.features) for IDS, in shuffled rows."""
    rng = np.random.default_rng(0)
    frame = features.empty(IDS, "synthetic")
    frame["success"] = True
    frame["confidence"] = 1.0
    frame["pitch"] = [PITCH[POSE_BLOB[i]] for i in IDS] + rng.normal(0, 0.01, N)
    frame["yaw"] = [YAW[POSE_BLOB[i]] for i in IDS] + rng.normal(0, 0.01, N)
    aus = params["faces"]["cluster"]["expression_aus"]
    aus = list(AU_INTENSITIES) if aus == "all" else aus
    for au in aus:
        frame[au] = np.clip([AU_LEVEL[EXPRESSION_BLOB[i]] for i in IDS] + rng.normal(0, 0.05, N), 0, 5)
    frame = features.validate(frame)
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)  # rows not in IDS order


def same_partition(labels, truth) -> bool:
    """labels and truth cut the rows into the same groups (a bijection between their ids)."""
    pairs = set(zip(labels, truth))
    return len(pairs) == len(set(labels)) == len(set(truth))


def test_feature_rows_are_not_in_image_order(feats):
    assert feats["image_id"].tolist() != IDS


def test_k_equal_to_the_blobs_finds_them(params, feats):
    groups, stats = pair_groups(params, 3, feats, IDS)
    assert list(groups.columns) == list(PARTITIONS)
    assert len(groups) == N and list(groups.index) == list(range(N))
    assert same_partition(groups["pose"], [POSE_BLOB[i] for i in IDS])
    assert same_partition(groups["expression"], [EXPRESSION_BLOB[i] for i in IDS])
    for part in PARTITIONS:
        assert stats[part]["clusters"] == 3
        assert stats[part]["requested_clusters"] == 3
        assert groups[part].dtype == np.int64
    assert stats["n_images"] == N and stats["with_features"] == N and stats["without_features"] == 0


def test_rows_follow_a_shuffled_image_ids_order(params, feats):
    shuffled = list(np.random.default_rng(7).permutation(IDS))
    groups, _ = pair_groups(params, 3, feats, shuffled)
    assert len(groups) == N
    # row r is image shuffled[r]: its labels are its own blobs'
    assert same_partition(groups["pose"], [POSE_BLOB[i] for i in shuffled])
    assert same_partition(groups["expression"], [EXPRESSION_BLOB[i] for i in shuffled])
    # and the same partition as in IDS order, image by image
    in_order, _ = pair_groups(params, 3, feats, IDS)
    by_name = groups.set_index(pd.Index(shuffled)).loc[IDS].reset_index(drop=True)
    for part in PARTITIONS:
        assert same_partition(by_name[part], in_order[part])


def test_a_subset_of_image_ids_gets_one_row_each(params, feats):
    subset = IDS[::-2]  # 15 images, reversed
    groups, stats = pair_groups(params, 3, feats, subset)
    assert len(groups) == len(subset) and stats["n_images"] == len(subset)
    assert same_partition(groups["pose"], [POSE_BLOB[i] for i in subset])


@pytest.mark.parametrize("k", [2, 3, 5])
def test_at_most_k_clusters_per_partition(params, feats, k):
    groups, stats = pair_groups(params, k, feats, IDS)
    for part in PARTITIONS:
        assert groups[part].nunique() <= k
        assert stats[part]["clusters"] == groups[part].nunique()
        assert stats[part]["requested_clusters"] == k
        assert sorted(groups[part].unique()) == list(range(groups[part].nunique()))


def test_k_above_half_the_images_is_capped_at_two_per_cluster_on_average(params, feats):
    groups, stats = pair_groups(params, 1000, feats, IDS)
    for part in PARTITIONS:
        assert groups[part].nunique() <= N // 2
        assert stats[part]["requested_clusters"] == 1000


def test_k_ignores_the_faces_cluster_counts(params, feats):
    # params.yaml asks for thousands of clusters in faces.cluster; the study's k wins
    assert params["faces"]["cluster"]["pose_clusters"] > 3
    _, stats = pair_groups(params, 2, feats, IDS)
    assert stats["pose"]["requested_clusters"] == 2 and stats["expression"]["requested_clusters"] == 2


def test_images_without_features_get_a_cluster_of_their_own(params, feats):
    failed = feats.copy()
    row = failed.index[failed["image_id"] == IDS[4]][0]
    failed.loc[row, "success"] = False
    failed.loc[row, ["confidence", "pitch", "yaw", *AU_INTENSITIES]] = np.nan
    ids = IDS + ["not_in_features.jpg"]
    groups, stats = pair_groups(params, 3, features.validate(failed), ids)
    assert len(groups) == N + 1
    assert stats["with_features"] == N - 1 and stats["without_features"] == 2 and stats["no_features_row"] == 1
    for part in PARTITIONS:
        counts = groups[part].value_counts()
        assert counts[groups.loc[4, part]] == 1
        assert counts[groups.loc[N, part]] == 1
        assert groups.loc[4, part] != groups.loc[N, part]
        rest = [i for i in range(N) if i != 4]
        truth = POSE_BLOB if part == "pose" else EXPRESSION_BLOB
        assert same_partition(groups.loc[rest, part], [truth[IDS[i]] for i in rest])
