"""What DVC knows about one stage now: is it up to date, and a fingerprint of its inputs.

The fingerprint is built from exactly what DVC records in dvc.lock before a run: the command,
each dependency's hash (DVC's own hashing, with its state database so unchanged files are not
re-read), the values of the params it reads, and the declared outputs. It is the Prefect cache
key, so "cached in Prefect" and "up to date in DVC" mean the same thing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

# DVC's Python API is not thread-safe; tasks run in threads, so in-process DVC calls queue here.
DVC_API_LOCK = threading.RLock()

FINGERPRINT_VERSION = 1


@dataclass(frozen=True)
class StageState:
    name: str
    status: tuple  # DVC's status entries for the stage; empty when up to date
    fingerprint: str | None  # None when a dependency is missing (nothing to key on yet)
    always_changed: bool
    uncached_outs: tuple[str, ...]  # outputs with `cache: false`: DVC cannot restore them

    @property
    def up_to_date(self) -> bool:
        return not self.status

    @property
    def only_outputs_changed(self) -> bool:
        """Deps, params and command match dvc.lock; only outputs are missing or modified."""
        return bool(self.status) and all(
            isinstance(entry, dict) and set(entry) == {"changed outs"} for entry in self.status)

    @property
    def changed_outputs(self) -> list[str]:
        return [path for entry in self.status if isinstance(entry, dict)
                for path in entry.get("changed outs", {})]

    @property
    def restorable(self) -> bool:
        """Missing outputs can come back from DVC's cache (`dvc checkout` / `dvc pull`)."""
        return self.only_outputs_changed and not set(self.changed_outputs) & set(self.uncached_outs)


def split_address(name: str) -> tuple[str, str | None]:
    """`train@a-0` -> (`dvc.yaml`, `train@a-0`); `sub/dvc.yaml:s` -> (`sub/dvc.yaml`, `s`)."""
    if ":" in name:
        path, stage = name.rsplit(":", 1)
        return path, stage
    if name.endswith(".dvc"):
        return name, None
    return "dvc.yaml", name


def _open_repo(root: Path):
    from dvc.repo import Repo

    return Repo(str(root), _wait_for_lock=True)


def inspect_stage(root: str | Path, name: str) -> StageState:
    """DVC's status and the input fingerprint of stage `name` in the project at `root`."""
    from dvc.dependency.base import DependencyDoesNotExistError
    from dvc.stage.serialize import to_single_stage_lockfile

    root = Path(root).resolve()
    path, stage_name = split_address(name)
    with DVC_API_LOCK, _open_repo(root) as repo:
        # under DVC's repo lock: a concurrent stage's `dvc repro` rewrites dvc.lock (in place)
        # while it holds that lock, and a stage loaded from a half-written dvc.lock would get a
        # wrong status, or an error that leaves the task without a cache record
        with repo.lock:  # status also reads outputs under DVC's read/write locks
            stage = repo.stage.load_one(path=str(root / path), name=stage_name)
            status = tuple(next(iter(stage.status().values()), []))
        # save_deps() computes the current hashes in memory (writes nothing); status first,
        # because it compares against the hashes loaded from dvc.lock.
        try:
            stage.save_deps()
        except DependencyDoesNotExistError:
            fingerprint = None
        else:
            entry = to_single_stage_lockfile(stage)
            entry["outs"] = [{"path": out.def_path, "cache": out.use_cache, "persist": out.persist}
                             for out in stage.outs]
            entry["wdir"] = Path(stage.wdir).resolve().relative_to(root).as_posix()
            entry["stage"] = name
            entry["version"] = FINGERPRINT_VERSION
            text = json.dumps(entry, sort_keys=True, default=str)
            fingerprint = hashlib.sha256(text.encode()).hexdigest()
        uncached = tuple(out.def_path for out in stage.outs if not out.use_cache)
        return StageState(name, status, fingerprint, bool(stage.always_changed or stage.is_callback),
                          uncached)


def default_remote(root: str | Path) -> str | None:
    """The DVC remote that `dvc push`/`dvc pull` use without `-r`, or None."""
    with DVC_API_LOCK, _open_repo(Path(root).resolve()) as repo:
        return repo.config["core"].get("remote")


def push_uncached_outputs(root: str | Path, name: str) -> list[str]:
    """Push the objects of a stage's `cache: false` outputs to the default remote.

    DVC's run-cache keeps such outputs (metrics files, typically) in the local cache so that it
    can restore them, but `dvc push --run-cache` sends only the run-cache entries and the cached
    outputs. Another machine restoring the stage from the run-cache would then miss them and
    run the stage again. This pushes them with DVC's own transfer (data_cloud.push). Returns
    the outputs pushed.
    """
    root = Path(root).resolve()
    path, stage_name = split_address(name)
    with DVC_API_LOCK, _open_repo(root) as repo:
        stage = repo.stage.load_one(path=str(root / path), name=stage_name)
        outs = [out for out in stage.outs if not out.use_cache and out.hash_info]
        if not outs:
            return []
        with repo.lock:
            result = repo.cloud.push({out.hash_info for out in outs})
        if result.failed:
            raise RuntimeError(f"stage {name!r}: pushing its cache: false outputs "
                               f"{[o.def_path for o in outs]} to the DVC remote failed")
        return [out.def_path for out in outs]
