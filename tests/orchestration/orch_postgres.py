"""A throwaway PostgreSQL cluster for the test session's Prefect server.

Prefect's own test harness keeps its database in SQLite, which refuses concurrent writers: with
two workers heartbeating, flow runs changing state and a coordinator polling, its deferred
transactions fail with "database is locked" and the server drops the write. A real database
server removes the cause. The cluster lives in a temporary folder, listens on 127.0.0.1 only,
runs as the `postgres` system user (PostgreSQL refuses root) and is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


def available() -> bool:
    return _bindir() is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yield its SQLAlchemy URL for Prefect (asyncpg)."""
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="gatedvae-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def pg(tool: str, *args: str) -> None:
        subprocess.run([*as_user, str(bindir / tool), *args], check=True, capture_output=True, cwd=root)

    try:
        pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        # fsync off: a test database need not survive a power cut, and it keeps writes cheap
        options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} " \
                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                pg("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
