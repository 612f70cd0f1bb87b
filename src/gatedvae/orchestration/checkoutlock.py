"""One flow run per checkout at a time.

Two flow runs in one working copy (a scheduled run while a manual one is going, `serve` beside a
worker) would reproduce the same stages at once; DVC's locks would make one of them fail.
The flow holds an exclusive lock on a file under .dvc/tmp for its whole run, so a second run
waits, saying why. The OS drops the lock if the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def exclusive_checkout(root: Path, logger: logging.Logger | logging.LoggerAdapter) -> Iterator[None]:
    path = root / ".dvc" / "tmp" / "gatedvae-flow.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            logger.warning("Another flow run (%s) is using %s; waiting for it to finish",
                           holder, root)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
