"""One real local Prefect server for the whole test session, and a hermetic Prefect home.

Prefect reads its settings when it is first imported, so PREFECT_HOME (profiles, and the
local result storage that holds cache records) points at a fresh folder before that.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="gatedvae-prefect-home-"))
os.environ["PREFECT_HOME"] = str(_HOME)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(_HOME / "storage")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["DVC_NO_ANALYTICS"] = "1"

import orch_postgres  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API server, started once per session, on a throwaway PostgreSQL cluster
    (orch_postgres: SQLite's "database is locked" under concurrent workers is what made these
    tests flaky). Without PostgreSQL installed, Prefect's SQLite test harness, with a warning."""
    import warnings

    from prefect.settings import PREFECT_API_URL

    if not orch_postgres.available():
        from prefect.testing.utilities import prefect_test_harness

        warnings.warn("PostgreSQL is not installed: the Prefect test server falls back to SQLite, "
                      "which can fail writes under concurrent workers (database is locked)")
        with prefect_test_harness(server_startup_timeout=180):
            yield {"api_url": PREFECT_API_URL.value(), "home": _HOME, "database": "sqlite"}
        return
    with orch_postgres.cluster() as database_url, prefect_api(database_url) as api_url:
        yield {"api_url": api_url, "home": _HOME, "database": "postgresql"}


@contextlib.contextmanager
def prefect_api(database_url: str, startup_timeout: float = 180):
    """`prefect server start` on `database_url` as a subprocess; PREFECT_API_URL points at it."""
    import prefect.context
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import (PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL,
                                  temporary_settings)

    with temporary_settings({PREFECT_SERVER_DATABASE_CONNECTION_URL: database_url}):
        server = SubprocessASGIServer(port=orch_postgres.free_port())
        server.start(timeout=startup_timeout)
        try:
            # process-wide, as Prefect's own harness does: a flow run in a new thread (the tests
            # that kill a worker or the coordinator mid-run) must see this server, not start one
            with temporary_settings({PREFECT_API_URL: server.api_url}), \
                    prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
                yield server.api_url
                APILogWorker.drain_all(timeout=10)
        finally:
            server.stop()


@pytest.fixture
def toy_env(tmp_path, monkeypatch):
    """Where toy stages log their runs ($TOY_RUNLOG) and keep failure switches ($TOY_STATE)."""
    runlog = tmp_path / "runlog.jsonl"
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("TOY_RUNLOG", str(runlog))
    monkeypatch.setenv("TOY_STATE", str(state))
    return {"runlog": runlog, "state": state}
