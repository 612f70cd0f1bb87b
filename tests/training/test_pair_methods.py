"""The pair methods (Ada-GVAE, Ada-ML-VAE, GVAE / ML-VAE with the shared group or k known):
known answers for delta, the thresholds, both aggregates and the known-group mask; where their
gradient goes; and the engine training them reproducibly from the pair index."""

import math

import numpy as np
import pytest
import torch

from gatedvae.training import weak
from gatedvae.training.config import PAIR_METHODS, TrainConfig
from gatedvae.training.fit import pair_step_loss, train
from gatedvae.training.gating import partition_masks
from gatedvae.training.models import build_net
from gatedvae.training.objectives import OBJECTIVES, PairObjective, build_objective
from gatedvae.training.pairs import PairSampler, partition_pairs


def _t(*values):
    return torch.tensor([list(values)], dtype=torch.float64)


# --- delta -------------------------------------------------------------------------------------

def test_pair_kl_known_answer():
    # KL(N(0, 1) || N(1, 2)) = 0.5 (1/2 + 1/2 - 1 + ln 2) = ln(2) / 2
    delta = weak.pair_kl(_t(0.0), _t(0.0), _t(1.0), _t(math.log(2.0)))
    assert delta.item() == pytest.approx(math.log(2.0) / 2, abs=1e-12)


def test_pair_kl_matches_torch_per_dim_and_is_zero_for_equal_posteriors():
    g = torch.Generator().manual_seed(0)
    mu1, mu2, lv1, lv2 = (torch.randn(5, 6, generator=g, dtype=torch.float64) for _ in range(4))
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mu1, (0.5 * lv1).exp()),
                                                 torch.distributions.Normal(mu2, (0.5 * lv2).exp()))
    assert torch.allclose(weak.pair_kl(mu1, lv1, mu2, lv2), expected, atol=1e-12)
    assert torch.all(weak.pair_kl(mu1, lv1, mu1, lv1).abs() < 1e-12)


# --- which dims are shared ---------------------------------------------------------------------

def test_adaptive_threshold_is_the_midpoint_of_min_and_max():
    delta = torch.tensor([[0.1, 0.2, 5.0, 6.0, 3.05],     # midpoint 3.05: at it, not shared
                          [1.0, 1.0, 1.0, 1.0, 1.0],      # all equal (a self pair): all shared
                          [0.0, 9.0, 4.4, 4.6, 10.0]])    # midpoint 5.0
    assert weak.adaptive_shared(delta).tolist() == [[True, True, False, False, False],
                                                    [True] * 5,
                                                    [True, False, True, True, False]]


def test_k_known_shares_the_d_minus_k_smallest():
    delta = torch.tensor([[3.0, 1.0, 2.0, 0.0], [1.0, 1.0, 0.5, 2.0]])
    assert weak.smallest_shared(delta, 2).tolist() == [[False, True, False, True], [True, False, True, False]]
    per_pair = weak.smallest_shared(delta, torch.tensor([1, 3]))
    assert per_pair.tolist() == [[False, False, False, True], [True, True, True, False]]


def test_known_group_mask_is_the_shared_partitions_dims():
    masks = partition_masks([2, 3, 1])
    shared = torch.tensor([[False, True, False], [True, False, True]])
    assert weak.known_group_shared(shared, masks).tolist() == [
        [False, False, True, True, True, False], [True, True, False, False, False, True]]


def test_the_pair_index_pairs_share_the_partition_they_were_drawn_through():
    groups = np.stack([np.arange(40) % 4, np.arange(40) % 5], axis=1)
    sampler = PairSampler(groups)
    anchors = torch.arange(40)
    targets, shared, n_changed = partition_pairs(sampler, anchors, 1, torch.Generator().manual_seed(0))
    assert np.array_equal(groups[targets, 1], groups[anchors, 1]) and torch.all(targets != anchors)
    assert shared.tolist() == [[False, True]] * 40 and n_changed.tolist() == [1] * 40
    dims = weak.known_group_shared(shared, partition_masks([2, 3]))
    assert dims.tolist() == [[False, False, True, True, True]] * 40


# --- the aggregates ----------------------------------------------------------------------------

def test_gvae_aggregate_is_the_arithmetic_mean_of_means_and_variances():
    mean, logvar = weak.aggregate_gvae(_t(0.0), _t(0.0), _t(2.0), _t(math.log(3.0)))
    assert mean.item() == pytest.approx(1.0) and logvar.exp().item() == pytest.approx(2.0)


