"""What a partition's code is worth under the paper's pairing, from the data alone (no training):
docs/dsprites.md "Why gating does not sharpen our codes".

A gated step for partition p reconstructs a target that shares only p's factor with the anchor;
the rest of the target is random. The best a factorised Bernoulli decoder can do on that step is
to predict the mean image of the targets with the anchor's value of the factor. This script
computes, per factor:

- the reconstruction (BCE, nats per image) the step saves when the anchor's factor is known
  perfectly instead of not at all, for a decoder that does not know which partition a step trains
  (one decoder for all steps, as in the paper: its best prediction is the average of what each
  partition's code says), and for one that does;
- the KL a code that names the factor's class costs, beta x ln(#classes) (a deterministic code of
  a uniform factor, at best);
- for position, the same for each halving of the cell a code names (32x32 cells, 16x16, ...):
  the last bits per axis save less than they cost, so the optimum codes position coarsely.

Where the saving is below the cost, a collapsed partition is the optimum of the objective.

    python benchmarks/pair_value.py            # the pipeline's data/dsprites (dvc repro dsprites_pairs)
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

CHUNK = 10_000


def class_means(images, labels: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per factor: the mean image [n_classes, pixels] of each class; and the mean image overall."""
    pixels = int(np.prod(images.shape[1:]))
    sums = {k: np.zeros((int(v.max()) + 1, pixels)) for k, v in labels.items()}
    total = np.zeros(pixels)
    for start in range(0, len(images), CHUNK):
        x = np.asarray(images[start:start + CHUNK]).reshape(-1, pixels).astype(np.float64)
        x = x / max(1.0, float(x.max()))  # 0/1 or 0/255 alike
        total += x.sum(0)
        for k, v in labels.items():
            np.add.at(sums[k], v[start:start + CHUNK], x)
    means = {k: s / np.maximum(np.bincount(labels[k], minlength=len(s)), 1)[:, None] for k, s in sums.items()}
    return means, total / len(images)


def bce(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Expected BCE (nats, summed over pixels) of predicting q for pixels that are on with chance p."""
    q = np.clip(q, 1e-9, 1 - 1e-9)
    return -(p * np.log(q) + (1 - p) * np.log1p(-q)).sum(-1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="data/dsprites/images.npy")
    parser.add_argument("--factors", default="data/dsprites/factors.parquet")
    parser.add_argument("--beta", type=float, default=4.0)
    parser.add_argument("--anchors", type=int, default=3000, help="anchors the expectations average over")
    args = parser.parse_args(argv)

    images = np.load(args.images, mmap_mode="r")
    factors = pd.read_parquet(args.factors)
    labels = {name: factors[name].to_numpy().astype(np.int64) for name in ("shape", "scale", "orientation")}
    px, py = factors["pos_x"].to_numpy().astype(np.int64), factors["pos_y"].to_numpy().astype(np.int64)
    labels["position"] = px * 32 + py
    for cell in (2, 4, 8):  # position known only to cells of cell x cell positions
        labels[f"position/{cell}"] = (px // cell) * (32 // cell) + py // cell
    means, overall = class_means(images, labels)
    anchors = np.random.default_rng(0).choice(len(images), min(args.anchors, len(images)), replace=False)
    # what each partition's target looks like, on average, given the anchor's value of its factor
    known = {k: means[k][labels[k][anchors]] for k in labels}
    unknown = np.broadcast_to(overall, known["shape"].shape)

    def mixture(encoded: set[str]) -> np.ndarray:
        """The shared decoder's best prediction: the average over partitions of what each code says."""
        return sum(known[k] if k in encoded else unknown for k in partitions) / len(partitions)

    partitions = ("shape", "scale", "orientation", "position")
    everything = set(partitions)
    print(f"{'factor':12s} {'classes':>7s} {'saving, shared decoder':>23s} {'saving, decoder told p':>23s} "
          f"{'KL cost at beta ' + format(args.beta, 'g'):>18s} {'at beta 1':>10s}")
    for k in partitions:
        shared = (bce(known[k], mixture(everything - {k})) - bce(known[k], mixture(everything))).mean()
        told = (bce(known[k], unknown) - bce(known[k], known[k])).mean()
        classes = int(np.unique(labels[k]).size)
        cost = math.log(classes)
        print(f"{k:12s} {classes:7d} {shared:23.2f} {told:23.2f} {args.beta * cost:18.2f} {cost:10.2f}")
    print("\nposition, shared decoder: the position step's BCE with the code naming cells of c x c positions")
    others = sum(known[k] for k in ("shape", "scale", "orientation"))
    previous = None
    for cell in (8, 4, 2, 1):
        coded = known["position"] if cell == 1 else known[f"position/{cell}"]
        loss = bce(known["position"], (others + coded) / 4).mean()
        step = "" if previous is None else (f"  saves {previous - loss:6.2f} nats for 2 bits, which cost "
                                            f"{args.beta * 2 * math.log(2):.2f} at beta {args.beta:g}")
        print(f"  {32 // cell:2d} x {32 // cell:2d} cells: {loss:8.2f}{step}")
        previous = loss
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
