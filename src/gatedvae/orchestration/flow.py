"""The Prefect flow over the DVC pipeline: one task per DVC stage, edges from dvc.yaml.

Concurrency and DVC's repository lock: each task runs `dvc --wait-for-lock repro --single-item
<stage>` in the one checkout. DVC holds its lock only while it checks and records a stage and
releases it while the stage's command runs, so commands of independent stages run in parallel
while the short bookkeeping steps queue for the lock instead of failing. DVC itself writes
dvc.lock, .gitignore and the run-cache, exactly as a manual `dvc repro` does; the flow only
puts new dvc.lock entries and .gitignore lines back in `dvc repro` order at the end (lockorder). The flow, not Prefect's thread pool,
decides when a stage is ready, so `max_parallel` counts running stages exactly.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from pathlib import Path
from typing import Any, Optional

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from gatedvae.orchestration import dvccli, lockorder
from gatedvae.orchestration.cachekey import DvcStageCachePolicy
from gatedvae.orchestration.checkoutlock import exclusive_checkout
from gatedvae.orchestration.dag import Dag, PipelineFailed, StageSpec, load_dag, walk
from gatedvae.orchestration.dvccli import DvcRun, child_env, run_dvc
from gatedvae.orchestration.gpu import GpuSlots
from gatedvae.orchestration.stagestate import default_remote
from gatedvae.threads import sharing_cores_env

FLOW_NAME = "gatedvae-dvc-pipeline"


class StageFailed(RuntimeError):
    def __init__(self, stage: str, run: DvcRun, what: str = "dvc repro"):
        lines = "\n".join(run.tail[-25:])
        super().__init__(f"stage {stage!r}: `{what}` exited with status {run.returncode}. "
                         f"Last output:\n{lines}")


@task(name="dvc-stage", cache_policy=DvcStageCachePolicy(), persist_result=True,
      result_serializer="json")
def run_stage(root: str, stage: str, gpu: bool = False, use_remote: bool = False,
              force: bool = False, slots: Optional[GpuSlots] = None,
              stages_at_once: int = 1) -> dict:
    """Reproduce one DVC stage (`dvc repro --single-item`), streaming its output to the log."""
    logger = get_run_logger()
    args = ["repro", "--single-item", *(["--force"] if force else []),
            *(["--pull"] if use_remote else []), stage]
    if gpu and slots is not None:
        hold = slots.slot(logger)
    else:
        hold = contextlib.nullcontext(None)
    with hold as device:
        extra = {}
        if device is not None:
            extra["CUDA_VISIBLE_DEVICES"] = device
        elif slots is not None and slots.devices and not gpu:
            extra["CUDA_VISIBLE_DEVICES"] = ""  # CPU stages keep off the GPUs handed to training
        extra.update(sharing_cores_env(stages_at_once))  # each stage pins its threads (gatedvae.threads)
        run = run_dvc(args, root, logger.info, env=child_env(extra))
    if not run.ok:
        raise StageFailed(stage, run)
    if use_remote:
        push = run_dvc(["push", "--run-cache", stage], root, logger.info, env=child_env())
        if not push.ok:
            raise StageFailed(stage, push, "dvc push --run-cache")
    return {"stage": stage, "action": run.action, "seconds": round(run.seconds, 3)}


def retry_options(spec: StageSpec, retries: int, retry_delay_seconds: float) -> dict:
    """Per-stage retries from dvc.yaml `meta`, else the flow's; delays double on each retry."""
    n = spec.retries if spec.retries is not None else retries
    delay = spec.retry_delay_seconds if spec.retry_delay_seconds is not None else retry_delay_seconds
    if isinstance(delay, tuple):
        delays = list(delay[:n]) + [delay[-1]] * max(0, n - len(delay))
    else:
        delays = [delay * 2**i for i in range(n)]
    return {"retries": n, "retry_delay_seconds": delays or 0,
            "retry_jitter_factor": 0.2 if any(delays) else None}


def _task_for(spec: StageSpec, retries: int, retry_delay_seconds: float):
    tags = ["dvc-stage", *(["gpu"] if spec.gpu else [])]
    return run_stage.with_options(name=spec.name.split("@", 1)[0], task_run_name=spec.name,
                                  tags=tags, **retry_options(spec, retries, retry_delay_seconds))


def _apply_scale(scale: str, root: Path, logger) -> None:
    """`gatedvae scale <name>` in the repository, so its paths resolve as they do by hand."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "gatedvae.cli", "scale", scale], cwd=root,
                          env=child_env(), capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        logger.info(line)
    if proc.returncode != 0:
        raise PipelineFailed(f"`gatedvae scale {scale}` failed in {root} "
                             f"(exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")


def _execute(dag: Dag, max_parallel: int, submit) -> dict[str, Any]:
    """Each stage a task, submitted once its upstream stages finished (dag.walk); a task whose
    upstream failed ends NotReady through Prefect's wait_for. Returns name -> final state."""
    futures: dict[str, Any] = {}

    def start(spec: StageSpec):
        futures[spec.name] = submit(spec, [futures[u] for u in spec.upstream])
        return futures[spec.name]

    def wait(running: dict[str, Any]) -> list[tuple[str, Any]]:
        finished, _ = concurrent.futures.wait([f.wrapped_future for f in running.values()],
                                              return_when=concurrent.futures.FIRST_COMPLETED)
        done = [name for name, f in running.items() if f.wrapped_future in finished]
        for name in done:
            running[name].wait()  # the engine's final state, not the API's (which may lag)
        return [(name, running[name].state) for name in done]

    return walk(dag, max_parallel, start, wait)


