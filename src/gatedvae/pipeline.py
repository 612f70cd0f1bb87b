"""The stages dvc.yaml defines now, and `gatedvae prune`: remove what stages that no longer exist
left behind.

DVC keeps the dvc.lock entries and the outputs of matrix members that params no longer ask for
(a seed or a study value removed), and their timing records stay in reports/timings. Those
ghosts can sit inside a folder another stage reads (models/faces) and be counted by the report.
A stage whose output moved (dvc.yaml now writes it elsewhere) leaves its old output behind the
same way, named by its own lock entry until it runs again. `gatedvae prune` lists them
(`--dry-run`) or removes them: the lock entries of gone stages, the outputs that no current stage
declares (with the lines DVC wrote for them in a .gitignore beside them, and a folder that holds
nothing else), and the timing records of stages not in dvc.yaml.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TIMINGS = Path("reports/timings")


def stage_names(root: str | Path = ".") -> set[str]:
    """Every stage dvc.yaml defines now, matrix members expanded (DVC's own reading)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {stage.addressing for stage in repo.index.stages if getattr(stage, "name", None)}


def _current_outs(root: Path) -> list[Path]:
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return [Path(out.fs_path).resolve() for stage in repo.index.stages for out in stage.outs]


@dataclass
class Ghosts:
    lock_entries: list[str] = field(default_factory=list)   # dvc.lock stages not in dvc.yaml
    outputs: list[Path] = field(default_factory=list)       # locked outputs no current stage declares
    timing_records: list[Path] = field(default_factory=list)  # records of stages not in dvc.yaml

    def __bool__(self) -> bool:
        return bool(self.lock_entries or self.outputs or self.timing_records)

    def lines(self, root: Path) -> list[str]:
        return ([f"lock entry  {name}" for name in self.lock_entries]
                + [f"output      {p.relative_to(root)}" for p in self.outputs]
                + [f"timing      {p.relative_to(root)}" for p in self.timing_records])


def find_ghosts(root: str | Path = ".", timings: Path = TIMINGS) -> Ghosts:
    root = Path(root).resolve()
    current = stage_names(root)
    lock_path = root / "dvc.lock"
    locked = (yaml.safe_load(lock_path.read_text()) or {}).get("stages", {}) if lock_path.exists() else {}
    ghosts = Ghosts(lock_entries=sorted(set(locked) - current))
    declared = _current_outs(root)
    # every lock entry: a gone stage's outputs, and a current stage's that dvc.yaml moved
    for name in sorted(locked):
        for out in locked[name].get("outs", []):
            path = (root / out["path"]).resolve()
            if path.parent == (root / timings).resolve():
                continue  # a timing record: counted below with the records of other gone stages
            shared = any(path == d or d in path.parents or path in d.parents for d in declared)
            if path.exists() and not shared and path not in ghosts.outputs:
                ghosts.outputs.append(path)
    ghosts.timing_records = sorted(p for p in (root / timings).glob("*.json")
                                   if p.stem not in current)
    return ghosts


def prune(root: str | Path = ".", timings: Path = TIMINGS) -> Ghosts:
    """Remove every ghost; returns what was removed."""
    from dvc.utils.serialize import modify_yaml

    root = Path(root).resolve()
    ghosts = find_ghosts(root, timings)
    for path in ghosts.outputs:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        _forget_ignored(path, root)
    for path in ghosts.timing_records:
        path.unlink()
    if ghosts.lock_entries:
        with modify_yaml(root / "dvc.lock") as lock:
            for name in ghosts.lock_entries:
                del lock["stages"][name]
    return ghosts


def _forget_ignored(path: Path, root: Path) -> None:
    """Drop the line DVC wrote for a removed output in the .gitignore beside it; then remove that
    .gitignore if it lists nothing else, and the folder if it is left empty (up to the root)."""
    ignore = path.parent / ".gitignore"
    if ignore.exists():
        kept = [line for line in ignore.read_text().splitlines() if line.strip() != f"/{path.name}"]
        if any(line.strip() for line in kept):
            ignore.write_text("\n".join(kept) + "\n")
        else:
            ignore.unlink()
    folder = path.parent
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    parser.add_argument("--root", default=".", help="the DVC project (default: here)")


def run(args) -> int:
    root = Path(args.root).resolve()
    ghosts = find_ghosts(root) if args.dry_run else prune(root)
    if not ghosts:
        print("nothing to prune: dvc.lock, the outputs and reports/timings match dvc.yaml")
        return 0
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} (stages no longer in dvc.yaml, outputs no stage declares):")
    for line in ghosts.lines(root):
        print(f"  {line}")
    return 0
