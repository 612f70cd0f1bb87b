"""One DVC stage as its own Prefect flow run, on any worker of a pool (per-stage dispatch).

The coordinator (dispatch.py) sends each ready stage here with `run_deployment`. A worker runs
it in its own checkout, named by $GATEDVAE_CHECKOUT in the worker's environment:

1. the checkout moves to the coordinator's commit (`git fetch`, `git checkout --force`);
2. `dvc repro --pull <upstream stages>`: what other workers ran comes back from the DVC
   remote's run-cache, so nothing runs twice (a stage that would run here is reported);
3. `dvc repro --pull --single-item <stage>`: the stage runs, or is restored from the run-cache
   when some machine already ran it at these inputs;
4. `dvc push --run-cache <stage>`: its outputs and run-cache entry go to the remote, and the
   run-cache copies of its `cache: false` outputs (which that command leaves behind).

DVC writes outputs and cache objects to temporary names and renames them, so a worker killed
mid-stage leaves nothing half-written in any cache. The flow returns a Completed state whose
message (JSON) says what happened and where, read by the coordinator through the API.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Iterator, Optional

from prefect import flow, get_run_logger
from prefect.states import Completed

from gatedvae.orchestration.dvccli import child_env, run_dvc
from gatedvae.orchestration.flow import StageFailed
from gatedvae.orchestration.gpu import device_slot, fleet_limit, visible_devices
from gatedvae.orchestration.stagestate import default_remote, push_uncached_outputs
from gatedvae.threads import sharing_cores_env

STAGE_FLOW_NAME = "gatedvae-dvc-stage"  # its deployment on a pool is named after the pool
CHECKOUT_ENV = "GATEDVAE_CHECKOUT"   # the worker's own checkout of the project
SLOTS_ENV = "GATEDVAE_WORKER_SLOTS"   # stages this worker runs at once (its --limit)


class CheckoutError(RuntimeError):
    """The worker's checkout cannot be put at the coordinator's commit; says what to do."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


@contextlib.contextmanager
def at_commit(root: Path, commit: str, logger) -> Iterator[None]:
    """Hold the checkout at `commit` while a stage runs in it.

    Stages of one commit share the checkout (a shared lock); moving it to another commit waits
    for them (an exclusive lock), so a running stage never sees its files change underneath.
    """
    lock_path = root / ".git" / "gatedvae-checkout.lock"
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        head = _git(root, "rev-parse", "HEAD").stdout.strip()
        if head != commit:
            fcntl.flock(handle, fcntl.LOCK_UN)
            fcntl.flock(handle, fcntl.LOCK_EX)
            _move_to(root, commit, logger)
            fcntl.flock(handle, fcntl.LOCK_SH)  # converted in place: no one else moves it now
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _move_to(root: Path, commit: str, logger) -> None:
    if _git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        fetched = _git(root, "fetch", "--quiet", "origin", commit)
        if fetched.returncode != 0:
            raise CheckoutError(f"{root}: commit {commit} is not here and `git fetch origin {commit}` "
                                f"failed: {fetched.stderr.strip()[-500:]}. Push the commit to the "
                                "remote this checkout fetches from (`origin`).")
    moved = _git(root, "checkout", "--quiet", "--force", "--detach", commit)
    if moved.returncode != 0:
        raise CheckoutError(f"{root}: `git checkout {commit}` failed: {moved.stderr.strip()[-500:]}")
    logger.info("Checkout %s moved to commit %s", root, commit[:12])


def stages_at_once() -> int:
    """How many stages this worker runs at once ($GATEDVAE_WORKER_SLOTS, its --limit)."""
    return max(1, int(os.environ.get(SLOTS_ENV) or 1))


def _restore_upstream(root: Path, upstream: list[str], stage: str, env: dict, logger) -> list[str]:
    """Bring the upstream stages up to date here from the run-cache; returns any that ran.

    Stages sharing this checkout may be reading those outputs right now, and `dvc repro` takes a
    write lock on the outputs of every stage it visits, even an unchanged one. So: only stages
    that are not up to date are reproduced, one restore at a time (a lock under .dvc/tmp).
    """
    if not upstream:
        return []
    lock_path = root / ".dvc" / "tmp" / "gatedvae-restore.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            status = run_dvc(["status", "--json", "--with-deps", *upstream], root, lambda line: None,
                             env=child_env(env))
            if status.ok and _json_or_none("\n".join(status.tail) or "{}") == {}:
                return []
            sink = _Ran(logger)
            before = run_dvc(["repro", "--pull", *upstream], root, sink, env=child_env(env))
            if not before.ok:
                raise StageFailed(stage, before, "dvc repro --pull (upstream stages)")
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    if sink.stages:
        logger.warning("Upstream stages were not in the run-cache and ran here: %s", sink.stages)
    return sink.stages


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


