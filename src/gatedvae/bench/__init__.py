"""`gatedvae bench`: training throughput, as ratios against baselines measured in the same run.

    gatedvae bench                  engine vs compute bound, vs per-item DataLoader, bf16 vs fp32,
                                    gated vs un-gated: dSprites MLP and faces conv net (throughput.py)
    gatedvae bench --paper-scale    paper-size runs sharing one device (1, 2, 4, 8 at once on CUDA)
                                    and the paper-scale DAG's projected training time (paper_scale.py)

Both print Markdown tables and write everything to --json. docs/benchmarks.md says what each
figure means.
"""

from __future__ import annotations

import argparse
import math

from gatedvae.bench.report import machine, machine_line, note_end, ratio_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    parser.add_argument("--json", metavar="PATH", help="also write the results here")
    parser.add_argument("--quick", action="store_true",
                        help="a few steps of everything: checks that it runs, figures are noise")
    parser.add_argument("--threads", type=int,
                        help="torch threads (default: torch's; --paper-scale: cores / concurrent runs)")
    parser.add_argument("--warmup-steps", type=int,
                        help="untimed steps before each timed measurement")
    ratios = parser.add_argument_group("ratios (default mode)")
    ratios.add_argument("--hidden", type=int, default=256, help="MLP hidden width (default 256)")
    ratios.add_argument("--mlp-steps", type=int, help="timed MLP steps per configuration (default 150)")
    ratios.add_argument("--conv-steps", type=int, help="timed conv steps per configuration (default 48)")
    ratios.add_argument("--rounds", type=int, help="interleaved rounds; the best is kept (default 3)")
    paper = parser.add_argument_group("--paper-scale")
    paper.add_argument("--paper-scale", action="store_true",
                       help="concurrent paper-size runs on one device and the DAG's projected time")
    paper.add_argument("--size", choices=("paper", "tiny"),
                       help="run size (default: paper on CUDA, tiny otherwise)")
    paper.add_argument("--concurrency", type=int, nargs="+",
                       help="runs sharing the device (default: 1 2 4 8 on CUDA, 1 2 otherwise)")
    paper.add_argument("--steps", type=int,
                       help="timed steps per run (default: 2000 on CUDA, 8 otherwise)")
    paper.add_argument("--workloads", nargs="+", choices=("dsprites", "faces"),
                       default=["dsprites", "faces"])
    paper.add_argument("--precision", choices=("fp32", "bf16", "tf32", "fp16"),
                       help="override params' train.precision")
    paper.add_argument("--params", default="params.yaml")
    paper.add_argument("--scale", default="paper",
                       help="scale overlay applied to --params in memory (default paper; 'none': as is)")
    paper.add_argument("--scales-dir", default="configs/scales")
    paper.add_argument("--worker-timeout", type=float, default=600.0,
                       help="seconds before a concurrency level's workers are killed")


def _finite(value):
    """JSON has no NaN or inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _save(path: str | None, result: dict) -> None:
    if path:
        from gatedvae.atomic import save_json
        save_json(path, _finite(result))
        print(f"wrote {path}")


def run_ratios(args: argparse.Namespace, device) -> int:
    import torch

    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run_ratios(args, device)
    finally:
        torch.set_num_threads(threads_before)


def _run_ratios(args: argparse.Namespace, device) -> int:
    from gatedvae.bench.throughput import QUICK, Budget, run_throughput

    base = QUICK if args.quick else Budget()
    budget = Budget(mlp_steps=args.mlp_steps or base.mlp_steps, conv_steps=args.conv_steps or base.conv_steps,
                    warmup_steps=base.warmup_steps if args.warmup_steps is None else args.warmup_steps,
                    rounds=args.rounds or base.rounds, sampler_pairs=base.sampler_pairs)
    info = machine(device)
    result = run_throughput(hidden=args.hidden, device=str(device), budget=budget)
    info = note_end(info)
    print(f"\n{machine_line(info)}; bf16 {'measured' if result['bf16'] else 'not supported here'}\n")
    print(ratio_table(result["rows"]))
    _save(args.json, {"machine": info, "rows": [r.as_dict() for r in result["rows"]],
                      **{k: v for k, v in result.items() if k != "rows"}})
    return 0


def run_paper(args: argparse.Namespace, device) -> int:
    from gatedvae.bench.paper_scale import paper_scale_tables, run_paper_scale

    cuda = device.type == "cuda"
    size = args.size or ("paper" if cuda else "tiny")
    info = machine(device)
    result = run_paper_scale(
        device=str(device), size=size, concurrencies=args.concurrency or ([1, 2, 4, 8] if cuda else [1, 2]),
        steps=args.steps or (2000 if cuda else 8),
        warmup_steps=args.warmup_steps if args.warmup_steps is not None else (50 if cuda else 2),
        datasets=args.workloads, params_path=args.params,
        scale=None if args.scale == "none" else args.scale, scales_dir=args.scales_dir,
        precision=args.precision, threads=args.threads, timeout_s=args.worker_timeout)
    info = note_end(info)
    where = f"{'GPU ' + info['gpu'] if cuda else 'CPU (' + info['cpu'] + ')'}"
    print(f"\nfigures from: {where}, {size} size"
          + ("" if size == "paper" else " (tests the machinery; not paper-size figures)")
          + f"; {machine_line(info)}\n")
    print(paper_scale_tables(result))
    _save(args.json, {"machine": info, **result})
    return 0


def run(args: argparse.Namespace) -> int:
    from gatedvae.training.infer import resolve_device

    device = resolve_device(args.device)
    return run_paper(args, device) if args.paper_scale else run_ratios(args, device)