def test_ml_vae_aggregate_known_answer():
    # v1 = 1, v2 = 3: mean (0/1 + 2/3) / (1 + 1/3) = 0.5; variance 2 * 1 * 3 / (1 + 3) = 1.5
    mean, logvar = weak.aggregate_ml_vae(_t(0.0), _t(0.0), _t(2.0), _t(math.log(3.0)))
    assert mean.item() == pytest.approx(0.5) and logvar.exp().item() == pytest.approx(1.5)


def test_ml_vae_mean_is_the_product_of_gaussians_and_its_variance_twice_the_products():
    g = torch.Generator().manual_seed(1)
    mu1, mu2, lv1, lv2 = (torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(4))
    v1, v2 = lv1.exp(), lv2.exp()
    product_var = v1 * v2 / (v1 + v2)
    mean, logvar = weak.aggregate_ml_vae(mu1, lv1, mu2, lv2)
    assert torch.allclose(mean, product_var * (mu1 / v1 + mu2 / v2))
    assert torch.allclose(logvar.exp(), 2 * product_var)


@pytest.mark.parametrize("aggregation", weak.AGGREGATIONS)
def test_equal_posteriors_aggregate_to_themselves(aggregation):
    mu, lv = _t(0.3, -1.2), _t(-0.5, 0.7)
    mean, logvar = weak.AGGREGATE[aggregation](mu, lv, mu, lv)
    assert torch.allclose(mean, mu) and torch.allclose(logvar, lv)


@pytest.mark.parametrize("aggregation", weak.AGGREGATIONS)
def test_share_uses_both_images_on_shared_dims_and_each_its_own_elsewhere(aggregation):
    # disent's issue 32: one release averaged an image's posterior with itself
    mu1, lv1, mu2, lv2 = _t(0.0, 1.0, 2.0), _t(0.0, 0.0, 0.0), _t(4.0, 5.0, 6.0), _t(1.0, 1.0, 1.0)
    shared = torch.tensor([[True, False, True]])
    a_mu, a_lv, b_mu, b_lv = weak.share(mu1, lv1, mu2, lv2, shared, aggregation)
    mean, logvar = weak.AGGREGATE[aggregation](mu1, lv1, mu2, lv2)
    assert torch.equal(a_mu[:, [0, 2]], mean[:, [0, 2]]) and torch.equal(b_mu[:, [0, 2]], mean[:, [0, 2]])
    assert torch.equal(a_lv[:, [0, 2]], logvar[:, [0, 2]]) and torch.equal(b_lv[:, [0, 2]], logvar[:, [0, 2]])
    assert a_mu[0, 1] == 1.0 and b_mu[0, 1] == 5.0 and a_lv[0, 1] == 0.0 and b_lv[0, 1] == 1.0
    assert torch.all((mean[:, [0, 2]] - mu1[:, [0, 2]]).abs() > 0.5)  # not image 1 with itself
    assert torch.all((mean[:, [0, 2]] - mu2[:, [0, 2]]).abs() > 0.5)


@pytest.mark.parametrize("aggregation", weak.AGGREGATIONS)
def test_gradient_from_one_images_posterior_reaches_the_other_only_on_shared_dims(aggregation):
    mu1, lv1, mu2, lv2 = (torch.randn(3, 5, dtype=torch.float64, requires_grad=True) for _ in range(4))
    shared = torch.tensor([[True, False, True, False, False]]).expand(3, 5)
    a_mu, a_lv, _, _ = weak.share(mu1, lv1, mu2, lv2, shared, aggregation)
    (a_mu.pow(2).sum() + a_lv.exp().sum()).backward()  # a function of image 1's posterior only
    assert torch.all(mu2.grad[:, [1, 3, 4]] == 0) and torch.all(lv2.grad[:, [1, 3, 4]] == 0)
    assert torch.all(mu2.grad[:, [0, 2]] != 0) and torch.all(lv2.grad[:, [0, 2]] != 0)
    assert torch.all(mu1.grad != 0)


# --- the registered objectives in the engine's pair step ---------------------------------------

def test_every_pair_method_is_registered_with_its_rule():
    for name, (aggregation, rule) in PAIR_METHODS.items():
        cls = OBJECTIVES[name]
        assert issubclass(cls, PairObjective) and (cls.aggregation, cls.share_rule) == (aggregation, rule)


