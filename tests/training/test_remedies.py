"""The collapse remedies of the training engine: each reaches only what it should.

KL warm-up scales the regulariser's gradient and nothing else; free bits stop the KL pulling on a
partition that is under its floor; a self-target step sends gradient through the receiving
partitions only; the un-gated warm-up's steps reach every dim. Off, none of them touches the
random stream, so a run without remedies keeps its bytes.
"""

import numpy as np
import pytest
import torch

from gatedvae.training.config import TrainConfig
from gatedvae.training.fit import kl_warmup_weight, step_loss, step_plan, train
from gatedvae.training.gating import partition_masks
from gatedvae.training.models import build_net
from gatedvae.training.objectives import OBJECTIVES, build_objective, kl_to_standard_normal
from gatedvae.training.pairs import PairSampler

SIZES = [2, 3, 1, 2]
M = sum(SIZES)


def _setup(objective="beta_vae"):
    torch.manual_seed(0)
    model = build_net("mlp", latent_dim=M, image_size=16, hidden=24)
    x = (torch.rand(32, 1, 16, 16) < 0.3).float()
    target = (torch.rand(32, 1, 16, 16) < 0.3).float()
    return model, build_objective(objective, M), x, target, torch.randn(32, M)


def _head_grad(model, tensor):
    model.zero_grad()
    tensor.backward()
    head = model.encoder[-1]  # rows j and M + j are latent dim j's mu and logvar
    return head.weight.grad.clone()


def _rows(mask):
    return torch.cat([mask, mask])


def test_kl_warmup_weight_known_answers():
    assert kl_warmup_weight(0, 100, 0.0) == 1.0
    assert kl_warmup_weight(0, 100, 0.5) == pytest.approx(1 / 50)
    assert kl_warmup_weight(24, 100, 0.5) == pytest.approx(0.5)
    assert kl_warmup_weight(49, 100, 0.5) == 1.0
    assert kl_warmup_weight(99, 100, 0.5) == 1.0


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_kl_warmup_scales_only_the_regulariser(objective):
    model, obj, x, target, eps = _setup(objective)
    model.eval()  # the same BatchNorm behaviour in every call
    mask = partition_masks(SIZES)[1]
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    _, recon, reg, _, _ = step_loss(model, obj, x, target, mask, eps, generator=gen())
    g_recon = _head_grad(model, recon)
    _, recon, reg, _, _ = step_loss(model, obj, x, target, mask, eps, generator=gen())
    g_reg = _head_grad(model, reg)
    loss, _, reg_w, _, _ = step_loss(model, obj, x, target, mask, eps, generator=gen(), reg_weight=0.25)
    assert reg_w.item() == pytest.approx(0.25 * reg.item(), rel=1e-5)
    g_loss = _head_grad(model, loss)
    assert torch.allclose(g_loss, g_recon + 0.25 * g_reg, atol=1e-5)
    assert torch.all(g_loss[~_rows(mask)] == 0)  # still gated


def test_free_bits_value_and_gradient():
    model, obj, x, target, eps = _setup("beta_vae")
    masks = partition_masks(SIZES)
    mu, logvar = model.encode(x)
    kl_dims = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)).mean(0)
    kl_parts = (masks.float() @ kl_dims).detach()
    floor = torch.tensor([kl_parts[0].item() + 5.0, 0.0, 0.0, 0.0])  # only partition 0 is under its floor
    _, _, reg, _, _ = step_loss(model, obj, x, target, None, eps, free_bits=floor, masks=masks)
    beta = obj.params["beta"]
    expected = beta * (floor[0] + kl_parts[1:].sum())
    assert reg.item() == pytest.approx(expected.item(), rel=1e-5)
    g = _head_grad(model, reg)
    assert torch.all(g[_rows(masks[0])] == 0)  # no KL pull on the partition under its floor
    assert torch.all(g[_rows(~masks[0])].abs().sum(dim=1) > 0)


def test_free_bits_of_zero_change_nothing():
    model, obj, x, target, eps = _setup("beta_vae")
    masks = partition_masks(SIZES)
    plain = step_loss(model, obj, x, target, masks[2], eps)
    zero = step_loss(model, obj, x, target, masks[2], eps, free_bits=torch.zeros(len(SIZES)), masks=masks)
    assert torch.allclose(plain[0], zero[0])
    assert kl_to_standard_normal(*model.encode(x)).mean() > 0  # the floor of 0 was not reached


def _cfg(**kw):
    return TrainConfig(net="mlp", hidden=24, latent_dim=M, partitions=SIZES, image_size=16,
                       epochs=2, batch_size=16, lr=1e-3, **kw)


