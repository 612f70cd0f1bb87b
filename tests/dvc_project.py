"""A copy of this repository in a temporary git repo, for tests that run real DVC."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    # Stage commands say `python`: make it this interpreter (the venv's), as `make` does.
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def run(cwd: Path, *args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=cwd, env={**env(), **(extra_env or {})}, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def dvc(cwd: Path, *args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    return run(cwd, str(BIN / "dvc"), *args, check=check, extra_env=extra_env)


def copy_project(dest: Path, scale: str | None = "tiny") -> Path:
    """Tracked and untracked-but-not-ignored files of this checkout, committed in a new git repo."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        skipped = rel.startswith(("data/", "models/", "reports/dsprites/")) and not rel.startswith("data/external/")
        if src.is_file() and not skipped:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / "dvc.lock").unlink(missing_ok=True)
    run(dest, "git", "init", "-q", "-b", "main")
    if scale:
        run(dest, str(BIN / "gatedvae"), "scale", scale)
    run(dest, "git", "add", "-A")
    run(dest, "git", "commit", "-q", "-m", "copy")
    return dest


def stages_run(repro_output: str) -> set[str]:
    return {line.split("'")[1] for line in repro_output.splitlines() if line.startswith("Running stage '")}
