"""The pair sampler and the dSprites group index."""

import numpy as np
import pandas as pd
import torch

from gatedvae.training.pairs import PairSampler, group_ids


def _groups(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 3, n), rng.integers(0, 40, n), np.arange(n) % 250,
                     np.where(np.arange(n) < 5, np.arange(n) + 1000, 7)], axis=1)


def test_targets_share_the_anchor_group_and_differ_from_it():
    groups = _groups()
    sampler = PairSampler(groups)
    anchors = torch.arange(len(groups))
    for p in range(groups.shape[1]):
        targets = sampler.targets(anchors, p, torch.Generator().manual_seed(p))
        assert np.array_equal(groups[targets.numpy(), p], groups[:, p])
        counts = pd.Series(groups[:, p]).value_counts()
        shared = counts[groups[:, p]].to_numpy() > 1
        assert np.all(targets.numpy()[shared] != anchors.numpy()[shared])
        assert np.all(targets.numpy()[~shared] == anchors.numpy()[~shared])  # singletons


def test_targets_cover_the_group_uniformly():
    groups = np.zeros((4, 1), dtype=np.int64)
    sampler = PairSampler(groups)
    targets = sampler.targets(torch.zeros(30_000, dtype=torch.long), 0, torch.Generator().manual_seed(0))
    counts = np.bincount(targets.numpy(), minlength=4)
    assert counts[0] == 0 and np.all(np.abs(counts[1:] / 30_000 - 1 / 3) < 0.02)


def test_seeded_draws_repeat_exactly():
    sampler = PairSampler(_groups())
    anchors = torch.randint(500, (256,), generator=torch.Generator().manual_seed(3))
    a = sampler.targets(anchors, 1, torch.Generator().manual_seed(9))
    b = sampler.targets(anchors, 1, torch.Generator().manual_seed(9))
    c = sampler.targets(anchors, 1, torch.Generator().manual_seed(10))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_singletons_are_counted():
    assert PairSampler(_groups()).singletons == [0, 0, 0, 5]


def test_target_noise_replaces_that_fraction():
    groups = np.repeat(np.arange(100), 10)[:, None]
    sampler = PairSampler(groups, target_noise=0.5)
    anchors = torch.arange(1000).repeat(20)
    targets = sampler.targets(anchors, 0, torch.Generator().manual_seed(0))
    same = (groups[targets.numpy(), 0] == groups[anchors.numpy(), 0]).mean()
    assert abs(same - (0.5 + 0.5 * 0.01)) < 0.02


def test_group_ids_joint_position():
    factors = pd.DataFrame({"shape": [0, 1, 0, 1], "pos_x": [0, 0, 1, 0], "pos_y": [2, 2, 2, 2]})
    groups = group_ids(factors, {"shape": ["shape"], "position": ["pos_x", "pos_y"]})
    assert groups["shape"].tolist() == [0, 1, 0, 1]
    assert groups["position"].tolist() == [0, 0, 1, 0]
    try:
        group_ids(factors, {"colour": ["colour"]})
    except KeyError as e:
        assert "colour" in str(e)
    else:
        raise AssertionError("a missing factor column must raise")
