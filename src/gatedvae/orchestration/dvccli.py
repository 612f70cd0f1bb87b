"""Run DVC commands as child processes and stream every output line to a logger.

DVC runs out of process: its Python API is not thread-safe, a crash in a stage cannot take the
flow with it, and `dvc repro` then records the stage exactly as it does by hand. All calls pass
`--wait-for-lock`, so concurrent calls queue for DVC's repository lock instead of failing.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

LineSink = Callable[[str], None]

# What `dvc repro` printed tells us what it did; used for the run summary only.
_ACTIONS = (("ran", re.compile(r"^Running stage '")),
            ("run-cache", re.compile(r"is cached - skipping run")),
            ("up-to-date", re.compile(r"didn't change, skipping")))


# Live DVC child processes, so a cancelled or crashed flow can stop them (see terminate_all).
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class DvcRun:
    argv: tuple[str, ...]
    returncode: int
    tail: tuple[str, ...]  # the last lines of output, for error messages
    seconds: float
    action: str  # `ran`, `run-cache` (restored from DVC's run-cache) or `up-to-date`

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for DVC and the stage commands it runs.

    The interpreter running the flow comes first on PATH, so a stage's `python ...` is this
    environment's Python even when a worker was started without activating it.
    """
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"  # stage output reaches the log line by line, not at exit
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.update(extra or {})
    return env


def dvc_argv(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "dvc", "--wait-for-lock", *args]


def run_dvc(args: Sequence[str], cwd: str | Path, sink: LineSink, *,
            env: Mapping[str, str] | None = None, tail_lines: int = 200) -> DvcRun:
    """Run `dvc <args>` in `cwd`; call `sink` with each output line (stdout and stderr, in order)."""
    argv = dvc_argv(args)
    started = time.monotonic()
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    seen: set[str] = set()
    proc = subprocess.Popen(argv, cwd=str(cwd), env=dict(env) if env is not None else child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        assert proc.stdout is not None
        for line in _lines(proc.stdout):
            tail.append(line)
            seen.update(name for name, pattern in _ACTIONS if pattern.search(line))
            sink(line)
        proc.wait()
    finally:
        if proc.poll() is None:  # the flow was cancelled or crashed: stop the stage, not orphan it
            _kill_group(proc)
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    action = next((name for name, _ in _ACTIONS if name in seen), "ran")
    return DvcRun(tuple(argv), proc.returncode, tuple(tail), time.monotonic() - started, action)


def terminate_all() -> int:
    """Stop every running DVC child and its stage command (their own process groups)."""
    with _RUNNING_LOCK:
        procs = [p for p in _RUNNING if p.poll() is None]
    for proc in procs:
        _kill_group(proc)
    return len(procs)


def _lines(stream) -> "collections.abc.Iterator[str]":
    """Decoded lines; carriage returns (progress bars) also end a line; blank lines dropped."""
    buffer = b""
    while chunk := stream.read1(65536):
        buffer += chunk
        *complete, buffer = re.split(rb"\r\n|\r|\n", buffer)
        for raw in complete:
            if raw.strip():
                yield raw.decode("utf-8", errors="replace").rstrip()
    if buffer.strip():
        yield buffer.decode("utf-8", errors="replace").rstrip()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
