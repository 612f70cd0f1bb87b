"""Read params.yaml and check values, naming the key that is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml


class ParamError(ValueError):
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
    return params


def get(params: dict, key: str, default: Any = ..., *, file: str = "params.yaml") -> Any:
    """Look up a dotted key; a missing key without a default is an error that names it."""
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


def choice(params: dict, key: str, options: Iterable[str], default: Any = ...) -> str:
    value = get(params, key, default)
    options = list(options)
    check(value in options, key, f"must be one of {options}, got {value!r}")
    return value
