"""Per-stage dispatch: the DAG fanned out over a Prefect work pool, one flow run per stage.

The coordinator keeps the DAG order and hands each ready stage (each matrix member) to the
stage deployment of a pool (`gatedvae-dvc-stage/<pool>`, stageflow.py) with Prefect's
`run_deployment`; any worker of the pool picks it up and runs it in its own checkout at the
coordinator's commit, sharing outputs and the run-cache through the DVC remote. At the end the
coordinator runs `dvc repro --pull` in its own checkout: every stage comes back from the
run-cache, so its dvc.lock, outputs and metrics are what a sequential `dvc repro` writes, and no
stage runs twice.

Faults, with Prefect's own states:
- a stage flow run that crashes, or whose worker stops sending heartbeats (the machine is gone),
  is marked Crashed and submitted again, for any other worker to take (at most `crash_retries`
  times);
- a stage that fails for a real reason (its command exits non-zero) fails once, its log tail in
  the summary; independent branches go on and its downstream stages end NotReady;
- a coordinator started again at the same commit adopts its stage flow runs instead of
  starting new ones (run_deployment's idempotency key: commit, stage, remote, attempt): running
  ones are waited for, finished ones count as done, and stages it still has to hand out find
  their upstream in the run-cache.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from prefect import flow, get_run_logger

from gatedvae.orchestration.checkoutlock import exclusive_checkout
from gatedvae.orchestration.dag import Dag, PipelineFailed, StageSpec, load_dag, walk
from gatedvae.orchestration.dvccli import child_env, run_dvc
from gatedvae.orchestration.stageflow import STAGE_FLOW_NAME
from gatedvae.orchestration.stagestate import default_remote

DISPATCH_FLOW_NAME = "gatedvae-dvc-dispatch"


def committed_head(root: Path, outputs=()) -> str:
    """HEAD's commit; refuses changes that workers, checking out the commit, would not see.

    What a pipeline run itself writes is not such a change: dvc.lock, the .gitignore files DVC
    keeps, and the stages' declared `outputs` (metrics with `cache: false` among them).
    """
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root,
                            capture_output=True, text=True)
    if status.returncode != 0:
        raise PipelineFailed(f"{root}: not a git checkout: {status.stderr.strip()}")
    written = [out.rstrip("/") for out in outputs]

    def results(path: str) -> bool:
        name = path.rsplit("/", 1)[-1]
        return (name in ("dvc.lock", ".gitignore")
                or any(path == out or path.startswith(out + "/") for out in written))

    changed = [line[3:].strip('"') for line in status.stdout.splitlines() if line.strip()]
    changed = [path for path in changed if not results(path)]
    if changed:
        listed = ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else "")
        raise PipelineFailed(f"{root}: uncommitted changes ({listed}). Workers check out the commit, "
                             "so they would not see them: commit (and push) first, then dispatch.")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip()


@dataclass
class Attempt:
    stage: str
    number: int
    flow_run_id: Any
    adopted: bool = False  # a flow run started before this coordinator (restart or second run)


@dataclass
class Outcome:
    state: str                      # Completed, Failed, NotReady
    attempts: int = 0
    info: dict = field(default_factory=dict)
    message: str = ""


def idempotency_key(commit: str, stage: str, remote: str, attempt: int, force_token: str | None) -> str:
    text = json.dumps([commit, stage, remote, attempt, force_token])
    return "gatedvae-" + hashlib.sha256(text.encode()).hexdigest()[:32]


class Coordinator:
    """Hands out stages, watches their flow runs and their workers (one per dispatch run)."""

    def __init__(self, client, dag: Dag, deployment: str, commit: str, remote: str, *, force_token,
                 gpu_limit, slots_per_gpu, crash_retries, lost_after_seconds, logger):
        self.client = client
        self.dag, self.deployment, self.commit, self.remote = dag, deployment, commit, remote
        self.force_token, self.gpu_limit, self.slots_per_gpu = force_token, gpu_limit, slots_per_gpu
        self.crash_retries, self.lost_after = crash_retries, lost_after_seconds
        self.logger = logger

    def submit(self, spec: StageSpec, number: int) -> Attempt:
        from prefect.deployments import run_deployment

        while True:
            key = idempotency_key(self.commit, spec.name, self.remote, number, self.force_token)
            run = run_deployment(
                self.deployment, timeout=0, idempotency_key=key,
                flow_run_name=f"{spec.name} @ {self.commit[:8]} #{number}",
                tags=["gatedvae-dispatch", f"commit:{self.commit[:12]}"],
                parameters={"stage": spec.name, "commit": self.commit, "upstream": list(spec.upstream),
                            "gpu": spec.gpu, "force": self.force_token is not None,
                            "gpu_limit": self.gpu_limit, "slots_per_gpu": self.slots_per_gpu})
            state = self.client.read_flow_run(run.id).state
            adopted = self.started_elsewhere(run)
            if adopted and state is not None and state.is_final() and not state.is_completed():
                number += 1  # that attempt ended badly before: a fresh one
                continue
            if adopted:
                self.logger.info("Stage %s: adopting flow run %s (%s) from an earlier dispatch",
                                 spec.name, run.name, state.name if state else "?")
            else:
                self.logger.info("Stage %s: flow run %s submitted (attempt %d)", spec.name, run.name, number)
            return Attempt(spec.name, number, run.id, adopted)

    def started_elsewhere(self, run) -> bool:
        """Whether an earlier dispatch started `run` (the idempotency key returned it)."""
        from prefect.context import get_run_context

        if run.parent_task_run_id is None:
            return True
        parent = self.client.read_task_run(run.parent_task_run_id)
        return parent.flow_run_id != get_run_context().flow_run.id

    def check(self, attempt: Attempt) -> Outcome | None:
        """The outcome of a finished attempt, None while it runs (or after it was resubmitted)."""
        from prefect.states import Crashed

        run = self.client.read_flow_run(attempt.flow_run_id)
        state = run.state
        if state is None:
            return None
        if state.is_completed():
            info = _message_json(state.message)
            if attempt.adopted:
                info["action"] = "cached"
            info["flow_run"] = run.name
            return Outcome("Completed", attempt.number, info)
        if state.is_failed():
            return Outcome("Failed", attempt.number, {"worker": _worker(run), "flow_run": run.name},
                           state.message or "")
        if state.is_crashed() or state.is_cancelled():
            return Outcome(state.name, attempt.number, {"worker": _worker(run), "flow_run": run.name},
                           state.message or "")
        lost = self.lost_worker(run)
        if lost:
            self.logger.warning("Stage %s: %s; marking flow run %s Crashed", attempt.stage, lost, run.name)
            self.client.set_flow_run_state(run.id, Crashed(message=lost), force=True)
        return None

    def lost_worker(self, run) -> str | None:
        """Why the worker running `run` is gone, or None while it is alive (or not known yet)."""
        from prefect.client.schemas.objects import StateType, WorkerStatus

        name = _worker(run)
        if not name or run.state.type not in (StateType.RUNNING, StateType.PENDING) or not run.work_pool_name:
            return None
        workers = {w.name: w for w in self.client.read_workers_for_work_pool(run.work_pool_name)}
        worker = workers.get(name)
        if worker is None:
            return f"worker {name} is no longer registered in pool {run.work_pool_name}"
        now = datetime.datetime.now(datetime.timezone.utc)
        silent = (now - worker.last_heartbeat_time).total_seconds() if worker.last_heartbeat_time else None
        allowed = max(self.lost_after, 3 * (worker.heartbeat_interval_seconds or 0))
        if silent is not None and silent > allowed:
            return f"worker {name} sent no heartbeat for {silent:.0f} s (> {allowed:.0f} s)"
        if worker.status == WorkerStatus.OFFLINE and silent is not None and silent > self.lost_after:
            return f"worker {name} is offline"
        return None


def _worker(run) -> str | None:
    return (run.labels or {}).get("prefect.worker.name")


def _message_json(message: str | None) -> dict:
    try:
        value = json.loads(message or "")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _fan_out(coordinator: Coordinator, dag: Dag, max_parallel: int, poll_seconds: float) -> dict[str, Outcome]:
    """Each stage a flow run on the pool (dag.walk), polled every `poll_seconds`; a crashed or
    cancelled attempt (a lost worker) is submitted again up to the coordinator's crash retries."""
    def wait(running: dict[str, Attempt]) -> list[tuple[str, Outcome]]:
        time.sleep(poll_seconds)
        done = []
        for name, attempt in list(running.items()):
            outcome = coordinator.check(attempt)
            if outcome is None:
                continue
            if outcome.state in ("Crashed", "Cancelled") and attempt.number <= coordinator.crash_retries:
                coordinator.logger.warning("Stage %s: attempt %d %s (%s); submitting it again",
                                           name, attempt.number, outcome.state.lower(), outcome.message)
                running[name] = coordinator.submit(dag[name], attempt.number + 1)
                continue
            if outcome.state == "Completed":
                info = outcome.info
                coordinator.logger.info("Stage %s: %s on %s", name, info.get("action"), info.get("worker"))
            else:
                coordinator.logger.error("Stage %s: %s after %d attempt(s): %s", name, outcome.state,
                                         attempt.number, outcome.message[-3000:])
            done.append((name, outcome))
        return done

    return walk(dag, max_parallel, lambda spec: coordinator.submit(spec, 1), wait,
                skip=lambda spec, failed: Outcome("NotReady", message=f"upstream {', '.join(failed)} did not complete"),
                succeeded=lambda outcome: outcome.state == "Completed")


