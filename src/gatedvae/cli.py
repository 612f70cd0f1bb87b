"""The `gatedvae` command. Each subcommand lives in its own module, imported only when used.

A subcommand module defines `add_arguments(parser)` and `run(args) -> int | None`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from gatedvae.errors import StageError

SUBCOMMANDS = {
    "scale": ("gatedvae.scales", "switch params.yaml between the tiny, default and paper scales"),
    "flow": ("gatedvae.orchestration.cli", "run or serve the Prefect flow over the DVC DAG"),
    "prune": ("gatedvae.pipeline", "remove lock entries, outputs and timings of stages no longer in dvc.yaml"),
    "bench": ("gatedvae.bench", "training throughput ratios; --paper-scale: concurrent runs, projected DAG time"),
    "encode": ("gatedvae.encode", "a trained model's partition codes of images (codes.parquet) for downstream work"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="gatedvae", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in SUBCOMMANDS:
        args = parser.parse_args(argv)  # prints help or the usage error
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    command_parser = argparse.ArgumentParser(prog=f"gatedvae {argv[0]}",
                                             description=SUBCOMMANDS[argv[0]][1])
    module.add_arguments(command_parser)
    args = command_parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except StageError as e:  # ParamError, InputError...: the message says what to fix
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
