"""`gatedvae flow run|serve|dag`: the Prefect flow over dvc.yaml, from the command line.

    gatedvae flow run --scale tiny          # one local run (starts a temporary Prefect server
                                            # unless PREFECT_API_URL points at one)
    gatedvae flow serve --cron "0 2 * * *"  # single machine: schedule + UI-triggered runs
    gatedvae flow dag                       # the task graph derived from dvc.yaml
    gatedvae flow deploy-stages --pool gpu  # per-stage dispatch: the stage deployment of a pool
    gatedvae flow worker --pool gpu --checkout ~/gatedvae-worker --slots 4   # one per machine
    gatedvae flow run --dispatch gpu        # each stage a flow run on any worker of the pool
"""

from __future__ import annotations

import argparse
import os
import sys


def _flow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", help="the DVC project (default: current directory)")
    parser.add_argument("--scale", metavar="NAME",
                        help="switch params.yaml to this scale first, as `gatedvae scale NAME` "
                             "(tiny, default, paper)")
    parser.add_argument("--targets", nargs="+", metavar="STAGE",
                        help="stages to reproduce with their upstream (names, matrix names "
                             "such as `train`, or globs); default: the whole DAG")
    parser.add_argument("--max-parallel", type=int, default=4, help="stages running at once (4)")
    parser.add_argument("--gpu-limit", default="gpu",
                        help="Prefect global concurrency limit GPU stages take a slot of (gpu)")
    parser.add_argument("--gpus", help="comma-separated GPU ids handed one per GPU stage "
                                       "(default: $CUDA_VISIBLE_DEVICES)")
    parser.add_argument("--remote", action=argparse.BooleanOptionalAction, default=None,
                        help="pull/push each stage through the default DVC remote "
                             "(default: when one is configured)")
    parser.add_argument("--retries", type=int, default=1,
                        help="retries for stages without meta.retries (1)")
    parser.add_argument("--retry-delay", type=float, default=10.0,
                        help="first retry delay in seconds, doubled each retry (10)")
    parser.add_argument("--force", action="store_true", help="rerun every stage, ignoring caches")
    parser.add_argument("--slots-per-gpu", type=int, default=1,
                        help="GPU stages sharing one card (1); size the `gpu` limit as GPUs x this")
    parser.add_argument("--dispatch", metavar="POOL",
                        help="run each stage as its own flow run on the workers of this work pool "
                             "(needs a committed HEAD, a default DVC remote and "
                             "`gatedvae flow deploy-stages --pool POOL`)")
    parser.add_argument("--crash-retries", type=int, default=2,
                        help="with --dispatch: new attempts for a stage whose worker was lost (2)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_parser = actions.add_parser("run", help="run the pipeline flow once, here")
    _flow_arguments(run_parser)
    serve = actions.add_parser("serve", help="serve the flow from this process (one machine)")
    _flow_arguments(serve)
    serve.add_argument("--name", default="local", help="deployment name (local)")
    serve.add_argument("--cron", help="schedule, e.g. '0 2 * * *' (UTC); default: none")
    deploy = actions.add_parser("deploy-stages", help="register the stage deployment of a work pool "
                                                      "(for --dispatch)")
    deploy.add_argument("--pool", required=True, help="the work pool whose workers run stages")
    worker = actions.add_parser("worker", help="start a Prefect worker that runs dispatched stages "
                                               "in its own checkout")
    worker.add_argument("--pool", required=True)
    worker.add_argument("--checkout", required=True,
                        help="this worker's own clone of the repository (not the coordinator's)")
    worker.add_argument("--slots", type=int, default=1,
                        help="stages it runs at once (its --limit); CPU threads are shared among them")
    worker.add_argument("--name", help="worker name (default: Prefect's)")
    dag = actions.add_parser("dag", help="print the task graph derived from dvc.yaml")
    dag.add_argument("--repo", default=".")
    dag.add_argument("--targets", nargs="+", metavar="STAGE")


def flow_parameters(args: argparse.Namespace) -> dict:
    # a run on Prefect's temporary server (no PREFECT_API_URL) is the only flow run that server
    # sees, and no limit can exist there: the fleet-wide GPU limit is moot (its per-device slots
    # still apply), so the flow does not warn that it is missing
    temporary = args.action == "run" and on_temporary_server()
    return {"repo": args.repo, "scale": args.scale, "targets": args.targets,
            "max_parallel": args.max_parallel, "gpu_limit": None if temporary else args.gpu_limit or None,
            "gpu_devices": args.gpus.split(",") if args.gpus else None,
            "use_remote": args.remote, "retries": args.retries,
            "retry_delay_seconds": args.retry_delay, "force": args.force,
            "slots_per_gpu": args.slots_per_gpu}


def dispatch_parameters(args: argparse.Namespace) -> dict:
    return {"pool": args.dispatch, "repo": args.repo, "targets": args.targets,
            "max_parallel": args.max_parallel, "force": args.force,
            "gpu_limit": args.gpu_limit or None, "slots_per_gpu": args.slots_per_gpu,
            "crash_retries": args.crash_retries}


def start_worker(args: argparse.Namespace) -> int:
    """`prefect worker start` for a process pool, with this worker's checkout and CPU share."""
    import os
    import subprocess
    from pathlib import Path

    from gatedvae.orchestration.stageflow import CHECKOUT_ENV, SLOTS_ENV

    checkout = Path(args.checkout).resolve()
    if not (checkout / ".dvc").is_dir():
        print(f"error: {checkout}: not a checkout of the project (git clone it there first)",
              file=sys.stderr)
        return 2
    env = dict(os.environ, **{CHECKOUT_ENV: str(checkout), SLOTS_ENV: str(args.slots)})
    prefect = str(Path(sys.executable).parent / "prefect")
    command = [prefect, "worker", "start", "--pool", args.pool, "--type", "process",
               "--limit", str(args.slots), *(["--name", args.name] if args.name else [])]
    return subprocess.call(command, env=env)


def format_summary(summary: dict[str, dict]) -> str:
    """One line per stage; with per-stage dispatch also the worker and the attempts."""
    width = max((len(n) for n in summary), default=5)
    dispatched = any("worker" in entry for entry in summary.values())
    head = f"{'stage':<{width}}  {'state':<10} {'action':<10} seconds"
    lines = [head + ("  attempts worker" if dispatched else "")]
    for name, entry in summary.items():
        seconds = entry.get("seconds")
        shown = "-" if seconds is None else f"{seconds:.1f}"
        line = f"{name:<{width}}  {entry['state']:<10} {entry.get('action') or '-':<10} {shown}"
        if dispatched:
            line = f"{line:<{width + 30}}  {entry.get('attempts') or '-':>8} {entry.get('worker') or '-'}"
        lines.append(line)
    return "\n".join(lines)


def on_temporary_server() -> bool:
    """Without PREFECT_API_URL, Prefect starts a temporary local server for the command."""
    return not os.environ.get("PREFECT_API_URL")


def quiet_temporary_server() -> None:
    """The temporary server's telemetry service logs an ERROR on every offline run ("Failed to
    send telemetry"), though nothing failed. As with DVC's analytics (dvccli.child_env), it is
    off unless the user has set it. Set before prefect is imported: it reads its settings then."""
    if on_temporary_server():
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def run(args: argparse.Namespace) -> int:
    quiet_temporary_server()
    from gatedvae.orchestration.dag import DagError, describe, load_dag

    try:
        if args.action == "dag":
            print(describe(load_dag(args.repo).select(args.targets)))
            return 0
        if args.action == "deploy-stages":
            from gatedvae.orchestration.stageflow import deploy_stage_flow

            print(f"registered {deploy_stage_flow(args.pool)} on work pool {args.pool!r}")
            return 0
        if args.action == "worker":
            return start_worker(args)
        from gatedvae.orchestration.flow import dvc_pipeline

        if args.action == "run" and args.dispatch:
            from gatedvae.orchestration.dispatch import dvc_dispatch

            if args.scale:
                print("error: --scale edits params.yaml, which workers would not see; switch the "
                      "scale, commit, then dispatch", file=sys.stderr)
                return 2
            state = dvc_dispatch(**dispatch_parameters(args), return_state=True)
        else:
            params = flow_parameters(args)
            if args.action == "serve":
                dvc_pipeline.serve(name=args.name, cron=args.cron, parameters=params)
                return 0
            state = dvc_pipeline(**params, return_state=True)
    except DagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    result = state.result(raise_on_failure=False)
    if state.is_completed():
        print(format_summary(result))
        return 0
    print(f"error: flow run {state.name}: {result}", file=sys.stderr)
    return 1
