"""Gated backpropagation: gradient reaches the encoder only through the active partition, in every
precision a CPU runs (the nets in bf16 autocast; the gating itself always sees float32)."""

import pytest
import torch

from gatedvae.training.fit import step_loss
from gatedvae.training.gating import partition_masks
from gatedvae.training.models import build_net
from gatedvae.training.objectives import OBJECTIVES, build_objective

SIZES = [2, 3, 1, 2]  # unequal on purpose
PRECISIONS = ["fp32", "bf16"]  # tf32 and fp16 need CUDA


def _setup(model_name, precision="fp32"):
    torch.manual_seed(0)
    model = build_net("mlp", latent_dim=sum(SIZES), image_size=16, hidden=24)
    model.precision = precision
    x = (torch.rand(32, 1, 16, 16) < 0.3).float()
    target = (torch.rand(32, 1, 16, 16) < 0.3).float()
    eps = torch.randn(32, sum(SIZES))
    return model, build_objective(model_name, sum(SIZES)), x, target, eps


def _grads(model, objective, x, target, eps, mask, gate_regulariser=True):
    model.zero_grad()
    loss, *_ = step_loss(model, objective, x, target, mask, eps, gate_regulariser=gate_regulariser,
                         generator=torch.Generator().manual_seed(1))
    loss.backward()
    return loss


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model_name", sorted(OBJECTIVES))
@pytest.mark.parametrize("partition", range(len(SIZES)))
def test_only_active_partition_reaches_encoder(model_name, partition, precision):
    model, objective, x, target, eps = _setup(model_name, precision)
    mask = partition_masks(SIZES)[partition]
    _grads(model, objective, x, target, eps, mask)
    head = model.encoder[-1]  # Linear -> (mu, logvar): rows j and M + j belong to latent dim j
    rows = torch.cat([mask, mask])
    assert torch.all(head.weight.grad[~rows] == 0)
    assert torch.all(head.bias.grad[~rows] == 0)
    assert torch.all(head.weight.grad[rows].abs().sum(dim=1) > 0)
    trunk = model.encoder[1]
    assert trunk.weight.grad.abs().sum() > 0
    for p in model.decoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model_name", sorted(OBJECTIVES))
def test_forward_values_identical_to_ungated(model_name, precision):
    model, objective, x, target, eps = _setup(model_name, precision)
    model.eval()  # BatchNorm running stats must not differ between the two calls
    gen = lambda: torch.Generator().manual_seed(5)
    gated = step_loss(model, objective, x, target, partition_masks(SIZES)[1], eps, generator=gen())
    plain = step_loss(model, objective, x, target, None, eps, generator=gen())
    for a, b in zip(gated[:3], plain[:3]):
        assert torch.equal(a, b)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_decoder_gradient_is_not_gated(precision):
    model, objective, x, target, eps = _setup("beta_vae", precision)
    _grads(model, objective, x, target, eps, None)
    plain = [p.grad.clone() for p in model.decoder.parameters()]
    _grads(model, objective, x, target, eps, partition_masks(SIZES)[0])
    for a, p in zip(plain, model.decoder.parameters()):
        assert torch.allclose(a, p.grad)


def test_ungated_regulariser_reaches_all_encoder_rows():
    model, objective, x, target, eps = _setup("beta_vae")
    mask = partition_masks(SIZES)[0]
    _grads(model, objective, x, target, eps, mask, gate_regulariser=False)
    head = model.encoder[-1]
    assert torch.all(head.weight.grad.abs().sum(dim=1) > 0)  # KL pulls every dim


def test_partition_masks_cover_each_dim_once():
    masks = partition_masks(SIZES)
    assert masks.shape == (4, 8)
    assert torch.equal(masks.sum(0), torch.ones(8, dtype=torch.long))
    assert masks.sum(1).tolist() == SIZES


def test_bf16_runs_the_nets_in_bfloat16_and_hands_float32_on():
    """The autocast is real (the trunk computes in bf16) and the gating sees float32."""
    model, objective, x, target, eps = _setup("beta_vae", "bf16")
    seen = {}

    def record(module, inputs, out):
        seen["trunk"] = out.dtype

    model.encoder[1].register_forward_hook(record)
    mu, logvar = model.encode(x)
    assert seen["trunk"] == torch.bfloat16
    assert mu.dtype == logvar.dtype == model.decode(mu).dtype == torch.float32
    model.precision = "fp32"
    mu32, _ = model.encode(x)
    assert not torch.equal(mu, mu32) and torch.allclose(mu, mu32, atol=0.05)
