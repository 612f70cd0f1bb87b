"""Shared tiny synthetic CelebA for the faces tests (rendered once per session)."""

from __future__ import annotations

import pytest

from gatedvae.faces.synthetic import SyntheticConfig, generate


@pytest.fixture(scope="session")
def tiny_celeba(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba") / "raw"
    cfg = SyntheticConfig(n_images=48, n_identities=6, seed=3, workers=1,
                          openface_failure_rate=0.1, openface_low_confidence_rate=0.1)
    factors = generate(root, cfg, progress=False)
    return root, factors, cfg
