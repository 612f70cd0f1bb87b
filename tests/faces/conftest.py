"""Shared tiny synthetic CelebA for the faces tests (rendered once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gatedvae.faces.synthetic import SyntheticConfig, generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_celeba(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba") / "raw"
    cfg = SyntheticConfig(n_images=48, n_identities=6, seed=3, workers=1,
                          openface_failure_rate=0.1, openface_low_confidence_rate=0.1)
    factors = generate(root, cfg, progress=False)
    return root, factors, cfg


@pytest.fixture
def tiny_params(tmp_path):
    """This repository's params.yaml at the tiny scale (its file in tmp_path), loaded: a fresh
    dict per test, to change freely."""
    from gatedvae.params import load
    from gatedvae.scales import apply_scale

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_scale("tiny", tmp_path / "params.yaml", ROOT / "configs" / "scales")
    return load(tmp_path / "params.yaml")
