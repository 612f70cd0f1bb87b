"""The pair index: seeded k-means, one group per image and partition, small-N caps, failures."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from gatedvae.faces import extractors
from gatedvae.faces.clustering import ClusterConfig, cluster, pair_index


@pytest.fixture(scope="module")
def feats(tiny_celeba):
    _, factors, _ = tiny_celeba
    return extractors.from_synthetic(factors, factors["image_id"].tolist(), pose_noise_deg=1, au_noise=0.1,
                                     failure_rate=0.1, seed=2), factors["image_id"].tolist()


@pytest.mark.parametrize("algorithm", ["minibatch", "full"])
def test_reproducible_and_one_group_per_image(feats, algorithm):
    frame, ids = feats
    cfg = ClusterConfig(n_clusters=6, seed=3, min_mean_size=2, algorithm=algorithm)
    a, stats_a = pair_index(frame, ids, cfg, cfg)
    b, _ = pair_index(frame, ids, cfg, cfg)
    assert a.equals(b)
    assert list(a.columns) == ["pose", "expression"] and len(a) == len(ids)
    assert all(a[c].dtype == np.int64 for c in a.columns)
    ok = frame["success"].to_numpy()
    for column in a.columns:
        assert a[column].notna().all()
        clustered = a.loc[ok, column]
        assert clustered.nunique() <= 6 and stats_a[column]["clusters"] == clustered.nunique()
        # failed images: one cluster each, shared with nobody
        failed = a.loc[~ok, column]
        assert failed.is_unique and not set(failed) & set(clustered)
    assert stats_a["without_features"] == (~ok).sum() > 0


def test_different_seed_changes_labels(feats):
    frame, ids = feats
    a, _ = pair_index(frame, ids, ClusterConfig(6, seed=0, min_mean_size=2), ClusterConfig(6, seed=0, min_mean_size=2))
    b, _ = pair_index(frame, ids, ClusterConfig(6, seed=9, min_mean_size=2), ClusterConfig(6, seed=9, min_mean_size=2))
    assert not a.equals(b)


def test_pose_clusters_group_similar_poses():
    rng = np.random.default_rng(0)
    centres = np.array([[-0.5, -0.3], [0.5, 0.3], [0.0, 0.6]])
    truth = rng.integers(0, 3, 300)
    values = centres[truth] + rng.normal(0, 0.02, (300, 2))
    labels, stats = cluster(values, ClusterConfig(3, seed=0), name="pose")
    # the same partition as the truth, up to renaming
    assert len({(t, l) for t, l in zip(truth, labels)}) == 3
    assert stats["clusters"] == 3 and stats["sizes"]["min"] > 50


def test_cluster_count_is_capped_for_small_data(caplog):
    values = np.random.default_rng(1).normal(size=(40, 3))
    with caplog.at_level(logging.INFO):
        labels, stats = cluster(values, ClusterConfig(2500, seed=0, min_mean_size=4), name="expression")
    assert stats["clusters"] <= 10 and stats["requested_clusters"] == 2500
    # the log gives the cap and the count actually made (not the cap as if it were made)
    assert (f"2500 clusters requested; 40 images allow 10 (faces.cluster.min_mean_size 4); "
            f"{stats['clusters']} made after merging {stats['singletons_merged_into_nearest']}") in caplog.text


def test_fewer_than_two_clusters_is_an_error_naming_the_key():
    values = np.random.default_rng(1).normal(size=(30, 3))
    with pytest.raises(ValueError, match=r"allow 1 cluster\(s\) at faces.cluster.min_mean_size 40 "
                                         r".*lower faces.cluster.min_mean_size to 15"):
        cluster(values, ClusterConfig(2500, seed=0, min_mean_size=40), name="pose")


def test_singletons_merge_into_nearest_cluster():
    values = np.array([[0.0], [0.1], [0.05], [5.0], [5.1], [100.0]])  # 100 alone
    labels, stats = cluster(values, ClusterConfig(3, seed=0, min_mean_size=1, algorithm="full"), name="pose")
    assert stats["kmeans_singletons"] == 1 and stats["singletons_merged_into_nearest"] == 1
    assert labels[5] == labels[3] and stats["sizes"]["singletons"] == 0
    kept, stats = cluster(values, ClusterConfig(3, seed=0, min_mean_size=1, algorithm="full",
                                                merge_singletons=False), name="pose")
    assert stats["sizes"]["singletons"] == 1 and len(set(kept)) == 3


def test_expression_au_subset_and_errors(feats):
    frame, ids = feats
    cfg = ClusterConfig(4, seed=0, min_mean_size=2)
    _, stats = pair_index(frame, ids, cfg, cfg, expression_aus=["AU12_r", "AU45_r"])
    assert stats["expression"]["features"] == ["AU12_r", "AU45_r"]
    with pytest.raises(ValueError, match="not OpenFace intensity columns"):
        pair_index(frame, ids, cfg, cfg, expression_aus=["AU99_r"])
    with pytest.raises(ValueError, match="constant"):
        cluster(np.ones((10, 2)), cfg, name="pose")


def test_pose_is_removed_from_the_au_values_before_clustering():
    """An AU that follows pitch (landmarks68's inner brow on real photos): what pose predicts
    is removed, the expression signal stays, and the stats say how much pose was removed."""
    from gatedvae.faces.clustering import pose_corrected

    rng = np.random.default_rng(0)
    n = 500
    pose = np.column_stack([rng.uniform(-0.4, 0.4, n), rng.uniform(-0.6, 0.6, n)])
    expression = rng.uniform(0, 5, n)
    confounded = expression - 4.0 * pose[:, 0] + 1.5 * pose[:, 1] ** 2
    clean = rng.uniform(0, 5, n)
    values, r2 = pose_corrected(np.column_stack([confounded, clean]), pose)
    assert abs(np.corrcoef(values[:, 0], pose[:, 0])[0, 1]) < 1e-9
    assert np.corrcoef(values[:, 0], expression)[0, 1] > 0.99   # the expression is what is left
    np.testing.assert_allclose(values.mean(axis=0), [confounded.mean(), clean.mean()])
    assert r2[0] > 0.2 and r2[1] < 0.03


def test_pair_index_records_the_pose_share_it_removed():
    from gatedvae.faces import features

    rng = np.random.default_rng(3)
    ids = [f"{i:06d}.jpg" for i in range(200)]
    frame = features.empty(ids, "landmarks68")
    frame["success"] = True
    frame["confidence"] = 1.0
    frame["pitch"] = rng.uniform(-0.4, 0.4, 200)
    frame["yaw"] = rng.uniform(-0.6, 0.6, 200)
    frame["AU01_r"] = np.clip(2.5 - 5 * frame["pitch"] + rng.normal(0, 0.1, 200), 0, 5)
    frame["AU12_r"] = rng.uniform(0, 5, 200)
    groups, stats = pair_index(frame, ids, ClusterConfig(4, seed=0), ClusterConfig(5, seed=0),
                               expression_aus=["AU01_r", "AU12_r"])
    removed = stats["expression"]["pose_r2_removed"]
    assert removed["AU01_r"] > 0.9 and removed["AU12_r"] < 0.05
