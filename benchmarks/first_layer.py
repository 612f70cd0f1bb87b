"""The MLP's first layer alone: the lit-pixel sum (PixelLinear) against the dense product, forward
and backward, batch 128, at hidden 256 and 1200 and several lit fractions (docs/benchmarks.md
"The first layer"). The whole-step ratio is `gatedvae bench`'s; this one shows where it breaks even.

    python benchmarks/first_layer.py [--threads 2]
"""

import argparse
import time

import torch

from gatedvae.training.models.pixel_linear import PixelLinear, dense_product


def milliseconds_per_step(layer, x, steps=10, rounds=3, batch=128):
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for i in range(steps):
            y = layer(x[batch * i:batch * (i + 1)])
            y.backward(torch.ones_like(y))
        best = min(best, (time.perf_counter() - t) / steps)
    return best * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print("| hidden | lit pixels | dense ms | sparse ms | dense / sparse |\n|---|---|---|---|---|")
    for hidden in (256, 1200):
        for lit in (0.04, 0.1, 0.2, 0.3, 0.5):
            x = (torch.rand(1280, 4096) < lit).float()
            layer = PixelLinear(4096, hidden)
            sparse = milliseconds_per_step(layer, x)
            with dense_product():
                dense = milliseconds_per_step(layer, x)
            print(f"| {hidden} | {lit:.0%} | {dense:.2f} | {sparse:.2f} | {dense / sparse:.2f}x |")


if __name__ == "__main__":
    main()
