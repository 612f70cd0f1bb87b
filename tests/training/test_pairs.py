"""The pair sampler and the dSprites group index."""

import numpy as np
import pandas as pd
import pytest
import torch

from gatedvae.training.pairs import KFactorSampler, PairSampler, group_ids


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


# --- Locatello et al.'s k-factor pairs ---------------------------------------------------------

def _grid(sizes=(3, 3, 4, 2)):
    return np.array(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")).reshape(len(sizes), -1).T


@pytest.mark.parametrize("k", [1, 2, 3])
def test_k_factor_pairs_share_exactly_the_unchanged_factors(k):
    groups = _grid()
    sampler = KFactorSampler(groups, k)
    anchors = torch.arange(len(groups))
    targets, shared, n_changed = sampler.targets(anchors, torch.Generator().manual_seed(k))
    assert n_changed.tolist() == [k] * len(groups) and shared.sum(1).tolist() == [4 - k] * len(groups)
    same = groups[targets.numpy()] == groups[anchors.numpy()]
    assert np.all(same[shared.numpy()])            # the unchanged factors are kept
    assert torch.all(targets != anchors)           # on a full grid a partner always exists
    if k == 1:                                     # one factor redrawn: the pair differs in it
        assert np.all(~same[~shared.numpy()])


def test_k_drawn_per_pair_is_uniform_over_1_to_p_minus_1_not_1_or_k():
    sampler = KFactorSampler(_grid(), 0)
    _, shared, n_changed = sampler.targets(torch.arange(20000) % len(_grid()), torch.Generator().manual_seed(0))
    counts = np.bincount(n_changed.numpy(), minlength=4)[1:]
    assert np.all(np.abs(counts / 20000 - 1 / 3) < 0.02)  # disentanglement_lib's issue 31: half would be 1
    assert torch.equal(shared.sum(1), 4 - n_changed)
    changed = (~shared).float().mean(0)
    assert torch.all((changed - changed.mean()).abs() < 0.02)  # every factor changes as often


def test_k_factor_pairs_refuse_data_too_sparse_for_them():
    groups = _grid()[::7]  # a sparse subset: most images have no partner sharing three factors
    with pytest.raises(ValueError, match="full factor grid"):
        KFactorSampler(groups, 1)
    assert KFactorSampler(groups, 3).no_partner  # sharing one factor is easy


def test_k_factor_draws_repeat_for_a_seed():
    sampler = KFactorSampler(_grid(), 0)
    a = sampler.targets(torch.arange(50), torch.Generator().manual_seed(3))
    b = sampler.targets(torch.arange(50), torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
