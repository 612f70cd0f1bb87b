"""Fixtures of the harness tests."""

from pathlib import Path

import pytest

from gatedvae import params as P

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def params():
    """The committed params.yaml, loaded as every stage loads it (a fresh copy per test)."""
    return P.load(ROOT / "params.yaml")
