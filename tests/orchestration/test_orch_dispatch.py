"""Per-stage dispatch with real parts: a Prefect server, two real `prefect worker` processes in
two checkouts of their own (standing in for two machines), a DVC remote in a local folder, and
the toy DAG. The tests run in file order: the last one kills a worker."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from orch_toyproject import (FAILURE_STAGES, OUTPUTS, STAGES, dvc, dvc_status, git, make_toy_repo,
                             read_runlog)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prefect")]  # one worker: one server

POOL = "stages"
GATEDVAE = [sys.executable, "-m", "gatedvae.cli"]
PREFECT = str(Path(sys.executable).parent / "prefect")


def _start_worker(name: str, checkout: Path, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([*GATEDVAE, "flow", "worker", "--pool", POOL, "--checkout", str(checkout),
                             "--slots", "1", "--name", name],
                            cwd=checkout.parent, env=env, stdout=open(log, "a"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _kill_tree(proc: subprocess.Popen) -> None:
    """Everything the worker started (flow run, DVC, the stage command) dies with it, as when
    its machine goes away."""
    try:
        parent = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        return
    for child in parent.children(recursive=True) + [parent]:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait()


def _wait_for_workers(names, timeout=90, pool=POOL):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import WorkerStatus

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            online = {w.name for w in client.read_workers_for_work_pool(pool)
                      if w.status == WorkerStatus.ONLINE}
            if set(names) <= online:
                return
            time.sleep(0.5)
    raise AssertionError(f"workers {names} did not come online")


@pytest.fixture(scope="module")
def fleet(prefect_server, tmp_path_factory):
    """The coordinator's checkout (toy DAG + failing stages off by default), a DVC remote, the
    pool with its stage deployment, and two workers in clones of their own."""
    from gatedvae.orchestration.stageflow import deploy_stage_flow

    base = tmp_path_factory.mktemp("dispatch")
    remote = base / "remote"
    remote.mkdir()
    coordinator = make_toy_repo(base / "coordinator")
    (coordinator / "params.yaml").write_text((coordinator / "params.yaml").read_text()
                                             .replace("sleep: 1.5", "sleep: 4"))
    dvc(coordinator, "remote", "add", "-d", "shared", str(remote))
    git(coordinator, "add", "-A")
    git(coordinator, "commit", "-qm", "shared DVC remote; training takes 4 s")
    runlog, state = base / "runlog.jsonl", base / "state"
    state.mkdir()
    env = dict(os.environ, PREFECT_API_URL=prefect_server["api_url"], TOY_RUNLOG=str(runlog),
               TOY_STATE=str(state), PREFECT_WORKER_QUERY_SECONDS="1",
               PREFECT_WORKER_HEARTBEAT_SECONDS="2", PREFECT_WORKER_PREFETCH_SECONDS="1")
    subprocess.run([PREFECT, "work-pool", "create", POOL, "--type", "process"], env=env,
                   check=True, capture_output=True)
    deploy_stage_flow(POOL)
    workers = {}
    for name in ("w1", "w2"):
        checkout = base / name
        git(base, "clone", "-q", str(coordinator), str(checkout))
        workers[name] = _start_worker(name, checkout, env, base / f"{name}.log")
    _wait_for_workers(workers)
    os.environ["TOY_RUNLOG"], os.environ["TOY_STATE"] = str(runlog), str(state)
    yield SimpleNamespace(base=base, coordinator=coordinator, remote=remote, runlog=runlog,
                          state=state, env=env, workers=workers)
    for proc in workers.values():
        _kill_tree(proc)
    for key in ("TOY_RUNLOG", "TOY_STATE"):
        os.environ.pop(key, None)


def dispatch(fleet, **params):
    from gatedvae.orchestration.dispatch import dvc_dispatch

    # 12 s without a heartbeat (6 of them, every 2 s): the PostgreSQL-backed test server records
    # each one (SQLite dropped some under load, so this was 20 s); the margin is for a CPU loaded
    # by the other test worker
    params = {"pool": POOL, "repo": str(fleet.coordinator), "poll_seconds": 0.5,
              "lost_after_seconds": 12.0, **params}
    started = time.monotonic()
    state = dvc_dispatch(**params, return_state=True)
    return state, state.result(raise_on_failure=False), time.monotonic() - started


def _worker_logs(fleet) -> str:
    return "\n".join((fleet.base / f"{n}.log").read_text()[-3000:] for n in fleet.workers)


def test_stages_run_on_both_workers_and_the_coordinator_matches_a_plain_repro(fleet):
    state, summary, seconds = dispatch(fleet)
    assert state.is_completed(), f"{summary}\n{_worker_logs(fleet)}"
    print(f"dispatch with two workers: {seconds:.1f} s")
    assert list(summary) == STAGES
    assert {e["action"] for e in summary.values()} == {"ran"}
    assert {e["worker"] for e in summary.values()} == {"w1", "w2"}  # the fan-out reached both
    assert sorted(r["stage"] for r in read_runlog(fleet.runlog)) == sorted(STAGES)  # each ran once
    assert dvc_status(fleet.coordinator) == {}

    # A plain `dvc repro` of the same commit, elsewhere, writes the same dvc.lock and outputs.
    plain = fleet.base / "plain"
    git(fleet.base, "clone", "-q", str(fleet.coordinator), str(plain))
    env_runlog = os.environ["TOY_RUNLOG"]
    os.environ["TOY_RUNLOG"] = str(fleet.base / "plain-runlog.jsonl")
    try:
        dvc(plain, "repro")
    finally:
        os.environ["TOY_RUNLOG"] = env_runlog
    assert (fleet.coordinator / "dvc.lock").read_text() == (plain / "dvc.lock").read_text()
    for rel in OUTPUTS:
        assert (fleet.coordinator / rel).read_bytes() == (plain / rel).read_bytes(), rel


def test_a_second_dispatch_of_the_same_commit_is_all_cached(fleet):
    before = read_runlog(fleet.runlog)
    state, summary, seconds = dispatch(fleet)
    assert state.is_completed(), summary
    print(f"second dispatch: {seconds:.1f} s")
    assert {e["action"] for e in summary.values()} == {"cached"}
    assert read_runlog(fleet.runlog) == before


def test_uncommitted_changes_are_refused(fleet):
    params = fleet.coordinator / "params.yaml"
    text = params.read_text()
    params.write_text(text.replace("k: 3", "k: 4"))
    try:
        state, result, _ = dispatch(fleet)
    finally:
        params.write_text(text)
    assert state.is_failed()
    assert "uncommitted changes (params.yaml)" in str(result) and "commit (and push) first" in str(result)


def test_a_pool_without_its_stage_deployment_is_named(fleet):
    state, result, _ = dispatch(fleet, pool="nowhere")
    assert state.is_failed()
    assert "no stage deployment for work pool 'nowhere': run `gatedvae flow deploy-stages --pool nowhere`" in str(result)


def test_a_real_failure_fails_once_and_independent_branches_go_on(fleet):
    (fleet.coordinator / "dvc.yaml").write_text((fleet.coordinator / "dvc.yaml").read_text() + FAILURE_STAGES)
    git(fleet.coordinator, "add", "-A")
    git(fleet.coordinator, "commit", "-qm", "stages that fail")
    (fleet.state / "broken.fail").write_text("")
    try:
        state, result, _ = dispatch(fleet, targets=["broken", "after_broken", "other"])
    finally:
        (fleet.state / "broken.fail").unlink()
    assert state.is_failed()
    assert "broken (Failed)" in str(result) and "after_broken (NotReady)" in str(result)
    assert (fleet.state / "broken.n").read_text() == "1"  # not retried: the command failed
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name={"like_": "broken @"}))
    assert len(runs) == 1 and runs[0].state.is_failed()
    assert "the answer was 41, expected 42" in runs[0].state.message  # the log tail
    assert dvc_status(fleet.coordinator, "other") == {}  # the independent branch is done


def test_a_restarted_coordinator_adopts_the_stages_in_flight(fleet):
    """The coordinator process dies mid-run; started again at the same commit it waits for the
    stage flow runs already going and nothing runs twice."""
    params = fleet.coordinator / "params.yaml"
    params.write_text(re.sub(r"sleep: [0-9.]+", "sleep: 8", params.read_text()))
    git(fleet.coordinator, "commit", "-qam", "training takes 8 s")
    before = len(read_runlog(fleet.runlog))
    env = dict(fleet.env, TOY_RUNLOG=str(fleet.runlog), TOY_STATE=str(fleet.state))
    first = subprocess.Popen([*GATEDVAE, "flow", "run", "--dispatch", POOL, "--repo", str(fleet.coordinator)],
                             cwd=fleet.coordinator, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # both training stages handed out (running, or already done) before the coordinator dies:
        # killing it at the first would leave the second to the new coordinator, which then runs it
        # once, correctly, but adopts nothing
        commit = git(fleet.coordinator, "rev-parse", "HEAD").stdout.strip()[:8]  # runs of this commit only
        for stage in ("train@a-0", "train@b-0"):
            _wait_for_running(f"{stage} @ {commit}", timeout=120, states=("RUNNING", "COMPLETED"))
    finally:
        _kill_tree(first)  # the coordinator only: the workers go on
    state, summary, seconds = dispatch(fleet)
    assert state.is_completed(), f"{summary}\n{_worker_logs(fleet)}"
    ran = [r["stage"] for r in read_runlog(fleet.runlog)[before:]]
    assert sorted(ran) == sorted(set(ran)), ran  # nothing ran twice
    assert {"train@a-0", "train@b-0"} <= set(ran)
    assert {summary[s]["action"] for s in ("train@a-0", "train@b-0")} == {"cached"}  # adopted
    assert dvc_status(fleet.coordinator) == {}


def test_slots_per_gpu_share_one_card_on_a_machine(fleet):
    """A third worker with one GPU and two slots: with --slots-per-gpu 2 both training stages
    run on it at once, on the same card; with 1 they take turns (the machine's lock files)."""
    from gatedvae.orchestration.gpu import LOCK_DIR_ENV, places_held

    checkout = fleet.base / "gpubox"
    git(fleet.base, "clone", "-q", str(fleet.coordinator), str(checkout))
    subprocess.run([PREFECT, "work-pool", "create", "gpubox", "--type", "process"], env=fleet.env,
                   check=True, capture_output=True)
    from gatedvae.orchestration.stageflow import deploy_stage_flow

    deploy_stage_flow("gpubox")
    locks = fleet.base / "gpu-locks"
    env = dict(fleet.env, CUDA_VISIBLE_DEVICES="0", **{LOCK_DIR_ENV: str(locks)})
    proc = subprocess.Popen([*GATEDVAE, "flow", "worker", "--pool", "gpubox", "--checkout", str(checkout),
                             "--slots", "2", "--name", "gpubox"], cwd=fleet.base, env=env,
                            stdout=open(fleet.base / "gpubox.log", "a"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_for_workers(["gpubox"], pool="gpubox")

        def trains_overlap(slots: int) -> bool:
            before = len(read_runlog(fleet.runlog))
            state, summary, _ = dispatch(fleet, pool="gpubox", force=True, slots_per_gpu=slots,
                                         targets=["train"], gpu_limit=None)
            assert state.is_completed(), f"{summary}\n{(fleet.base / 'gpubox.log').read_text()[-3000:]}"
            trains = [r for r in read_runlog(fleet.runlog)[before:] if r["stage"].startswith("train@")]
            assert [r["cuda"] for r in trains] == ["0", "0"]
            a, b = sorted(trains, key=lambda r: r["start"])
            return a["end"] > b["start"]

        # 2 per GPU lets both run at once; 1 per GPU must never overlap. One try each: with SQLite
        # the test server once delayed a stage's start past the other's 8 s ("database is
        # locked"), so this took up to 3 tries; the PostgreSQL-backed server removed the cause.
        assert trains_overlap(2), "with 2 stages per GPU the two did not overlap"
        assert not trains_overlap(1)
        assert sorted(p.name for p in locks.iterdir()) == ["gpu0-place0.lock", "gpu0-place1.lock"]
        assert places_held(["0"], 2, lock_dir=locks) == []  # every place given back
    finally:
        _kill_tree(proc)


def _wait_for_running(prefix: str, timeout: float, states: tuple[str, ...] = ("RUNNING",)) -> str:
    """The worker of the first stage flow run named `prefix...` seen running (or in `states`)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                name={"like_": prefix}, state={"type": {"any_": list(states)}}))
            for run in runs:
                worker = (run.labels or {}).get("prefect.worker.name")
                if worker:
                    return worker
            time.sleep(0.5)
    raise AssertionError(f"no flow run {prefix}... seen in {states}")


def _remote_is_whole(remote: Path) -> None:
    """Every object in the DVC remote hashes to its name: nothing half-written."""
    objects = [p for p in (remote / "files" / "md5").rglob("*") if p.is_file()]
    assert objects
    for path in objects:
        name = path.parent.name + path.name.removesuffix(".dir")
        data = path.read_bytes()
        digest = hashlib.md5(data).hexdigest()
        if path.name.endswith(".dir"):
            assert json.loads(data) is not None
        assert digest == name, path


def test_a_lost_worker_mid_stage_ends_with_the_stage_done_by_the_other(fleet):
    params = fleet.coordinator / "params.yaml"
    params.write_text(re.sub(r"sleep: [0-9.]+", "sleep: 12", params.read_text()))
    git(fleet.coordinator, "commit", "-qam", "training takes 12 s")
    result = {}
    thread = threading.Thread(target=lambda: result.update(zip(("state", "summary", "seconds"),
                                                               dispatch(fleet))))
    thread.start()
    victim = _wait_for_running("train@a-0 @", timeout=120)
    time.sleep(2)  # well inside the 12 s stage
    _kill_tree(fleet.workers[victim])
    thread.join(timeout=300)
    assert not thread.is_alive()
    summary = result["summary"]
    assert result["state"].is_completed(), f"{summary}\n{_worker_logs(fleet)}"
    print(f"dispatch with a worker lost mid-stage: {result['seconds']:.1f} s")
    survivor = ({"w1", "w2"} - {victim}).pop()
    assert summary["train@a-0"]["attempts"] == 2 and summary["train@a-0"]["worker"] == survivor
    assert dvc_status(fleet.coordinator) == {}
    _remote_is_whole(fleet.remote)
    _remote_is_whole(fleet.coordinator / ".dvc" / "cache")
