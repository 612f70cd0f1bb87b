"""One real local Prefect server for the whole test session, and a hermetic Prefect home.

Prefect reads its settings when it is first imported, so PREFECT_HOME (profiles, and the
local result storage that holds cache records) points at a fresh folder before that.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="gatedvae-prefect-home-"))
os.environ["PREFECT_HOME"] = str(_HOME)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(_HOME / "storage")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["DVC_NO_ANALYTICS"] = "1"

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API server (SQLite in a temp dir), started once per session (~10 s)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield {"api_url": PREFECT_API_URL.value(), "home": _HOME}


@pytest.fixture
def toy_env(tmp_path, monkeypatch):
    """Where toy stages log their runs ($TOY_RUNLOG) and keep failure switches ($TOY_STATE)."""
    runlog = tmp_path / "runlog.jsonl"
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("TOY_RUNLOG", str(runlog))
    monkeypatch.setenv("TOY_STATE", str(state))
    return {"runlog": runlog, "state": state}
