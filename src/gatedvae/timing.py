"""Where a stage's time goes: process start-up, named phases (training, encoding, each metric,
figures...), and the rest of its work.

The library marks its costly steps with `with phase("encoding"):`; the stage harness writes one
record per stage run to the path its `--timing` argument names (reports/timings/<stage>.json in
dvc.yaml, an uncached output that only the report reads, so the numbers never make another stage
rerun). Phases may nest; a nested phase's time is counted in the inner phase only, so the phases
and `other` add up to the stage's total.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

_phases: dict[str, float] = {}
_open: list[list] = []  # [name, start, time taken by nested phases]


@contextlib.contextmanager
def phase(name: str):
    """Count the time spent inside under `name` (summed over repeated entries)."""
    entry = [name, time.perf_counter(), 0.0]
    _open.append(entry)
    try:
        yield
    finally:
        _open.pop()
        spent = time.perf_counter() - entry[1]
        _phases[name] = _phases.get(name, 0.0) + spent - entry[2]
        if _open:
            _open[-1][2] += spent


def phases() -> dict[str, float]:
    """Seconds per phase so far in this process (exclusive of nested phases)."""
    return dict(_phases)


def reset() -> None:
    _phases.clear()
    _open.clear()


def process_age() -> float:
    """Seconds since this process started: interpreter start-up and imports, when called first
    thing in a stage."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start)
    except (OSError, ValueError, IndexError):
        import psutil

        return max(0.0, time.time() - psutil.Process().create_time())


def stage_record(stage: str, *, startup: float, work: float, started_at: float) -> dict:
    """One stage run: start-up, its phases, `other` (work outside any phase), total, and when it
    ran (unix seconds), with the threads torch had (null when the stage did not load torch)."""
    import sys

    torch = sys.modules.get("torch")
    spent = phases()
    named = {name: round(seconds, 3) for name, seconds in spent.items()}
    return {
        "stage": stage,
        "started_at": round(started_at - startup, 3),
        "finished_at": round(started_at + work, 3),
        "total_s": round(startup + work, 3),
        "startup_s": round(startup, 3),
        "phases_s": named,
        "other_s": round(max(0.0, work - sum(spent.values())), 3),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
    }
