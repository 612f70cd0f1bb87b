"""params.yaml's `studies` section, checked whole: every list is a DVC matrix, so an empty or
repeated value would silently drop or merge study members (an empty `betas` removes the beta
sweep from the DAG). No torch import."""

from __future__ import annotations

from gatedvae.params import check, get, number, unrecorded

KEY = "studies"


def values(params: dict, key: str, *, integer: bool = False, low: float | None = None,
           high: float | None = None) -> list:
    """A non-empty list of distinct numbers (integers), each within [low, high]."""
    listed = get(params, key)
    kind = "integers" if integer else "numbers"
    ok = isinstance(listed, list) and listed and all(
        (isinstance(v, int) if integer else isinstance(v, (int, float))) and not isinstance(v, bool)
        for v in listed)
    check(ok, key, f"must be a non-empty list of {kind} (each is a DVC matrix member), got {listed!r}")
    check(len(set(listed)) == len(listed), key, f"lists a value twice: {listed!r} (DVC runs it once)")
    for v in listed:
        check((low is None or v >= low) and (high is None or v <= high), key,
              f"must hold values in [{low if low is not None else '-inf'}, "
              f"{high if high is not None else 'inf'}], got {v!r}")
    return list(listed)


def check_studies(params: dict) -> None:
    """Validate every study list and budget at once."""
    with unrecorded(params):
        check(isinstance(get(params, KEY), dict), KEY, "must be a mapping")
        number(params, f"{KEY}.epochs", integer=True, positive=True)
        values(params, f"{KEY}.beta_sweep.betas", low=0)
        values(params, f"{KEY}.beta_sweep.seeds", integer=True, low=0)
        values(params, f"{KEY}.noise.fractions", low=0, high=1)
        values(params, f"{KEY}.noise.seeds", integer=True, low=0)
        values(params, f"{KEY}.faces_clusters.counts", integer=True, low=2)
        values(params, f"{KEY}.faces_clusters.seeds", integer=True, low=0)
        number(params, f"{KEY}.faces_clusters.epochs", integer=True, positive=True)
        values(params, f"{KEY}.curve.epochs", integer=True, low=1)
        number(params, f"{KEY}.curve.hidden", integer=True, positive=True)
        values(params, f"{KEY}.curve.seeds", integer=True, low=0)