def _check_deployment(client, pool: str) -> None:
    from prefect.exceptions import ObjectNotFound

    try:
        client.read_deployment_by_name(f"{STAGE_FLOW_NAME}/{pool}")
    except ObjectNotFound:
        raise PipelineFailed(f"no stage deployment for work pool {pool!r}: run "
                             f"`gatedvae flow deploy-stages --pool {pool}` once") from None


def restore_here(root: Path, targets: list[str] | None, logger) -> list[str]:
    """`dvc repro --pull` in the coordinator's checkout; returns stages DVC had to run here."""
    ran: list[str] = []

    def sink(line: str) -> None:
        logger.info(line)
        if line.startswith("Running stage '"):
            ran.append(line.split("'")[1])

    result = run_dvc(["repro", "--pull", *(targets or [])], root, sink, env=child_env())
    if not result.ok:
        raise PipelineFailed(f"{root}: `dvc repro --pull` after dispatch failed:\n" + "\n".join(result.tail[-25:]))
    return ran


@flow(name=DISPATCH_FLOW_NAME,
      description="Fan the DVC pipeline out over a work pool: one flow run per stage.")
def dvc_dispatch(pool: str, repo: str = ".", targets: Optional[list[str]] = None,
                 max_parallel: int = 16, force: bool = False, gpu_limit: Optional[str] = "gpu",
                 slots_per_gpu: int = 1, crash_retries: int = 2, lost_after_seconds: float = 90.0,
                 poll_seconds: float = 2.0) -> dict[str, dict]:
    """Reproduce the pipeline at `repo`'s committed HEAD on the workers of `pool`.

    pool: the work pool whose stage deployment (`gatedvae flow deploy-stages --pool POOL`) runs
    the stages. max_parallel: stage flow runs in flight (each worker caps its own with
    `--limit`). slots_per_gpu: GPU stages sharing one card on a worker. crash_retries: new
    attempts for a stage whose flow run crashed or whose worker was lost. lost_after_seconds: a
    worker silent this long (and at least 3 heartbeats) is lost.
    """
    logger = get_run_logger()
    root = Path(repo).resolve()
    if not (root / ".dvc").is_dir():
        raise PipelineFailed(f"{root}: not a DVC repository (no .dvc folder); pass repo=<checkout>")
    full = load_dag(root)
    commit = committed_head(root, [out for spec in full.stages for out in spec.outs])
    remote = default_remote(root)
    if not remote:
        raise PipelineFailed(f"{root}: per-stage dispatch needs a default DVC remote that every "
                             "worker reaches (`dvc remote add -d NAME URL`, committed)")
    from prefect.context import get_run_context

    force_token = str(get_run_context().flow_run.id) if force else None
    dag = full.select(targets)
    logger.info("Dispatching %d stages of commit %s to pool %r (DVC remote %r)", len(dag),
                commit[:12], pool, remote)
    from prefect.client.orchestration import get_client

    with exclusive_checkout(root, logger), get_client(sync_client=True) as client:
        _check_deployment(client, pool)
        coordinator = Coordinator(client, dag, f"{STAGE_FLOW_NAME}/{pool}", commit, remote,
                                  force_token=force_token, gpu_limit=gpu_limit,
                                  slots_per_gpu=slots_per_gpu, crash_retries=crash_retries,
                                  lost_after_seconds=lost_after_seconds, logger=logger)
        started = time.monotonic()
        outcomes = _fan_out(coordinator, dag, max_parallel, poll_seconds)
        dispatched = time.monotonic() - started
        failed = [n for n, o in outcomes.items() if o.state != "Completed"]
        ran_here = [] if failed else restore_here(root, targets, logger)
    summary = {}
    for spec in dag.stages:
        outcome = outcomes[spec.name]
        entry = {"state": outcome.state, "attempts": outcome.attempts,
                 **{k: outcome.info.get(k) for k in ("action", "worker", "seconds", "flow_run")}}
        if outcome.message and outcome.state != "Completed":
            entry["message"] = outcome.message[-2000:]
        if spec.name in ran_here:
            entry["ran_on_coordinator"] = True
        summary[spec.name] = entry
    workers = sorted({e["worker"] for e in summary.values() if e.get("worker")})
    logger.info("Dispatch: %.1f s on workers %s; %d stage(s) failed", dispatched, workers, len(failed))
    if ran_here:
        logger.warning("Stages the run-cache could not restore, run on the coordinator: %s", ran_here)
    if failed:
        raise PipelineFailed(f"{len(failed)} stage(s) did not complete: "
                             + "; ".join(f"{n} ({outcomes[n].state})" for n in failed))
    return summary
