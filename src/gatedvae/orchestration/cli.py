"""`gatedvae flow run|serve|dag`: the Prefect flow over dvc.yaml, from the command line.

    gatedvae flow run --scale tiny          # one local run (starts a temporary Prefect server
                                            # unless PREFECT_API_URL points at one)
    gatedvae flow serve --cron "0 2 * * *"  # single machine: schedule + UI-triggered runs
    gatedvae flow dag                       # the task graph derived from dvc.yaml
"""

from __future__ import annotations

import argparse
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_parser = actions.add_parser("run", help="run the pipeline flow once, here")
    _flow_arguments(run_parser)
    serve = actions.add_parser("serve", help="serve the flow from this process (one machine)")
    _flow_arguments(serve)
    serve.add_argument("--name", default="local", help="deployment name (local)")
    serve.add_argument("--cron", help="schedule, e.g. '0 2 * * *' (UTC); default: none")
    dag = actions.add_parser("dag", help="print the task graph derived from dvc.yaml")
    dag.add_argument("--repo", default=".")
    dag.add_argument("--targets", nargs="+", metavar="STAGE")


def flow_parameters(args: argparse.Namespace) -> dict:
    return {"repo": args.repo, "scale": args.scale, "targets": args.targets,
            "max_parallel": args.max_parallel, "gpu_limit": args.gpu_limit or None,
            "gpu_devices": args.gpus.split(",") if args.gpus else None,
            "use_remote": args.remote, "retries": args.retries,
            "retry_delay_seconds": args.retry_delay, "force": args.force}


def format_summary(summary: dict[str, dict]) -> str:
    width = max((len(n) for n in summary), default=5)
    lines = [f"{'stage':<{width}}  {'state':<10} {'action':<10} seconds"]
    for name, entry in summary.items():
        seconds = entry.get("seconds")
        lines.append(f"{name:<{width}}  {entry['state']:<10} {entry.get('action') or '-':<10} "
                     f"{'-' if seconds is None else f'{seconds:.1f}'}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from gatedvae.orchestration.dag import DagError, describe, load_dag

    try:
        if args.action == "dag":
            print(describe(load_dag(args.repo).select(args.targets)))
            return 0
        from gatedvae.orchestration.flow import dvc_pipeline

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
