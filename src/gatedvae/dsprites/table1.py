"""dSprites' runs aggregated over seeds (gatedvae.seeds) and compared with the paper's Table I."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from gatedvae.evaluation.settings import REGRESSORS
from gatedvae.seeds import PAIRED

# the paper CSV's regressor names -> ours
REGRESSOR_KEYS = {name: key for key, name in REGRESSORS.items()}
# metric -> (paper CSV column stem, True when higher is better)
TABLE1_METRICS = {
    "disentanglement": ("disentanglement", True),
    "completeness": ("completeness", True),
    "informativeness": ("informativeness_nrmse", False),
}
SHORT = {"disentanglement": "D", "completeness": "C", "informativeness": "I (NRMSE)"}


# --- the paper's tables ------------------------------------------------------------------------

def _read_reference(path: str | Path, value_columns: list[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found (the paper's table; see reference/README.md)")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ["regressor", "model", "gated", *value_columns] if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    for i, row in frame.iterrows():
        line = f"{path}, line {i + 2}"
        if row["regressor"] not in REGRESSOR_KEYS:
            raise ValueError(f"{line}: regressor {row['regressor']!r}, expected one of {list(REGRESSOR_KEYS)}")
        if row["gated"].lower() not in ("true", "false"):
            raise ValueError(f"{line}: gated {row['gated']!r}, expected true or false")
        for column in value_columns:
            try:
                finite = math.isfinite(float(row[column]))
            except ValueError:
                finite = False
            if not finite:
                raise ValueError(f"{line}: {column} {row[column]!r} is not a finite number")
    frame["gated"] = frame["gated"].str.lower() == "true"
    frame[value_columns] = frame[value_columns].astype(float)
    duplicated = frame.duplicated(["regressor", "model", "gated"])
    if duplicated.any():
        raise ValueError(f"{path}, line {int(np.flatnonzero(duplicated)[0]) + 2}: repeats a regressor/model/gated row")
    return frame


def paper_table(path: str | Path) -> pd.DataFrame:
    """Table I (reference/paper_table1.csv): regressor, model, gated (bool), <metric>_mean/_std."""
    stems = [stem for stem, _ in TABLE1_METRICS.values()]
    return _read_reference(path, [f"{s}_{stat}" for s in stems for stat in ("mean", "std")])


def paper_informativeness_per_factor(path: str | Path) -> pd.DataFrame:
    """Supplementary Table 2 (NRMSE per factor) as a frame with gated as bool."""
    return _read_reference(path, ["shape", "scale", "orientation", "pos_x", "pos_y", "weighted_avg"])


# --- side by side ------------------------------------------------------------------------------

def _our_stats(aggregated: Mapping, model: str, gating: str, regressor: str, metric: str) -> dict | None:
    """{"mean", "std", "n"} at <model>.<gating>.<regressor>.<metric>, or at .<metric>.avg (the
    layout of DCIResult.to_dict); None when absent."""
    node = aggregated.get(model, {}).get(gating, {}).get(regressor, {}).get(metric)
    if isinstance(node, Mapping) and "mean" not in node:
        node = node.get("avg")
    return node if isinstance(node, Mapping) and "mean" in node else None


def paired_stats(aggregated: Mapping, model: str, regressor: str, metric: str, key: str = PAIRED) -> dict | None:
    """The paired {"mean", "ci95_low", "ci95_high", "excludes_zero", "n"} of one Table I cell
    pair (key: gated_minus_ungated, or a pair method's pairs_minus_gated), or None when absent."""
    node = aggregated.get(model, {}).get(key, {}).get(regressor, {}).get(metric)
    if isinstance(node, Mapping) and "mean" not in node:
        node = node.get("avg")
    return node if isinstance(node, Mapping) and "mean" in node else None


def interval_verdict(paired: Mapping | None) -> str | None:
    """'excludes 0', 'includes 0' or 'no interval' (one seed); None without a paired result."""
    if paired is None:
        return None
    if paired.get("excludes_zero") is None:
        return "no interval"
    return "excludes 0" if paired["excludes_zero"] else "includes 0"


def _direction(gated: float, ungated: float, higher_is_better: bool) -> str:
    if gated == ungated:
        return "equal"
    return "gated better" if (gated > ungated) == higher_is_better else "gated worse"


def direction_agreement(aggregated: Mapping, paper: pd.DataFrame) -> pd.DataFrame:
    """One row per Table I comparison (regressor x model x metric; 18 for the paper's table):
    the paper's gated-vs-ungated direction (gated better = higher D, higher C, lower I), ours
    from the seed means, whether they agree (None where we lack either arm), and whether the
    95% interval of the paired difference excludes zero (`interval`, see interval_verdict)."""
    rows = []
    for (regressor, model), group in paper.groupby(["regressor", "model"], sort=False):
        by_gated = {bool(g): r for g, r in zip(group["gated"], group.to_dict("records"))}
        if set(by_gated) != {True, False}:
            continue
        ours_key = REGRESSOR_KEYS[regressor]
        for metric, (stem, higher) in TABLE1_METRICS.items():
            paper_dir = _direction(by_gated[True][f"{stem}_mean"], by_gated[False][f"{stem}_mean"], higher)
            gated = _our_stats(aggregated, model, "gated", ours_key, metric)
            ungated = _our_stats(aggregated, model, "ungated", ours_key, metric)
            ours_dir = _direction(gated["mean"], ungated["mean"], higher) if gated and ungated else None
            paired = paired_stats(aggregated, model, ours_key, metric)
            rows.append(
                {
                    "regressor": regressor,
                    "model": model,
                    "metric": metric,
                    "paper": paper_dir,
                    "ours": ours_dir,
                    "agree": None if ours_dir is None else ours_dir == paper_dir,
                    "interval": interval_verdict(paired),
                    "paired": paired,
                }
            )
    # object dtype keeps None as None (string dtypes would turn it into NaN)
    return pd.DataFrame(rows, columns=["regressor", "model", "metric", "paper", "ours", "agree",
                                       "interval", "paired"], dtype=object)


def agreement_counts(agreement: pd.DataFrame) -> dict:
    """{metric: {"agree", "agree_excluding_zero", "compared", "in_table"}} plus "overall"; plain
    numbers for JSON."""
    def count(frame):
        compared = frame["agree"].notna()
        agreeing = frame.loc[compared, "agree"].astype(bool)
        significant = frame.loc[compared, "interval"] == "excludes 0"
        return {
            "agree": int(agreeing.sum()),
            "agree_excluding_zero": int((agreeing & significant).sum()),
            "compared": int(compared.sum()),
            "in_table": int(len(frame)),
        }

    counts = {metric: count(agreement[agreement["metric"] == metric]) for metric in TABLE1_METRICS}
    counts["overall"] = count(agreement)
    return counts


def _cell(stats: Mapping | None) -> str:
    if stats is None:
        return "–"
    if stats["n"] > 1:
        return f"{stats['mean']:.3f} ± {stats['std']:.3f} (n={stats['n']})"
    return f"{stats['mean']:.3f} (n=1)"


def _interval_text(paired: Mapping | None) -> str:
    if paired is None:
        return ""
    if paired.get("ci95_low") is None:
        return f"; Δ {paired['mean']:+.3f}, n={paired['n']}: no interval"
    verdict = "**excludes 0**" if paired["excludes_zero"] else "includes 0"
    return f"; Δ {paired['mean']:+.3f} [{paired['ci95_low']:+.3f}, {paired['ci95_high']:+.3f}] {verdict}"


def side_by_side_markdown(aggregated: Mapping, paper: pd.DataFrame) -> str:
    """Markdown: our Table I next to the paper's, then per model and regressor whether the
    gated-vs-ungated direction agrees with the paper's, with counts of what was compared."""
    head = ["Regressor", "Model", "Gated"]
    for metric in TABLE1_METRICS:
        head += [f"{SHORT[metric]} ours", f"{SHORT[metric]} paper"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in paper.to_dict("records"):
        gating = "gated" if row["gated"] else "ungated"
        cells = [row["regressor"], row["model"], "yes" if row["gated"] else "no"]
        for metric, (stem, _) in TABLE1_METRICS.items():
            ours = _our_stats(aggregated, row["model"], gating, REGRESSOR_KEYS[row["regressor"]], metric)
            cells += [_cell(ours), f"{row[f'{stem}_mean']:.3f} ± {row[f'{stem}_std']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")

    agreement = direction_agreement(aggregated, paper)
    head = ["Regressor", "Model"] + [f"{SHORT[m]}: paper / ours" for m in TABLE1_METRICS]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (regressor, model), group in agreement.groupby(["regressor", "model"], sort=False):
        cells = [regressor, model]
        for r in group.to_dict("records"):
            mark = "n/a" if r["agree"] is None else ("agrees" if r["agree"] else "DISAGREES")
            cells.append(f"{r['paper']} / {r['ours'] or '–'} ({mark}){_interval_text(r['paired'])}")
        lines.append("| " + " | ".join(cells) + " |")

    counts = agreement_counts(agreement)
    total = counts["overall"]["in_table"]
    paper_worse = agreement[agreement["paper"] != "gated better"]
    lines += [
        "",
        f"Directions of the gated-vs-un-gated difference that agree with the paper's Table I: "
        f"{counts['overall']['agree']} of {counts['overall']['compared']} compared, "
        f"{counts['overall']['agree_excluding_zero']} of them with a 95% interval of the paired "
        f"difference that excludes zero ({total} in the table: models x regressors x metrics D, C, I; "
        "a comparison counts only where both our gated and un-gated results exist; 'gated better' "
        "means higher D, higher C, lower NRMSE; Δ is gated minus un-gated, paired by seed).",
    ]
    for metric in TABLE1_METRICS:
        c = counts[metric]
        lines.append(f"- {metric}: {c['agree']} of {c['compared']} compared agree, "
                     f"{c['agree_excluding_zero']} with the interval excluding zero "
                     f"({c['in_table']} in the table)")
    if len(paper_worse):
        where = ", ".join(f"{r.model} {r.regressor} {r.metric}" for r in paper_worse.itertuples())
        lines.append(f"- the paper itself does not report gated better for: {where}")
    return "\n".join(lines) + "\n"


# --- the pair methods beside Table I -----------------------------------------------------------

# the arm every pair method is paired with, seed by seed: the same beta-VAE ELBO, gated
BASELINE_REFERENCE = ("beta_vae", "gated")
VERSUS = f"pairs_minus_{BASELINE_REFERENCE[1]}"  # gatedvae.seeds.aggregate_runs' key


def baseline_verdict(paired: Mapping | None, higher_is_better: bool, method: str) -> str:
    """Who wins one cell: '<method> better' / 'gated better' where the paired interval excludes
    zero, 'no clear difference' where it includes it, 'n=1' without an interval."""
    if paired is None:
        return "–"
    if paired.get("excludes_zero") is None:
        return "n=1: no interval"
    if not paired["excludes_zero"]:
        return "no clear difference"
    return f"{method} better" if (paired["mean"] > 0) == higher_is_better else "gated better"


def baselines_markdown(aggregated: Mapping, methods: list[str]) -> str:
    """The pair methods' Table I cells beside the gated and un-gated beta-VAE, with each method's
    paired difference from the gated beta-VAE (Δ = method - gated) and who wins where."""
    model, _ = BASELINE_REFERENCE
    head = ["Regressor", "Run"] + [SHORT[m] for m in TABLE1_METRICS]
    lines = ["Pair methods beside the gated beta-VAE (same pairs, beta, budget; docs/baselines.md). "
             "Δ: the method minus the gated beta-VAE, paired by seed, with its 95% interval.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    for regressor, name in REGRESSORS.items():
        for label, (arm_model, gating) in [(f"{model} gated", (model, "gated")),
                                           (f"{model} un-gated", (model, "ungated"))]:
            cells = [name, label] + [_cell(_our_stats(aggregated, arm_model, gating, regressor, m))
                                     for m in TABLE1_METRICS]
            lines.append("| " + " | ".join(cells) + " |")
        for method in methods:
            cells = [name, method]
            for metric, (_, higher) in TABLE1_METRICS.items():
                paired = paired_stats(aggregated, method, regressor, metric, key=VERSUS)
                cells.append(_cell(_our_stats(aggregated, method, "pairs", regressor, metric))
                             + _interval_text(paired).replace("; Δ", "<br>Δ"))
                verdicts.append((method, name, metric, baseline_verdict(paired, higher, method)))
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Who wins where (the paired interval decides; 'no clear difference' where it includes 0):"]
    for method in methods:
        mine = [v for v in verdicts if v[0] == method]
        lines.append(f"- {method}: " + "; ".join(f"{regressor} {SHORT[metric]}: {verdict}"
                                                  for _, regressor, metric, verdict in mine))
    return "\n".join(lines) + "\n"

