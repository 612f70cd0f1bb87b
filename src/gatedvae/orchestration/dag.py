"""The DVC pipeline as a task graph: stages, edges and orchestration metadata, read from DVC.

dvc.yaml is the single source of truth. DVC itself expands `matrix`/`foreach` stages, resolves
`${...}` templates and derives the edges from deps/outs; we only read its index. Per-stage
orchestration settings live in each stage's `meta:` field, which DVC stores but ignores:

    meta:
      gpu: true                 # takes a slot of the GPU concurrency limit
      retries: 2                # Prefect retries for transient failures
      retry_delay_seconds: 30   # first delay; doubled on each retry (or a list of delays)
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, Union

RetryDelay = Union[float, tuple[float, ...], None]

KNOWN_META = {"gpu", "retries", "retry_delay_seconds"}


class DagError(ValueError):
    """dvc.yaml cannot be turned into a task graph; the message names the file and stage."""


class PipelineFailed(RuntimeError):
    """A pipeline run could not go on (its message says why)."""


@dataclass(frozen=True)
class StageSpec:
    """One DVC stage as a task: its DVC address, upstream stages and orchestration meta."""

    name: str  # DVC addressing: `train@beta_vae-gated-0`, or `sub/dvc.yaml:stage` elsewhere
    dvcfile: str  # the dvc.yaml that defines it, relative to the repository root
    cmd: str
    upstream: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()  # output paths relative to the root, as declared
    gpu: bool = False
    retries: int | None = None  # None: the flow's default
    retry_delay_seconds: RetryDelay = None  # None: the flow's default
    always_changed: bool = False
    frozen: bool = False


@dataclass(frozen=True)
class Dag:
    """Stages in the order `dvc repro` runs them (each after all its upstream stages)."""

    root: Path
    stages: tuple[StageSpec, ...]
    _by_name: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({s.name: s for s in self.stages})

    def __getitem__(self, name: str) -> StageSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.stages)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def select(self, targets: Sequence[str] | None) -> "Dag":
        """The sub-DAG needed for `targets` (names, matrix prefixes or globs) and their upstream."""
        if not targets:
            return self
        wanted: set[str] = set()
        for target in targets:
            hits = [n for n in self.names
                    if n == target or n.split("@", 1)[0] == target or fnmatch.fnmatchcase(n, target)]
            if not hits:
                raise DagError(f"no DVC stage matches target {target!r}; stages: {', '.join(self.names)}")
            wanted.update(hits)
        todo = list(wanted)
        while todo:
            for up in self[todo.pop()].upstream:
                if up not in wanted:
                    wanted.add(up)
                    todo.append(up)
        return Dag(self.root, tuple(s for s in self.stages if s.name in wanted))


def walk(dag: Dag, max_parallel: int, start: Callable[[StageSpec], Any],
         wait: Callable[[dict[str, Any]], list[tuple[str, Any]]],
         skip: Callable[[StageSpec, list[str]], Any] | None = None,
         succeeded: Callable[[Any], bool] = lambda outcome: True) -> dict[str, Any]:
    """The one scheduler over the DAG (the local flow's and per-stage dispatch's): start each
    stage once all its upstream stages have finished, at most `max_parallel` at a time.

    start(spec) returns a handle; wait(running) blocks until some are done and returns
    [(name, outcome)] for them (it may put a new handle in `running`, for a retry). With `skip`,
    a stage whose upstream did not succeed is never started: skip(spec, failed upstream) is its
    outcome. Returns stage name -> outcome."""
    pending, outcomes, running = list(dag.stages), {}, {}
    while pending or running:
        if skip is not None:
            for spec in list(pending):
                failed = [u for u in spec.upstream if u in outcomes and not succeeded(outcomes[u])]
                if failed:
                    pending.remove(spec)
                    outcomes[spec.name] = skip(spec, failed)
        ready = [s for s in pending if all(u in outcomes for u in s.upstream)]
        for spec in ready[: max(0, max_parallel - len(running))]:
            pending.remove(spec)
            running[spec.name] = start(spec)
        if not running:
            if pending:
                raise PipelineFailed(f"stages never became ready: {[s.name for s in pending]}")
            break
        for name, outcome in wait(running):
            del running[name]
            outcomes[name] = outcome
    return outcomes


def _meta(stage, dvcfile: str) -> dict:
    meta = stage.meta or {}
    where = f"{dvcfile}: stage '{stage.name}': meta"
    if not isinstance(meta, dict):
        raise DagError(f"{where} must be a mapping, got {meta!r}")
    out: dict = {}
    gpu = meta.get("gpu", False)
    if not isinstance(gpu, bool):
        raise DagError(f"{where}.gpu must be true or false, got {gpu!r}")
    out["gpu"] = gpu
    retries = meta.get("retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        raise DagError(f"{where}.retries must be an integer >= 0, got {retries!r}")
    out["retries"] = retries
    delay = meta.get("retry_delay_seconds")
    if delay is not None:
        items = delay if isinstance(delay, list) else [delay]
        if not items or any(isinstance(d, bool) or not isinstance(d, (int, float)) or d < 0 for d in items):
            raise DagError(f"{where}.retry_delay_seconds must be a number >= 0 or a list of them, "
                           f"got {delay!r}")
        delay = tuple(float(d) for d in delay) if isinstance(delay, list) else float(delay)
    out["retry_delay_seconds"] = delay
    return out


def _dvcfile(stage, root: Path) -> str:
    return Path(stage.dvcfile.path).resolve().relative_to(root).as_posix()


def _address(stage, root: Path) -> str:
    dvcfile = _dvcfile(stage, root)
    name = getattr(stage, "name", None)
    if dvcfile == "dvc.yaml" and name:
        return name
    return f"{dvcfile}:{name}" if name else dvcfile


def load_dag(root: str | Path) -> Dag:
    """Read every pipeline stage of the DVC project at `root`, in `dvc repro` order."""
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo
    from dvc.repo.reproduce import get_active_graph, plan_repro

    root = Path(root).resolve()
    try:
        repo = Repo(str(root))
    except NotDvcRepoError as e:
        raise DagError(f"{root}: not a DVC repository (run `dvc init` there): {e}") from e
    try:
        with repo:
            try:
                graph = get_active_graph(repo.index.graph)
            except DvcException as e:
                raise DagError(f"{root}: DVC cannot read the pipeline: {e}") from e
            # DVC's own evaluation order: a post-order walk, so upstream stages come first.
            order = plan_repro(graph, None)
            runnable = [s for s in order if s.cmd or s.is_import]
            # DVC's `addressing` is relative to the current directory; ours to the root.
            names = {s: _address(s, root) for s in runnable}
            specs = []
            for stage in runnable:
                upstream = tuple(sorted(names[u] for u in graph.successors(stage) if u in names))
                cmd = stage.cmd if isinstance(stage.cmd, str) else "\n".join(stage.cmd or [])
                dvcfile = _dvcfile(stage, root)
                outs = tuple(Path(os.path.relpath(o.fs_path, root)).as_posix() for o in stage.outs)
                specs.append(StageSpec(name=names[stage], dvcfile=dvcfile, cmd=cmd, outs=outs,
                                       upstream=upstream, always_changed=bool(stage.always_changed),
                                       frozen=bool(stage.frozen), **_meta(stage, dvcfile)))
    finally:
        repo.close()
    return Dag(root, tuple(specs))


def describe(dag: Dag, lines: Iterable[str] = ()) -> str:
    """A readable listing of the task graph (what `gatedvae flow dag` prints)."""
    out = list(lines)
    for s in dag.stages:
        flags = ["gpu"] if s.gpu else []
        if s.retries is not None:
            flags.append(f"retries={s.retries}")
        if s.frozen:
            flags.append("frozen")
        after = f"  <- {', '.join(s.upstream)}" if s.upstream else ""
        out.append(f"{s.name}{' [' + ' '.join(flags) + ']' if flags else ''}{after}")
    return "\n".join(out)
