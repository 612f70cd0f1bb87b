"""Keep the files DVC writes byte-for-byte what a sequential `dvc repro` would write.

DVC updates a stage's dvc.lock entry in place and appends entries for new stages, and it
appends `/<output>` lines to the .gitignore beside each new cached output, both in the order
stages finish. Concurrent stages finish in any order, so after a flow run the entries and
lines it added are put back in `dvc repro`'s order (its stage order, then each stage's outputs
in dvc.yaml order). Contents are DVC's own; only their order changes, under DVC's lock.
"""

from __future__ import annotations

import os
from pathlib import Path

from gatedvae.orchestration.dag import Dag
from gatedvae.orchestration.stagestate import DVC_API_LOCK, split_address


def _lockfile(dvcfile: str) -> str:
    return str(Path(dvcfile).with_suffix(".lock"))


def _gitignores(dag: Dag) -> set[str]:
    return {(Path(out).parent / ".gitignore").as_posix() for s in dag.stages for out in s.outs}


def _read_lines(path: Path) -> list[str] | None:
    return path.read_text().splitlines() if path.exists() else None


def snapshot(dag: Dag) -> dict[str, list[str] | None]:
    """dvc.lock stage keys and .gitignore lines, per file, before the run."""
    import yaml

    out: dict[str, list[str] | None] = {}
    for dvcfile in {s.dvcfile for s in dag.stages if s.dvcfile.endswith(".yaml")}:
        path = dag.root / _lockfile(dvcfile)
        data = yaml.safe_load(path.read_text()) if path.exists() else None
        out[_lockfile(dvcfile)] = list((data or {}).get("stages") or {})
    for ignore in _gitignores(dag):
        out[ignore] = _read_lines(dag.root / ignore)
    return out


def _wanted(current: list[str], before: list[str] | None, planned: list[str]) -> list[str]:
    """Lines/keys that were there stay put; new ones follow in planned order, then the rest."""
    before_set = set(before or [])
    kept = [k for k in current if k in before_set]
    added = [k for k in planned if k in current and k not in before_set]
    others = [k for k in current if k not in before_set and k not in added]
    return kept + list(dict.fromkeys(added)) + others


def restore_repro_order(dag: Dag, before: dict[str, list[str] | None]) -> list[str]:
    """Reorder what the run added into `dvc repro` order; return the files rewritten."""
    import yaml
    from dvc.repo import Repo
    from dvc.utils.serialize import modify_yaml

    changed = []
    with DVC_API_LOCK, Repo(str(dag.root), _wait_for_lock=True) as repo, repo.lock:
        for dvcfile in {s.dvcfile for s in dag.stages if s.dvcfile.endswith(".yaml")}:
            rel = _lockfile(dvcfile)
            path = dag.root / rel
            if not path.exists() or rel not in before:
                continue
            keys = list((yaml.safe_load(path.read_text()) or {}).get("stages") or {})
            plan = [split_address(s.name)[1] for s in dag.stages if s.dvcfile == dvcfile]
            wanted = _wanted(keys, before[rel], plan)
            if wanted != keys:
                with modify_yaml(str(path)) as data:
                    for key in wanted:
                        data["stages"].move_to_end(key)
                changed.append(rel)
        for rel in sorted(_gitignores(dag)):
            path = dag.root / rel
            lines = _read_lines(path)
            if lines is None or rel not in before:
                continue
            folder = Path(rel).parent
            plan = [f"/{Path(out).name}" for s in dag.stages for out in s.outs
                    if Path(out).parent == folder]
            wanted = _wanted(lines, before[rel], plan)
            if wanted != lines:
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_text("\n".join(wanted) + "\n")
                os.replace(tmp, path)
                changed.append(rel)
    return changed