def _sampler(n=64):
    groups = np.stack([np.arange(n) % k for k in (2, 4, 8, 16)], axis=1)
    return PairSampler(groups)


def test_self_target_step_reconstructs_the_anchor_through_the_receiving_partitions():
    cfg = _cfg(self_target_prob=1.0, self_target_partitions=[1, 3])
    masks = partition_masks(SIZES)
    anchors = torch.arange(16)
    targets, mask = step_plan(cfg, _sampler(), masks, anchors, 0, 0, torch.Generator().manual_seed(0))
    assert targets is anchors
    assert torch.equal(mask, masks[1] | masks[3])
    model, obj, x, _, eps = _setup()
    loss, *_ = step_loss(model, obj, x, x, mask, eps)
    g = _head_grad(model, loss)
    assert torch.all(g[~_rows(mask)] == 0)
    assert torch.all(g[_rows(mask)].abs().sum(dim=1) > 0)


def test_self_target_probability_is_the_share_of_steps():
    cfg = _cfg(self_target_prob=0.25, self_target_partitions=[0])
    masks, sampler, g = partition_masks(SIZES), _sampler(), torch.Generator().manual_seed(0)
    anchors = torch.arange(16)
    selfs = sum(step_plan(cfg, sampler, masks, anchors, 2, 0, g)[0] is anchors for _ in range(2000))
    assert 0.21 < selfs / 2000 < 0.29


def test_ungated_warmup_takes_plain_steps_then_gates():
    cfg = _cfg(ungated_warmup_epochs=1)
    masks, sampler, g = partition_masks(SIZES), _sampler(), torch.Generator().manual_seed(0)
    anchors = torch.arange(16)
    targets, mask = step_plan(cfg, sampler, masks, anchors, 2, 0, g)
    assert targets is anchors and mask is None  # epoch 0: every dim learns from the anchor
    targets, mask = step_plan(cfg, sampler, masks, anchors, 2, 1, g)
    assert torch.equal(mask, masks[2]) and not torch.equal(targets, anchors)


def _images(n=64):
    rng = np.random.default_rng(0)
    return (rng.random((n, 16, 16)) < 0.3).astype(np.uint8)


def test_remedies_switched_off_keep_the_bytes(tmp_path):
    sampler_groups = np.stack([np.arange(64) % k for k in (2, 4, 8, 16)], axis=1)
    plain = train(_images(), sampler_groups, _cfg(), checkpoint_dir=tmp_path / "a", progress=False)
    off = train(_images(), sampler_groups, _cfg(self_target_partitions=[1], free_bits=[0.0] * 4),
                checkpoint_dir=tmp_path / "b", progress=False)
    for a, b in zip(plain.model.state_dict().values(), off.model.state_dict().values()):
        assert torch.equal(a, b)
    on = train(_images(), sampler_groups, _cfg(self_target_prob=0.5, self_target_partitions=[1]),
               checkpoint_dir=tmp_path / "c", progress=False)
    assert any(not torch.equal(a, b) for a, b in
               zip(plain.model.state_dict().values(), on.model.state_dict().values()))


def test_history_holds_named_collapse_diagnostics(tmp_path):
    groups = np.stack([np.arange(64) % k for k in (2, 4, 8, 16)], axis=1)
    result = train(_images(), groups, _cfg(kl_warmup=0.5, free_bits=[0.1, 0.1, 0.1, 0.1]),
                   checkpoint_dir=tmp_path, progress=False, partition_names=["a", "b", "c", "d"])
    row = result.history[-1]
    for name, size in zip("abcd", SIZES):
        assert 0 <= row[f"active_{name}"] <= size
        assert row[f"kl_{name}"] >= 0
    assert row["kl_total"] == pytest.approx(sum(row[f"kl_{n}"] for n in "abcd"), rel=1e-5)
    assert row["recon_vs_mean_face"] > 0
    # the training losses survive beside the diagnostics (the probe's reconstruction has its own key)
    assert row["recon"] == pytest.approx(row["loss"] - row["regulariser"], rel=1e-4)
    assert row["mean_code_recon"] != row["recon"]


@pytest.mark.parametrize("bad, field", [
    (dict(kl_warmup=1.5), "kl_warmup"), (dict(self_target_prob=-0.1), "self_target_prob"),
    (dict(self_target_prob=0.3), "self_target_partitions"),
    (dict(self_target_partitions=[4]), "self_target_partitions"),
    (dict(ungated_warmup_epochs=2), "ungated_warmup_epochs"),
    (dict(free_bits=[0.5]), "free_bits"), (dict(free_bits=[0.1, -1, 0, 0]), "free_bits")])
def test_bad_remedies_are_named(bad, field):
    assert field in [f for f, _ in _cfg(**bad).problems()]
