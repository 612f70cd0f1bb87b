"""Where the pipeline's time went: the stages' timing records (gatedvae.timing) summed per stage.

Each stage run leaves reports/timings/<stage>[@<matrix key>].json; a stage DVC skipped keeps the
record of the run that made its outputs. So the table describes the runs behind the results shown,
and the span from the first start to the last finish is the wall time of the `dvc repro` that
made them when every stage ran in it (then `all in one repro` says so).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Columns in this order; any other phase a stage reports comes after them.
PHASE_ORDER = ("training", "fine-tuning", "encoding", "DCI (lasso)", "DCI (rf)", "FactorVAE metric",
               "beta-VAE metric", "MIG", "test ELBO", "figures")


def read_records(folder: Path) -> list[dict]:
    """Every stage record in folder, sorted by stage name; a malformed file is an error naming it."""
    records = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            float(record["total_s"]), float(record["startup_s"]), float(record["other_s"])
            dict(record["phases_s"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a stage timing record (gatedvae.timing): {e}") from e
        records.append(record)
    return records


def stage_kind(name: str) -> str:
    """dsprites_train@beta_vae-gated-0 -> dsprites_train."""
    return name.split("@", 1)[0]


def phase_names(records: list[dict]) -> list[str]:
    seen = {p for r in records for p in r["phases_s"]}
    return [p for p in PHASE_ORDER if p in seen] + sorted(seen - set(PHASE_ORDER))


def per_stage(records: list[dict]) -> list[dict]:
    """One row per stage kind, in order of first start: runs, and seconds in total, in start-up,
    in each phase and in the rest."""
    phases = phase_names(records)
    rows: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: r["started_at"]):
        row = rows.setdefault(stage_kind(r["stage"]), {"stage": stage_kind(r["stage"]), "runs": 0,
                                                       "total": 0.0, "start-up": 0.0,
                                                       **{p: 0.0 for p in phases}, "other": 0.0})
        row["runs"] += 1
        row["total"] += r["total_s"]
        row["start-up"] += r["startup_s"]
        row["other"] += r["other_s"]
        for p, seconds in r["phases_s"].items():
            row[p] += seconds
    return list(rows.values())


def summary(records: list[dict]) -> dict:
    """Totals over every record: serial seconds, the wall span, and seconds per phase."""
    if not records:
        return {"stage_runs": 0}
    starts = [r["started_at"] for r in records]
    ends = [r["finished_at"] for r in records]
    serial = float(sum(r["total_s"] for r in records))
    by_phase = {"start-up": float(sum(r["startup_s"] for r in records))}
    for p in phase_names(records):
        by_phase[p] = float(sum(r["phases_s"].get(p, 0.0) for r in records))
    by_phase["other"] = float(sum(r["other_s"] for r in records))
    # one repro: each stage started after some other finished, no gap longer than the DVC overhead
    order = np.argsort(starts)
    gaps = [starts[order[i + 1]] - max(ends[j] for j in order[:i + 1]) for i in range(len(order) - 1)]
    return {"stage_runs": len(records), "serial_s": serial, "span_s": max(ends) - min(starts),
            "largest_gap_s": max(gaps, default=0.0), "by_phase_s": by_phase}


def latest_run(records: list[dict], gap_s: float = 60.0) -> tuple[list[dict], list[dict]]:
    """(records of the latest `dvc repro`, the older ones). One repro runs its stages back to
    back, so it is the last stretch of records in which each stage started within gap_s of the
    finish of those before it; a stage that repro found up to date keeps an older record."""
    if not records:
        return [], []
    ordered = sorted(records, key=lambda r: r["started_at"])
    first, finished = 0, ordered[0]["finished_at"]
    for i, r in enumerate(ordered[1:], start=1):
        if r["started_at"] - finished > gap_s:
            first = i
        finished = max(finished, r["finished_at"])
    return ordered[first:], ordered[:first]


def figure(rows: list[dict]):
    """Horizontal stacked bars: minutes per stage, split into start-up, phases and the rest."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [k for k in rows[0] if k not in ("stage", "runs", "total")] if rows else []
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.5))
    left = np.zeros(len(rows))
    colours = plt.get_cmap("tab20")
    for i, part in enumerate(parts):
        minutes = np.array([r[part] for r in rows]) / 60
        if minutes.sum() == 0:
            continue
        ax.barh([r["stage"] for r in rows], minutes, left=left, label=part, color=colours(i % 20))
        left += minutes
    ax.invert_yaxis()
    ax.set_xlabel("minutes (summed over a stage's runs)")
    ax.legend(fontsize=7, ncol=3, loc="lower right")
    fig.tight_layout()
    return fig
