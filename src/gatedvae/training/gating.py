"""Gated backpropagation (paper section III.B).

The forward pass uses all of z. For the active partition p the encoder outputs pass through
unchanged; for every other partition they are detached, so values are identical but gradient
reaches the encoder only through partition p. The decoder is untouched and gets its full gradient.
"""

from __future__ import annotations

import torch


def partition_masks(sizes: list[int]) -> torch.Tensor:
    """Boolean [P, M] masks: row p is True on the dims of partition p."""
    total = sum(sizes)
    masks = torch.zeros(len(sizes), total, dtype=torch.bool)
    start = 0
    for p, size in enumerate(sizes):
        masks[p, start:start + size] = True
        start += size
    return masks


def gate(t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Same values as t; gradient flows only where mask is True (mask broadcasts over the batch)."""
    return torch.where(mask, t, t.detach())
