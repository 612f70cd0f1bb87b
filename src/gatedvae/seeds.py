"""Seeds summarised the same way for every dataset: mean, std and n per arm, and the paired
gated - un-gated difference with its 95% interval (dSprites' Table I and the faces main runs).

Runs are {"model", "gating": "gated" | "ungated" | "pairs", "seed", "metrics": nested dict of
numbers} ("pairs": a pair method's runs, docs/baselines.md).
`aggregate_runs` returns, per model:
  <model>.<gated|ungated>.<leaf path>.{mean, std, n}   std with ddof=1; 0.0 when n == 1
  <model>.gated_minus_ungated.<leaf path>.{mean, ci95_low, ci95_high, excludes_zero, n}
where the paired difference uses only the seeds present in both arms (a leaf with no common
seed is left out), the interval is Student's t (null when n == 1; excludes_zero is then null
too), and the top-level `n_seeds` counts the distinct seeds over all runs. Lists inside metrics
are flattened by position ("per_code.3"), so they aggregate too and come back as dicts keyed
"0", "1", ...
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from gatedvae.training.config import GATINGS, PAIRS

PAIRED = "gated_minus_ungated"


# --- nested <-> flat ---------------------------------------------------------------------------

def flatten(nested: Mapping, sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1, "c": [2, 3]}} -> {"a.b": 1, "a.c.0": 2, "a.c.1": 3}."""
    flat: dict[str, Any] = {}
    items = nested.items() if isinstance(nested, Mapping) else enumerate(nested)
    for key, value in items:
        key = str(key)
        if sep in key:
            raise ValueError(f"key {prefix + key!r} contains the separator {sep!r}")
        path = f"{prefix}{key}"
        if isinstance(value, (Mapping, list, tuple)):
            if len(value) == 0:
                raise ValueError(f"{path}: empty {type(value).__name__}; nothing to aggregate")
            flat.update(flatten(value, sep, path + sep))
        else:
            flat[path] = value
    return flat


def nest(flat: Mapping[str, Any], sep: str = ".") -> dict:
    """Inverse of flatten (lists come back as dicts keyed by position)."""
    out: dict = {}
    for path, value in flat.items():
        node = out
        parts = path.split(sep)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{path}: {part!r} is both a value and a group")
        if parts[-1] in node:
            raise ValueError(f"{path}: given twice, or both a value and a group")
        node[parts[-1]] = value
    return out


# --- aggregation -------------------------------------------------------------------------------

def _t_quantile_975(dof: int) -> float:
    # scikit-learn depends on scipy, so it is always installed with this package
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def _checked_runs(runs: Iterable[Mapping]) -> list[tuple[str, str, int, dict[str, float]]]:
    checked, seen = [], {}
    for i, run in enumerate(runs):
        where = f"runs[{i}]"
        if not isinstance(run, Mapping) or not {"model", "gating", "seed", "metrics"} <= set(run):
            raise ValueError(f"{where}: expected a dict with model, gating, seed and metrics")
        model, gating, seed = run["model"], run["gating"], run["seed"]
        if not isinstance(model, str) or not model or "." in model or model == "n_seeds":
            raise ValueError(f"{where}: model must be a non-empty name without dots (not 'n_seeds'), got {model!r}")
        if gating not in (*GATINGS, PAIRS):
            raise ValueError(f"{where}: gating must be one of {(*GATINGS, PAIRS)}, got {gating!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"{where}: seed must be an integer, got {seed!r}")
        where = f"{where} ({model}, {gating}, seed {seed})"
        if (model, gating, int(seed)) in seen:
            raise ValueError(f"{where}: duplicates runs[{seen[(model, gating, int(seed))]}]")
        seen[(model, gating, int(seed))] = i
        if not isinstance(run["metrics"], Mapping) or not run["metrics"]:
            raise ValueError(f"{where}: metrics must be a non-empty nested dict of numbers")
        flat = flatten(run["metrics"])
        for path, value in flat.items():
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not ok or not math.isfinite(value):
                raise ValueError(f"{where}: metrics.{path} is {value!r}; expected a finite number")
        checked.append((model, gating, int(seed), {p: float(v) for p, v in flat.items()}))
    if not checked:
        raise ValueError("runs: nothing to aggregate")
    return checked


def summary(values: list[float]) -> dict:
    """Mean, std (ddof=1; 0.0 for one value) and n."""
    n = len(values)
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if n > 1 else 0.0, "n": n}


def paired_interval(diffs: list[float]) -> dict:
    """Mean of paired differences with its 95% Student's t interval, and whether the interval
    excludes zero (None with one pair: no interval)."""
    n, mean = len(diffs), float(np.mean(diffs))
    if n == 1:
        return {"mean": mean, "ci95_low": None, "ci95_high": None, "excludes_zero": None, "n": 1}
    half = _t_quantile_975(n - 1) * float(np.std(diffs, ddof=1)) / math.sqrt(n)
    low, high = mean - half, mean + half
    return {"mean": mean, "ci95_low": low, "ci95_high": high, "excludes_zero": bool(low > 0 or high < 0),
            "n": n}


def _paired(a: Mapping[str, dict[int, float]], b: Mapping[str, dict[int, float]]) -> dict:
    """The nested paired a - b interval per leaf over the seeds both arms have (else {})."""
    paired = {}
    for path in a.keys() & b.keys():
        common = sorted(a[path].keys() & b[path].keys())
        if common:
            for stat, v in paired_interval([a[path][s] - b[path][s] for s in common]).items():
                paired[f"{path}.{stat}"] = v
    return nest(dict(sorted(paired.items()))) if paired else {}


def aggregate_runs(runs: Iterable[Mapping], pairs_reference: tuple[str, str] | None = None) -> dict:
    """Mean/std/n per model, gating and metric leaf, and the paired gated-minus-ungated CI.

    Runs with gating `pairs` (the pair methods) are one arm of their method; with
    pairs_reference (model, gating), e.g. ("beta_vae", "gated"), each such method also gets
    <method>.pairs_minus_<gating>: its paired difference from that arm, seed by seed."""
    by_arm: dict[tuple[str, str], dict[str, dict[int, float]]] = {}
    seeds = set()
    for model, gating, seed, flat in _checked_runs(runs):
        seeds.add(seed)
        arm = by_arm.setdefault((model, gating), {})
        for path, value in flat.items():
            arm.setdefault(path, {})[seed] = value

    out: dict = {"n_seeds": len(seeds)}
    for model in sorted({m for m, _ in by_arm}):
        result = out[model] = {}
        arms = {g: by_arm.get((model, g), {}) for g in (*GATINGS, PAIRS)}
        for gating, leaves in arms.items():
            if leaves:
                result[gating] = nest(
                    {f"{path}.{stat}": v for path, by_seed in leaves.items() for stat, v in summary(list(by_seed.values())).items()}
                )
        paired = _paired(arms["gated"], arms["ungated"])
        if paired:
            result[PAIRED] = paired
        if arms[PAIRS] and pairs_reference is not None:
            versus = _paired(arms[PAIRS], by_arm.get(pairs_reference, {}))
            if versus:
                result[f"{PAIRS}_minus_{pairs_reference[1]}"] = versus
    return out
