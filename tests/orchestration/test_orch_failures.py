"""Retries, a failing stage, and resuming a failed run, on a real server with real DVC."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from orch_prefect import flow_logs, run_flow, task_run_states
from orch_toyproject import FAILURE_STAGES, STAGES, dvc, dvc_status, make_toy_repo, read_runlog

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prefect")]  # one worker: one server

ALL = STAGES + ["flaky", "broken", "after_broken"]


@pytest.fixture(scope="module")
def failed_run(prefect_server, tmp_path_factory):
    """`flaky` fails its first attempt only; `broken` fails every attempt."""
    base = tmp_path_factory.mktemp("failures")
    root = make_toy_repo(base / "toy", extra_stages=FAILURE_STAGES)
    state_dir = base / "state"
    state_dir.mkdir()
    (state_dir / "flaky.fail").write_text("1")
    (state_dir / "broken.fail").write_text("")
    runlog = base / "runlog.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOY_RUNLOG", str(runlog))
        mp.setenv("TOY_STATE", str(state_dir))
        state, result, flow_run_id = run_flow(root, retries=0)
    return SimpleNamespace(root=root, state_dir=state_dir, runlog=runlog, state=state,
                           result=result, flow_run_id=flow_run_id)


def test_transient_failure_succeeds_on_retry(failed_run):
    assert (failed_run.state_dir / "flaky.n").read_text() == "2"  # two attempts
    runs = task_run_states(failed_run.flow_run_id, expected=len(ALL))
    assert runs["flaky"].state.name == "Completed"
    assert runs["flaky"].run_count == 2
    assert (failed_run.root / "data/flaky.txt").read_text() == "flaky\n"
    logs = flow_logs(failed_run.flow_run_id, must_contain="flaky: attempt 1 hit a transient fault")
    assert any(log.message == "flaky: attempt 1 hit a transient fault"
               and log.task_run_id == runs["flaky"].id for log in logs)


def test_failing_stage_fails_the_flow_with_its_output_in_the_task_log(failed_run):
    assert failed_run.state.is_failed()
    assert "1 stage(s) failed: broken; 1 not run: after_broken" in str(failed_run.result)
    runs = task_run_states(failed_run.flow_run_id, expected=len(ALL))
    assert runs["broken"].state.name == "Failed"
    assert runs["broken"].run_count == 1  # flow default retries=0 (no meta.retries)
    assert runs["after_broken"].state.name == "NotReady"
    # Stages that do not depend on it all finished.
    assert {n: runs[n].state.name for n in STAGES} == {n: "Completed" for n in STAGES}
    # The stage's own stdout and stderr lines are in its task run's log.
    logs = flow_logs(failed_run.flow_run_id, must_contain="the answer was 41")
    mine = [log.message for log in logs if log.task_run_id == runs["broken"].id]
    assert "broken: attempt 1 hit a transient fault" in mine
    assert "broken failed: the answer was 41, expected 42" in mine
    assert any("exited with status" in m for m in mine), mine
    # DVC recorded everything that succeeded, nothing of what failed.
    status = dvc_status(failed_run.root)
    assert sorted(status) == ["after_broken", "broken"]


def test_resuming_runs_only_the_unfinished_stages(failed_run, toy_env):
    # Depends on the failed run above; `broken` is fixed, and the flow runs again.
    (failed_run.state_dir / "broken.fail").unlink()
    state, summary, _ = run_flow(failed_run.root, retries=0)
    assert state.is_completed(), summary
    assert {n: e["state"] for n, e in summary.items()} == {
        **{n: "Cached" for n in STAGES + ["flaky"]},
        "broken": "Completed", "after_broken": "Completed"}
    assert [r["stage"] for r in read_runlog(toy_env["runlog"])] == ["broken"]
    assert (failed_run.root / "data/after.txt").read_text() == "broken\n"
    assert dvc_status(failed_run.root) == {}
    assert "Data and pipelines are up to date." in dvc(failed_run.root, "repro").stdout
