"""The first layer of an MLP over images, as a sum of weight rows at the lit pixels.

dSprites images are binary with about 4% of pixels on, so `x @ W` (4096 x H multiply-adds per
image) is mostly multiplications by zero. `embedding_bag` adds the weight rows of the nonzero
pixels instead, scaled by their values: the same function up to the order of the float sums,
for any image (tests/training/test_pixel_linear.py checks it against the dense product; the
benchmark is `gatedvae bench`, docs/benchmarks.md "The first layer").

The weight is stored [pixels, out] (a row per pixel, as embedding_bag reads it) and initialised
exactly as torch's nn.Linear of the same size would be, from the same random draws.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

# Below this fraction of nonzero pixels the sparse sum is the faster: measured here (2 cores,
# batch 128, forward and backward) it breaks even near 14% at hidden 256 and 27% at 1200.
SPARSE_BELOW = 0.12
_dense_only = False


@contextlib.contextmanager
def dense_product():
    """Inside this block every PixelLinear takes the dense product (the benchmark's baseline)."""
    global _dense_only
    before, _dense_only = _dense_only, True
    try:
        yield
    finally:
        _dense_only = before


class PixelLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        weight = torch.empty(out_features, in_features)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # nn.Linear's init, in its order
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(weight.t().contiguous())
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        # The sparse sum runs on CPU in fp32 only; it has no gradient for the zero pixels, so an
        # input that needs one takes the dense path too.
        if (x.device.type == "cpu" and not x.requires_grad and not _dense_only
                and not torch.is_autocast_enabled("cpu")):
            rows, cols = x.nonzero(as_tuple=True)
            if len(cols) < SPARSE_BELOW * x.numel():
                offsets = torch.searchsorted(rows, torch.arange(len(x), device=x.device))
                out = F.embedding_bag(cols, self.weight, offsets, mode="sum",
                                      per_sample_weights=x[rows, cols])
                return out + self.bias
        return torch.addmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