def _summary(states: dict[str, Any]) -> dict[str, dict]:
    out = {}
    for name, state in states.items():
        entry = {"state": state.name}
        if state.is_completed():
            result = state.result(raise_on_failure=False)
            if isinstance(result, dict):
                entry["action"] = "cached" if state.name == "Cached" else result.get("action")
                entry["seconds"] = 0.0 if state.name == "Cached" else result.get("seconds")
        out[name] = entry
    return out


def _reproduce(root: Path, scale, targets, max_parallel, gpu_limit, gpu_devices, use_remote,
               retries, retry_delay_seconds, force, logger, slots_per_gpu: int = 1) -> dict[str, Any]:
    """The body of the flow, run while holding the checkout: stage name -> final state."""
    if scale:
        _apply_scale(scale, root, logger)
    dag = load_dag(root).select(targets)
    remote = default_remote(root)
    if use_remote and not remote:
        raise PipelineFailed(f"{root}: use_remote is set but no default DVC remote is configured "
                             "(`dvc remote add -d NAME URL`)")
    use_remote = bool(remote) if use_remote is None else use_remote
    logger.info("%d DVC stages from %s%s", len(dag), root,
                f"; DVC remote {remote!r} shared" if use_remote else "")
    slots = GpuSlots.for_flow(gpu_limit, gpu_devices, logger, slots_per_gpu)
    before = lockorder.snapshot(dag)

    def submit(spec: StageSpec, wait_for: list):
        params = {"root": str(root), "stage": spec.name, "gpu": spec.gpu,
                  "use_remote": use_remote, "force": force, "slots": slots,
                  "stages_at_once": max_parallel}
        return runner.submit(_task_for(spec, retries, retry_delay_seconds), params,
                             wait_for=wait_for)

    try:
        with ThreadPoolTaskRunner(max_workers=max_parallel) as runner:
            try:
                states = _execute(dag, max_parallel, submit)
            except BaseException:
                # Cancelled or crashed: stop running stages (their own process groups) instead
                # of leaving them to finish unobserved, then let the threads see them end.
                stopped = dvccli.terminate_all()
                logger.error("Flow run interrupted; stopped %d running stage(s)", stopped)
                raise
    finally:
        reordered = lockorder.restore_repro_order(dag, before)
        if reordered:
            logger.info("Put what this run added to %s in `dvc repro` order", ", ".join(reordered))
    return states


@flow(name=FLOW_NAME, description="Run the DVC pipeline in dvc.yaml, stage by stage.")
def dvc_pipeline(repo: str = ".", scale: Optional[str] = None, targets: Optional[list[str]] = None,
                 max_parallel: int = 4, gpu_limit: Optional[str] = "gpu",
                 gpu_devices: Optional[list[str]] = None, use_remote: Optional[bool] = None,
                 retries: int = 1, retry_delay_seconds: float = 10.0,
                 force: bool = False, slots_per_gpu: int = 1) -> dict[str, dict]:
    """Reproduce the DVC pipeline at `repo` (all stages, or `targets` and their upstream).

    scale: switch params.yaml first (`tiny`, `default`, `paper`); None keeps it.
    max_parallel: stages running at once. gpu_limit: Prefect global concurrency limit that GPU
    stages (`meta: {gpu: true}`) take a slot of. gpu_devices: device ids handed one per GPU
    stage (default: $CUDA_VISIBLE_DEVICES). use_remote: pull inputs and push outputs and the
    run-cache through the default DVC remote (None: when one is configured). retries,
    retry_delay_seconds: defaults for stages without `meta.retries` / `meta.retry_delay_seconds`.
    force: rerun every selected stage, ignoring both caches. slots_per_gpu: GPU stages that share
    one device (each device is handed out this many times at once).
    """
    logger = get_run_logger()
    if max_parallel < 1:
        raise ValueError(f"max_parallel must be >= 1, got {max_parallel}")
    root = Path(repo).resolve()
    if not (root / ".dvc").is_dir():
        raise PipelineFailed(f"{root}: not a DVC repository (no .dvc folder); pass repo=<checkout>")
    with exclusive_checkout(root, logger):
        states = _reproduce(root, scale, targets, max_parallel, gpu_limit, gpu_devices, use_remote,
                            retries, retry_delay_seconds, force, logger, slots_per_gpu)
    summary = _summary(states)
    counts: dict[str, int] = {}
    for entry in summary.values():
        key = entry.get("action") or entry["state"]
        counts[key] = counts.get(key, 0) + 1
    logger.info("Stages: %s", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    failed = [n for n, e in summary.items() if e["state"] not in ("Completed", "Cached")]
    if failed:
        bad = [n for n in failed if states[n].is_failed() or states[n].is_crashed()]
        skipped = [n for n in failed if n not in bad]
        raise PipelineFailed(f"{len(bad)} stage(s) failed: {', '.join(bad)}"
                             + (f"; {len(skipped)} not run: {', '.join(skipped)}" if skipped else ""))
    return summary