class _Ran:
    """A log sink that also notes which stages DVC ran (its `Running stage '...'` lines)."""

    def __init__(self, logger):
        self.logger, self.stages = logger, []

    def __call__(self, line: str) -> None:
        self.logger.info(line)
        if line.startswith("Running stage '"):
            self.stages.append(line.split("'")[1])


@flow(name=STAGE_FLOW_NAME, retries=0, persist_result=False,
      description="Reproduce one DVC stage in this worker's checkout at a given commit.")
def dvc_stage(stage: str, commit: str, upstream: Optional[list[str]] = None, gpu: bool = False,
              force: bool = False, gpu_limit: Optional[str] = "gpu", slots_per_gpu: int = 1,
              checkout: Optional[str] = None):
    """Reproduce `stage` at `commit` here and push it to the DVC remote (see the module doc)."""
    logger = get_run_logger()
    root = Path(checkout or os.environ.get(CHECKOUT_ENV) or os.getcwd()).resolve()
    if not (root / ".dvc").is_dir() or not (root / ".git").exists():
        raise CheckoutError(f"{root}: not a git and DVC checkout of the project; start the worker "
                            f"with {CHECKOUT_ENV}=<its own clone of the repository>")
    worker = os.environ.get("PREFECT__WORKER_NAME") or socket.gethostname()
    host = socket.gethostname()
    with at_commit(root, commit, logger):
        remote = default_remote(root)
        if not remote:
            raise CheckoutError(f"{root}: no default DVC remote at commit {commit[:12]}; per-stage "
                                "dispatch shares outputs through one (`dvc remote add -d NAME URL`, "
                                "committed)")
        env = sharing_cores_env(stages_at_once())  # each stage pins its threads (gatedvae.threads)
        restored = _restore_upstream(root, upstream or [], stage, env, logger)
        devices = visible_devices() if gpu else []
        hold_fleet = fleet_limit(gpu_limit, logger) if gpu else contextlib.nullcontext()
        with hold_fleet, device_slot(devices, slots_per_gpu, logger) as device:
            if device is not None:
                env["CUDA_VISIBLE_DEVICES"] = device
            elif not gpu and os.environ.get("CUDA_VISIBLE_DEVICES"):
                env["CUDA_VISIBLE_DEVICES"] = ""  # CPU stages keep off the cards
            args = ["repro", "--pull", "--single-item", *(["--force"] if force else []), stage]
            run = run_dvc(args, root, logger.info, env=child_env(env))
        if not run.ok:
            raise StageFailed(stage, run)
        push = run_dvc(["push", "--run-cache", stage], root, logger.info, env=child_env())
        if not push.ok:
            raise StageFailed(stage, push, "dvc push --run-cache")
        pushed = push_uncached_outputs(root, stage)
        if pushed:
            logger.info("Pushed the run-cache copies of its cache: false outputs %s", pushed)
    summary = {"stage": stage, "action": run.action, "seconds": round(run.seconds, 3),
               "worker": worker, "host": host, "checkout": str(root), "commit": commit,
               "device": device, "upstream_ran_here": restored}
    logger.info("Stage %s: %s on worker %s in %.1f s", stage, run.action, worker, run.seconds)
    return Completed(message=json.dumps(summary), data=summary)


def deploy_stage_flow(pool: str, concurrency_limit: int | None = None) -> str:
    """Register the stage deployment of `pool` (named after it); the flow is imported from the
    installed package on each worker (no code storage). Returns `<flow>/<deployment>`."""
    from prefect.deployments.runner import EntrypointType

    name = pool
    dvc_stage.deploy(name=name, work_pool_name=pool, build=False, push=False,
                     entrypoint_type=EntrypointType.MODULE_PATH, print_next_steps=False,
                     concurrency_limit=concurrency_limit,
                     description="One DVC stage per flow run, for `gatedvae flow run --dispatch`.")
    return f"{STAGE_FLOW_NAME}/{name}"
