"""The one harness every DVC stage script runs through.

A stage script is wiring only: its docstring, its arguments (every path comes from dvc.yaml's
`cmd`), and the library function that does the work. The harness parses the arguments, sets up
logging, loads params.yaml, pins the CPU threads (gatedvae.threads), calls `work(params, **arguments)`, and turns a known failure
(gatedvae.errors.StageError, a bad params value included) into its message and exit code 2.
With `--timing PATH` (every stage in dvc.yaml has it) a finished stage also writes where its
time went (gatedvae.timing).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Callable

from gatedvae import params as P
from gatedvae import timing
from gatedvae.atomic import save_json
from gatedvae.errors import InputError, StageError
from gatedvae.threads import pin_threads, threads_setting


def arg(*flags: str, **options) -> tuple[tuple[str, ...], dict]:
    """One command-line argument, as argparse.add_argument takes it; required unless it has a
    default or is a flag."""
    if "default" not in options and options.get("action") is None:
        options.setdefault("required", True)
    return flags, options


def producing_stage(path: str | Path) -> str | None:
    """The DVC stage whose outputs hold `path` (None outside a DVC project or for a source file)."""
    try:
        from dvc.repo import Repo

        target = Path(path).resolve()
        with Repo(".") as repo:
            for stage in repo.index.stages:
                for out in stage.outs:
                    made = Path(out.fs_path).resolve()
                    if target == made or made in target.parents:
                        return stage.addressing
    except Exception:  # only an error message depends on it: never hide the error itself
        return None
    return None


def made_by(error: StageError) -> str:
    """For an unreadable input: which stage makes it, and how to make it again."""
    if not isinstance(error, InputError):
        return ""
    stage = producing_stage(error.path)
    if stage is None:
        return ""
    return (f"\n  {error.path} is made by stage `{stage}`: `dvc checkout {stage}` restores it from "
            f"the cache, `dvc repro -f -s {stage}` makes it again")


def run(work: Callable[..., int | None], doc: str | None, *arguments, argv: list[str] | None = None) -> None:
    """Run `work(params, **arguments)` as a stage and exit with its code (0 when None)."""
    startup, started_at, t0 = timing.process_age(), time.time(), time.perf_counter()
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="the params file (default: %(default)s)")
    parser.add_argument("--timing", default=None,
                        help="write where this stage's time went to this JSON file")
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    args = vars(parser.parse_args(argv))
    timing_out = args.pop("timing")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = None
    try:
        params = P.load(args.pop("params"))
        pin_threads(threads_setting(params))  # the bytes a stage writes depend on it (threads.py)
        code = work(params, **args)
    except StageError as e:
        print(f"error: {e}{made_by(e)}", file=sys.stderr)
        code = 2
    finally:
        if params is not None:
            P.write_record(params)
    if timing_out and not code:
        save_json(timing_out, timing.stage_record(Path(timing_out).stem, startup=startup,
                                                  work=time.perf_counter() - t0, started_at=started_at))
    sys.exit(code or 0)