@pytest.mark.parametrize("name", sorted(PAIR_METHODS))
def test_pair_step_loss_is_the_mean_elbo_of_both_images(name):
    torch.manual_seed(0)
    sizes = [2, 3, 1]
    model = build_net("mlp", latent_dim=6, image_size=16, hidden=24)
    model.eval()
    objective = build_objective(name, 6, {"beta": 2.0})
    x1, x2 = ((torch.rand(8, 1, 16, 16) < 0.3).float() for _ in range(2))
    eps = torch.randn(16, 6)
    shared_partitions = torch.zeros(8, 3, dtype=torch.bool)
    shared_partitions[:, 1] = True
    n_changed = torch.full((8,), 2)
    masks = partition_masks(sizes)
    loss, recon, reg, parts, z = pair_step_loss(model, objective, x1, x2, shared_partitions, n_changed, masks, eps)
    # the same by hand
    mu, lv = model.encode(torch.cat([x1, x2]))
    shared = objective.shared(weak.pair_kl(mu[:8], lv[:8], mu[8:], lv[8:]), shared_partitions, masks, n_changed)
    a = weak.share(mu[:8], lv[:8], mu[8:], lv[8:], shared, objective.aggregation)
    mu_p, lv_p = torch.cat([a[0], a[2]]), torch.cat([a[1], a[3]])
    logits = model.decode(mu_p + eps * (0.5 * lv_p).exp())
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.cat([x1, x2]), reduction="sum") / 16
    kl = (0.5 * (mu_p.pow(2) + lv_p.exp() - lv_p - 1)).sum(1).mean()
    assert recon.item() == pytest.approx(bce.item(), rel=1e-6)
    assert reg.item() == pytest.approx(2.0 * kl.item(), rel=1e-6)
    assert parts["shared_dims"].item() == pytest.approx(shared.float().sum(1).mean().item())
    if objective.share_rule == "known_group":
        assert parts["shared_dims"].item() == 3.0
    loss.backward()
    head = model.encoder[-1]
    assert torch.all(head.weight.grad.abs().sum(1) > 0)  # both images' ELBOs reach every dim


def _images_and_groups(n=256):
    rng = np.random.default_rng(0)
    groups = np.stack([rng.integers(0, 3, n), rng.integers(0, 4, n)], axis=1)
    images = (rng.random((n, 16, 16)) < 0.2).astype(np.uint8)
    images[:, :3, :3] = groups[:, :1, None] > 0  # a little signal tied to the factors
    return images, groups


def _pair_cfg(**kw):
    base = dict(hidden=16, latent_dim=4, partitions=[2, 2], epochs=2, batch_size=32, lr=1e-3,
                image_size=16, seed=0, device="cpu", gated=False, objective="ada_gvae")
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("name", sorted(PAIR_METHODS))
def test_pair_methods_train_and_repeat_exactly(tmp_path, name):
    images, groups = _images_and_groups()
    kw = dict(objective=name, pair_sampler="k_factors" if name == "k_gvae" else "partition")
    a = train(images, groups, _pair_cfg(**kw), checkpoint_dir=tmp_path / "a", progress=False)
    b = train(images, groups, _pair_cfg(**kw), checkpoint_dir=tmp_path / "b", progress=False)
    assert a.history == b.history
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
    assert all(math.isfinite(r["loss"]) and 0 < r["shared_dims"] <= 4 for r in a.history)
    if PAIR_METHODS[name][1] == "known_group":
        assert all(r["shared_dims"] == 2.0 for r in a.history)  # one partition of 2 dims per pair


def test_a_pair_method_sees_as_many_images_per_step_as_a_gated_run(tmp_path):
    images, groups = _images_and_groups()
    pairs = train(images, groups, _pair_cfg(epochs=1), checkpoint_dir=tmp_path / "p", progress=False)
    gated = train(images, groups, _pair_cfg(epochs=1, objective="beta_vae", gated=True),
                  checkpoint_dir=tmp_path / "g", progress=False)
    assert pairs.images_per_second * pairs.seconds == pytest.approx(gated.images_per_second * gated.seconds)


@pytest.mark.parametrize("field, value, says", [
    ("gated", True, "gated false"), ("batch_size", 33, "even"), ("target_noise", 0.1, "does not read"),
    ("pair_sampler", "random", "must be one of"), ("pair_k", 2, "[1, 2)"),
])
def test_pair_config_problems_name_the_field(field, value, says):
    problems = dict(_pair_cfg(**{field: value}).problems())
    assert field in problems and says in problems[field]


def test_k_known_needs_the_k_factor_sampler():
    problems = dict(_pair_cfg(objective="k_gvae").problems())
    assert "k_factors" in problems["pair_sampler"]
