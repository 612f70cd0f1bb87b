"""Fixtures shared across test folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dvc_project import copy_project, dvc, run


@pytest.fixture(scope="session")
def tiny_dag(tmp_path_factory):
    """The whole DAG reproduced once at tiny scale in a temporary git repo, committed; each stage
    recorded the params keys it read under `params_read/` beside it. Returns a function that
    copies it for a test module (which may then change it freely) as (repo, the repro's stdout).
    Building it once saves the test modules that look at the same DAG a `dvc repro` each."""
    root = tmp_path_factory.mktemp("tiny_dag")
    repo = copy_project(root / "repo")
    first = dvc(repo, "repro", extra_env={"GATEDVAE_PARAMS_LOG": str(root / "params_read")})
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "tiny repro")

    def copy(dest: Path) -> tuple[Path, str]:
        shutil.copytree(root, dest, symlinks=True)
        return dest / "repo", first.stdout

    return copy
