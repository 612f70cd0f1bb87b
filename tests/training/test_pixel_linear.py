"""The MLP's first layer as a sum of weight rows at the lit pixels (pixel_linear.py) computes the
dense layer's function and gradients, up to float32 rounding; and a run with it repeats exactly."""

import numpy as np
import pytest
import torch
from torch import nn

from gatedvae.training.config import TrainConfig
from gatedvae.training.fit import train
from gatedvae.training.models import pixel_linear
from gatedvae.training.models.pixel_linear import PixelLinear, dense_product


def _images(density, n=96, pixels=4096, seed=0, binary=True):
    g = torch.Generator().manual_seed(seed)
    lit = torch.rand(n, pixels, generator=g) < density
    values = torch.ones(n, pixels) if binary else torch.rand(n, pixels, generator=g)
    x = values * lit
    x[3] = 0.0  # an empty image: a bag with no pixels
    return x


def test_initialised_as_torch_linear_from_the_same_draws():
    torch.manual_seed(7)
    dense = nn.Linear(4096, 64)
    torch.manual_seed(7)
    sparse = PixelLinear(4096, 64)
    assert torch.equal(sparse.weight, dense.weight.t())
    assert torch.equal(sparse.bias, dense.bias)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "greyscale"])
@pytest.mark.parametrize("hidden", [64, 1200])
def test_same_function_and_gradients_as_the_dense_product(binary, hidden):
    layer = PixelLinear(4096, hidden)
    x = _images(0.045, binary=binary)
    upstream = torch.randn(len(x), hidden, generator=torch.Generator().manual_seed(1))

    def run():
        layer.zero_grad()
        out = layer(x)
        (out * upstream).sum().backward()
        return out.detach(), layer.weight.grad.clone(), layer.bias.grad.clone()

    sparse = run()
    with dense_product():
        dense = run()
    reference = (torch.addmm(layer.bias, x, layer.weight)).detach()
    assert torch.equal(dense[0], reference)  # the baseline is the plain product
    for a, b in zip(sparse, dense):
        # float32 sums in another order: a few ulps of the largest term
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * b.abs().max().item())
    assert not torch.equal(sparse[0], dense[0]) or not torch.equal(sparse[1], dense[1]), \
        "the sparse path did not run (identical bits to the dense product)"


def test_dense_inputs_and_inputs_needing_a_gradient_take_the_dense_product():
    layer = PixelLinear(4096, 32)
    dense_image = _images(0.5)
    assert torch.equal(layer(dense_image), torch.addmm(layer.bias, dense_image, layer.weight))
    x = _images(0.045).requires_grad_()
    layer(x).sum().backward()
    # the gradient of every pixel, zero ones included: what the dense product gives
    torch.testing.assert_close(x.grad, layer.weight.sum(1).expand_as(x).detach())
    assert pixel_linear.SPARSE_BELOW < 0.5


def test_a_training_run_with_the_sparse_layer_repeats_exactly(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((512, 64, 64)) < 0.045).astype(np.uint8)
    groups = rng.integers(0, 4, (512, 2))
    cfg = TrainConfig(hidden=32, latent_dim=4, partitions=[2, 2], epochs=2, batch_size=64, lr=1e-3,
                      image_size=64, seed=0, device="cpu")
    a = train(images, groups, cfg, checkpoint_dir=tmp_path / "a", progress=False).model.state_dict()
    b = train(images, groups, cfg, checkpoint_dir=tmp_path / "b", progress=False).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["encoder.1.weight"].shape == (4096, 32)  # stored a row per pixel
