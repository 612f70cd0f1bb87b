"""Fixtures shared across test folders."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

from dvc_project import copy_project, dvc, run


@pytest.fixture(scope="session")
def tiny_dag(tmp_path_factory, worker_id):
    """The whole DAG reproduced once at tiny scale in a temporary git repo, committed; each stage
    recorded the params keys it read under `params_read/` beside it. Returns a function that
    copies it for a test module (which may then change it freely) as (repo, the repro's stdout).

    Built once per test run, not once per pytest-xdist worker: the first worker to need it builds
    it under a file lock in the run's shared temporary folder and the others wait, then copy it.
    So the modules that start from it can sit in different xdist groups and run side by side
    instead of queueing behind one worker (CI's longest chain)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base
    root, done = shared / "tiny_dag", shared / "tiny_dag" / "repro_stdout.txt"
    with open(shared / "tiny_dag.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the worker dies
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)  # what a failed build on another worker left
            repo = copy_project(root / "repo")
            first = dvc(repo, "repro", extra_env={"GATEDVAE_PARAMS_LOG": str(root / "params_read")})
            run(repo, "git", "add", "-A")
            run(repo, "git", "commit", "-q", "-m", "tiny repro")
            tmp = done.with_suffix(".tmp")
            tmp.write_text(first.stdout)
            tmp.rename(done)  # last: its presence says the build is whole
    stdout = done.read_text()

    def copy(dest: Path) -> tuple[Path, str]:
        shutil.copytree(root, dest, symlinks=True, ignore=shutil.ignore_patterns("repro_stdout.*"))
        return dest / "repo", stdout

    return copy
