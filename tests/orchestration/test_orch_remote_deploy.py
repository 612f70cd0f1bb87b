"""Beyond one process: a DVC remote shared by two checkouts, and a deployment run by a worker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from gatedvae.orchestration.dispatch import DISPATCH_FLOW_NAME
from gatedvae.orchestration.flow import FLOW_NAME
from orch_prefect import run_flow
from orch_toyproject import OUTPUTS, STAGES, dvc, dvc_status, git, make_toy_repo, read_runlog

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("prefect")]  # one worker: one server

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")


def test_a_dvc_remote_lets_another_checkout_reuse_every_stage(prefect_server, tmp_path, toy_env):
    remote = tmp_path / "remote"
    remote.mkdir()
    first = make_toy_repo(tmp_path / "first")
    dvc(first, "remote", "add", "-d", "shared", str(remote))
    git(first, "commit", "-qam", "shared DVC remote")
    state, summary, _ = run_flow(first)
    assert state.is_completed(), summary
    assert {e["action"] for e in summary.values()} == {"ran"}
    assert (remote / "files" / "md5").is_dir() and (remote / "runs").is_dir()  # outs + run-cache
    git(first, "add", "-A")
    git(first, "commit", "-qm", "pipeline results")

    # Another machine: a fresh clone, empty DVC cache, same remote. No command runs again.
    toy_env["runlog"].unlink()
    second = tmp_path / "second"
    subprocess.run(["git", "clone", "-q", str(first), str(second)], check=True)
    state, summary, _ = run_flow(second)
    assert state.is_completed(), summary
    assert read_runlog(toy_env["runlog"]) == []
    assert all(e["action"] in ("cached", "run-cache", "up-to-date") for e in summary.values()), summary
    for rel in OUTPUTS:
        assert (second / rel).read_bytes() == (first / rel).read_bytes(), rel
    assert dvc_status(second) == {}


def _wait_for_final_state(flow_run_id, timeout: float):
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(flow_run_id)
            if run.state.is_final() or time.monotonic() > deadline:
                return run
            time.sleep(1)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_deployment_from_prefect_yaml_is_scheduled_and_run_by_a_process_worker(
        prefect_server, tmp_path, toy_env):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, FlowRunFilter
    from prefect.deployments import run_deployment

    root = make_toy_repo(tmp_path / "toy")
    shutil.copytree(REPO / "flows", root / "flows",
                    ignore=shutil.ignore_patterns("__pycache__"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "flows")
    env = dict(os.environ, PREFECT_API_URL=prefect_server["api_url"], GATEDVAE_REPO=str(root))

    def prefect(*args: str, cwd: Path = root) -> str:
        out = subprocess.run([PREFECT, *args], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=180)
        assert out.returncode == 0, f"prefect {args}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    prefect("work-pool", "create", "gpu", "--type", "process")
    prefect("--no-prompt", "deploy", "--all", "--prefect-file", "flows/prefect.yaml")

    spec = yaml.safe_load((root / "flows/prefect.yaml").read_text())
    with get_client(sync_client=True) as client:
        for entry in spec["deployments"]:
            flow_name = DISPATCH_FLOW_NAME if entry["entrypoint"].endswith(":dvc_dispatch") else FLOW_NAME
            deployment = client.read_deployment_by_name(f"{flow_name}/{entry['name']}")
            assert deployment.work_pool_name == entry["work_pool"]["name"] == "gpu"
            assert deployment.entrypoint == entry["entrypoint"]
            assert deployment.parameters == entry["parameters"]
            assert deployment.global_concurrency_limit.limit == entry["concurrency_limit"] == 1
            assert [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules] == [
                (s["cron"], s["timezone"]) for s in entry["schedules"]]
        nightly = client.read_deployment_by_name(f"{FLOW_NAME}/paper-nightly")
        assert nightly.schedules[0].schedule.cron == "0 2 * * *"
        # Keep the scheduler's own future runs out of this test's worker.
        for schedule in nightly.schedules:
            client.update_deployment_schedule(nightly.id, schedule.id, active=False)
        for run in client.read_flow_runs(
                deployment_filter=DeploymentFilter(id={"any_": [nightly.id]}),
                flow_run_filter=FlowRunFilter(state={"type": {"any_": ["SCHEDULED"]}})):
            client.delete_flow_run(run.id)

    # The toy project has no scales: run the nightly deployment with params.yaml as it is.
    flow_run = run_deployment(f"{FLOW_NAME}/paper-nightly", timeout=0,
                              parameters={"scale": None, "max_parallel": 2})
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "gpu", "--type", "process",
                               "--run-once"], cwd=tmp_path, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        final = _wait_for_final_state(flow_run.id, timeout=240)
    finally:
        _stop(worker)
        log.close()
    worker_log = (tmp_path / "worker.log").read_text()
    assert final.state.is_completed(), f"{final.state!r}\n{worker_log[-4000:]}"
    assert sorted(r["stage"] for r in read_runlog(toy_env["runlog"])) == sorted(STAGES)
    assert dvc_status(root) == {}


def test_serve_runs_a_triggered_run_on_this_machine(prefect_server, tmp_path, toy_env):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    root = make_toy_repo(tmp_path / "toy")
    env = dict(os.environ, PREFECT_API_URL=prefect_server["api_url"])
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "gatedvae.cli", "flow", "serve", "--repo",
                               str(root), "--name", "serve-test", "--max-parallel", "2"],
                              cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            while True:
                try:
                    client.read_deployment_by_name(f"{FLOW_NAME}/serve-test")
                    break
                except ObjectNotFound:
                    assert server.poll() is None and time.monotonic() < deadline, \
                        (tmp_path / "serve.log").read_text()[-3000:]
                    time.sleep(1)
        flow_run = run_deployment(f"{FLOW_NAME}/serve-test", timeout=0)
        final = _wait_for_final_state(flow_run.id, timeout=240)
    finally:
        _stop(server)
        log.close()
    assert final.state.is_completed(), (tmp_path / "serve.log").read_text()[-4000:]
    assert sorted(r["stage"] for r in read_runlog(toy_env["runlog"])) == sorted(STAGES)
    assert dvc_status(root) == {}
