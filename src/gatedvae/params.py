"""Read params.yaml and check values, naming the key that is wrong.

`load` returns a Params mapping that records every dotted key read through `get` (and the
checkers built on it), so that a test can compare what each stage reads with what its `params`
in dvc.yaml declare: with GATEDVAE_PARAMS_LOG set to a folder, `write_record` leaves one JSON
file per stage there. Whole-file validation runs inside `unrecorded()`: checking a value is not
using it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from gatedvae.errors import StageError

RECORD_ENV = "GATEDVAE_PARAMS_LOG"


class Params(dict):
    """The parsed params.yaml, plus the dotted keys read from it."""

    def __init__(self, *args, path: str | Path = "params.yaml", **kwargs):
        super().__init__(*args, **kwargs)
        self.path = Path(path)
        self.read: set[str] = set()
        self.recording = True


@contextlib.contextmanager
def unrecorded(params: dict) -> Iterator[None]:
    """Reads inside this block are not recorded (validation of the whole file)."""
    if not isinstance(params, Params) or not params.recording:
        yield
        return
    params.recording = False
    try:
        yield
    finally:
        params.recording = True


def write_record(params: dict, stage: str | None = None) -> None:
    """With GATEDVAE_PARAMS_LOG set, write the keys this stage read (named by DVC_STAGE)."""
    folder = os.environ.get(RECORD_ENV)
    stage = stage or os.environ.get("DVC_STAGE")
    if not folder or not stage or not isinstance(params, Params):
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    safe = stage.replace("/", "_").replace(":", "_")
    (Path(folder) / f"{safe}.json").write_text(json.dumps({"stage": stage, "keys": sorted(params.read)}))


class ParamError(StageError, ValueError):
    """A params.yaml value is missing or invalid; the message names the key."""


def load(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise ParamError(f"{path}: not found (run from the repository root)")
    with open(path) as f:
        try:
            params = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ParamError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(params, dict):
        raise ParamError(f"{path}: expected a mapping at the top level")
    return Params(params, path=path)


def get(params: dict, key: str, default: Any = ..., *, file: str = "params.yaml") -> Any:
    """Look up a dotted key; a missing key without a default is an error that names it."""
    if isinstance(params, Params) and params.recording:
        params.read.add(key)
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is ...:
                raise ParamError(f"{file}: missing key `{key}`")
            return default
        node = node[part]
    return node


def check(condition: bool, key: str, message: str, *, file: str = "params.yaml") -> None:
    if not condition:
        raise ParamError(f"{file}: `{key}` {message}")


def number(params: dict, key: str, *, minimum: float | None = None, integer: bool = False,
           positive: bool = False, default: Any = ...) -> float | int:
    value = get(params, key, default)
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    check(ok and not isinstance(value, bool), key, f"must be {kind}, got {value!r}")
    if positive:
        check(value > 0, key, f"must be > 0, got {value!r}")
    if minimum is not None:
        check(value >= minimum, key, f"must be >= {minimum}, got {value!r}")
    return value


def flag(params: dict, key: str, default: Any = ...) -> bool:
    """A yes/no value, strictly: YAML's true or false (a quoted "false" is a non-empty string,
    which Python's bool() would read as True)."""
    value = get(params, key, default)
    hint = " (a quoted string: write true or false without quotes)" if isinstance(value, str) else ""
    check(isinstance(value, bool), key, f"must be true or false, got {value!r}{hint}")
    return value


def choice(params: dict, key: str, options: Iterable[str], default: Any = ...) -> str:
    value = get(params, key, default)
    options = list(options)
    check(value in options, key, f"must be one of {options}, got {value!r}")
    return value
