"""Keep dvc.lock byte-for-byte what a sequential `dvc repro` would write.

DVC updates a stage's dvc.lock entry in place and appends new entries in the order the stages
finish. Stages run concurrently finish in any order, so after a flow run the entries it added
are put back in `dvc repro`'s order. Contents are DVC's own; only the order changes.
"""

from __future__ import annotations

from pathlib import Path

from gatedvae.orchestration.dag import Dag
from gatedvae.orchestration.stagestate import DVC_API_LOCK, split_address


def _lockfile(dvcfile: str) -> str:
    return str(Path(dvcfile).with_suffix(".lock"))


def snapshot(dag: Dag) -> dict[str, list[str]]:
    """The stage entries of each dvc.lock the DAG writes to, in file order."""
    import yaml

    out: dict[str, list[str]] = {}
    for dvcfile in {s.dvcfile for s in dag.stages if s.dvcfile.endswith(".yaml")}:
        path = dag.root / _lockfile(dvcfile)
        data = yaml.safe_load(path.read_text()) if path.exists() else None
        out[dvcfile] = list((data or {}).get("stages") or {})
    return out


def restore_repro_order(dag: Dag, before: dict[str, list[str]]) -> list[str]:
    """Reorder entries added since `before` into `dvc repro` order; return the files changed."""
    import yaml
    from dvc.repo import Repo
    from dvc.utils.serialize import modify_yaml

    changed = []
    for dvcfile, old_keys in before.items():
        path = dag.root / _lockfile(dvcfile)
        if not path.exists():
            continue
        plan = [split_address(s.name)[1] for s in dag.stages if s.dvcfile == dvcfile]
        with DVC_API_LOCK, Repo(str(dag.root), _wait_for_lock=True) as repo, repo.lock:
            keys = list((yaml.safe_load(path.read_text()) or {}).get("stages") or {})
            kept = [k for k in keys if k in old_keys]
            added = [k for k in plan if k in keys and k not in old_keys]
            others = [k for k in keys if k not in kept and k not in added]
            wanted = kept + added + others
            if wanted == keys:
                continue
            with modify_yaml(str(path)) as data:
                stages = data["stages"]
                for key in wanted:
                    stages.move_to_end(key)
            changed.append(str(path.relative_to(dag.root)))
    return changed
