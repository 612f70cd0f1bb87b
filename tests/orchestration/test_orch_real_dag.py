"""The repository's own dSprites DAG, at tiny scale, through the flow (real stages, real DVC).

The dSprites branch up to `dsprites_aggregate`, with one model in the sweep, keeps it to nine
stages: acquire, pairs, train/finetune/evaluate for the gated and un-gated runs, aggregate.
(The toy pipeline's tests cover the rest of the behaviour on a whole DAG, faster.)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

from orch_prefect import run_flow
from orch_toyproject import dvc, dvc_status

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dvc_project import copy_project  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prefect")]  # one worker: one server


def test_real_tiny_dsprites_dag_runs_through_the_flow(prefect_server, tmp_path):
    repo = copy_project(tmp_path / "repo", scale=None)  # the flow applies the scale itself
    # The copy's tiny scale sweeps one model (the flow applies the scale, as `--scale tiny` does).
    tiny = repo / "configs/scales/tiny.yaml"
    overlay = yaml.safe_load(tiny.read_text())
    overlay["dsprites"]["sweep"]["models"] = ["beta_vae"]
    tiny.write_text(yaml.safe_dump(overlay))

    started = time.monotonic()
    target = ["dsprites_aggregate"]
    state, summary, _ = run_flow(repo, scale="tiny", max_parallel=2, targets=target)
    print(f"real tiny dSprites branch (one model), first flow run: {time.monotonic() - started:.1f} s")
    assert state.is_completed(), summary
    assert yaml.safe_load((repo / "params.yaml").read_text())["dsprites"]["sweep"]["models"] == ["beta_vae"]
    runs = [f"{g}-0" for g in ("beta_vae-gated", "beta_vae-ungated")]
    baselines = [f"{m}-pairs-0" for m in yaml.safe_load((repo / "params.yaml").read_text())["dsprites"]["baselines"]["methods"]]
    expected = {"check_params", "dsprites_acquire", "dsprites_pairs", "dsprites_aggregate"} | {
        f"dsprites_{stage}@{run}" for stage in ("train", "finetune", "evaluate") for run in runs} | {
        f"dsprites_baseline_{stage}@{run}" for stage in ("train", "finetune", "evaluate") for run in baselines}
    assert set(summary) == expected
    assert {e["action"] for e in summary.values()} == {"ran"}
    assert (repo / "reports/metrics/dsprites.json").exists()
    assert dvc_status(repo, *target, "--with-deps") == {}
    assert "Data and pipelines are up to date." in dvc(repo, "repro", *target).stdout

    started = time.monotonic()
    state, summary, _ = run_flow(repo, max_parallel=2, targets=target)
    print(f"real tiny dSprites branch (one model), cached second run: {time.monotonic() - started:.1f} s")
    assert state.is_completed(), summary
    assert {e["state"] for e in summary.values()} == {"Cached"}
