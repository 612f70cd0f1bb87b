"""`gatedvae bench --paper-scale`: paper-size runs sharing one device, and the paper-scale DAG's
projected training time.

For each workload (dSprites MLP, faces conv net, both configured from params.yaml with the paper
scale's overlay) and each concurrency c: c worker processes (bench/worker.py) launched at once,
each one engine epoch of a fixed number of steps, started together after their warm-up. Per-run
images/s is each engine's own figure; aggregate images/s is all images over the span from the
first timed epoch's start to the last one's end. The projection divides each workload's training
images in the paper-scale DAG (dag_images.py) by its best aggregate.

On CUDA it runs the paper size by default; without CUDA a tiny size (a test of the machinery,
whose figures say nothing about the paper size), unless --size paper.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from gatedvae.bench.dag_images import StageImages, images_per_dataset, scaled_params, training_images
from gatedvae.bench.report import markdown_table
from gatedvae.params import get
from gatedvae.training.config import TrainConfig

TINY = {"dsprites": {"hidden": 64, "batch_size": 32}, "faces": {"hidden": 32, "batch_size": 32}}


def workload_configs(params: dict, *, size: str, device: str, precision: str | None) -> dict[str, TrainConfig]:
    """The gated beta-VAE run of each dataset as params configures it (paper scale: dSprites MLP
    hidden 1200, batch 128; faces conv hidden 256, batch 64), or the tiny size."""
    from gatedvae.dsprites import config as dsprites_config
    from gatedvae.faces import config as faces_config

    configs = {
        "dsprites": dsprites_config.train_config(params, model="beta_vae", gating="gated", seed=0),
        "faces": faces_config.train_config(params, gating="gated",
                                           image_size=int(get(params, "faces.align.size"))),
    }
    out = {}
    for dataset, cfg in configs.items():
        changes = {"device": device, "epochs": 1, **(TINY[dataset] if size == "tiny" else {})}
        if precision:
            changes["precision"] = precision
        out[dataset] = dataclasses.replace(cfg, **changes)
    return out


def _read_marked_line(stream, mark: str) -> str | None:
    for line in stream:
        if line.startswith(mark):
            return line[len(mark):].strip()
    return None


def run_concurrent(cfg: TrainConfig, *, concurrency: int, steps: int, warmup_steps: int,
                   threads: int, timeout_s: float) -> dict:
    """`concurrency` worker processes of cfg, timed epochs started together."""
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="gatedvae-bench-paper-") as tmp:
        errors = [Path(tmp) / f"worker{i}.err" for i in range(concurrency)]
        for i in range(concurrency):
            spec = {"config": dataclasses.asdict(dataclasses.replace(cfg, seed=i)), "steps": steps,
                    "warmup_steps": warmup_steps, "threads": threads}
            with open(errors[i], "w") as err:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "gatedvae.bench.worker", json.dumps(spec)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True))
        watchdog = threading.Timer(timeout_s, lambda: [p.kill() for p in procs if p.poll() is None])
        watchdog.start()

        def failure(i: int) -> RuntimeError:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
            procs[i].wait()
            return RuntimeError(f"bench worker {i + 1}/{concurrency} failed (exit {procs[i].returncode}"
                                f"{'; timed out' if not watchdog.is_alive() else ''}):\n"
                                + errors[i].read_text()[-3000:])

        try:
            for i, proc in enumerate(procs):
                if _read_marked_line(proc.stdout, "READY") is None:
                    raise failure(i)
            for proc in procs:  # all warmed up: start the timed epochs together
                proc.stdin.write("go\n")
                proc.stdin.flush()
            results = []
            for i, proc in enumerate(procs):
                line = _read_marked_line(proc.stdout, "RESULT ")
                if line is None:
                    raise failure(i)
                proc.wait()
                results.append(json.loads(line))
        finally:
            watchdog.cancel()
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    started = min(r["ended"] - r["loop_seconds"] for r in results)
    span = max(r["ended"] for r in results) - started
    per_run = [r["images_per_second"] for r in results]
    return {"concurrency": concurrency, "threads_per_run": results[0]["threads"],
            "worker_pids": [r["pid"] for r in results],
            "per_run_images_per_s": per_run, "mean_per_run_images_per_s": sum(per_run) / len(per_run),
            "aggregate_images_per_s": sum(r["images"] for r in results) / span, "span_s": span}


def projection(stages: list[StageImages], best: dict[str, dict]) -> dict:
    """Each dataset's training images over its best aggregate images/s (None where unmeasured)."""
    per_dataset = {}
    for dataset, images in images_per_dataset(stages).items():
        rate = best.get(dataset)
        per_dataset[dataset] = {"images": images,
                                "best_aggregate_images_per_s": rate["aggregate_images_per_s"] if rate else None,
                                "at_concurrency": rate["concurrency"] if rate else None,
                                "hours": images / rate["aggregate_images_per_s"] / 3600 if rate else None}
    hours = [p["hours"] for p in per_dataset.values()]
    return {"per_dataset": per_dataset,
            "total_hours": sum(hours) if all(h is not None for h in hours) else None}


def run_paper_scale(*, device: str, size: str, concurrencies: list[int], steps: int,
                    warmup_steps: int, datasets: list[str], params_path: str, scale: str | None,
                    scales_dir: str, precision: str | None, threads: int | None, timeout_s: float,
                    progress=print) -> dict:
    """threads: torch threads per run (None: the cores shared out among the concurrent runs)."""
    params = scaled_params(scale, params_path, scales_dir)
    stages = training_images(params)
    configs = workload_configs(params, size=size, device=device, precision=precision)
    cores = os.cpu_count() or 1
    measured: dict[str, list[dict]] = {}
    for dataset in datasets:
        cfg = configs[dataset]
        measured[dataset] = []
        for c in concurrencies:
            progress(f"{dataset} ({cfg.net} hidden {cfg.hidden}, batch {cfg.batch_size}, "
                     f"{cfg.precision}): {c} concurrent run(s) of {steps} steps")
            measured[dataset].append(run_concurrent(cfg, concurrency=c, steps=steps,
                                                    warmup_steps=warmup_steps,
                                                    threads=threads or max(1, cores // c),
                                                    timeout_s=timeout_s))
    best = {d: max(rows, key=lambda r: r["aggregate_images_per_s"]) for d, rows in measured.items()}
    return {"size": size, "scale": scale, "steps_per_run": steps, "warmup_steps": warmup_steps,
            "configs": {d: dataclasses.asdict(configs[d]) for d in datasets},
            "concurrency": measured,
            "dag_stages": [{**dataclasses.asdict(s), "images": s.images} for s in stages],
            "projection": projection(stages, best)}


def paper_scale_tables(result: dict) -> str:
    parts = []
    rows = []
    for dataset, levels in result["concurrency"].items():
        cfg = result["configs"][dataset]
        for r in levels:
            per_run = r["per_run_images_per_s"]
            rows.append([dataset, f"{cfg['net']} h{cfg['hidden']} b{cfg['batch_size']} {cfg['precision']}",
                         r["concurrency"], r["threads_per_run"], f"{r['mean_per_run_images_per_s']:,.0f}",
                         f"{min(per_run):,.0f}-{max(per_run):,.0f}", f"{r['aggregate_images_per_s']:,.0f}"])
    parts.append(markdown_table(["workload", "net", "concurrent runs", "threads/run",
                                 "per-run images/s (mean)", "per-run min-max", "aggregate images/s"], rows))
    parts.append(markdown_table(
        ["DAG stage", "net", "runs", "epochs", "images/epoch", "training images"],
        [[s["stage"], s["net"], s["runs"], s["epochs"], f"{s['images_per_epoch']:,}", f"{s['images']:,}"]
         for s in result["dag_stages"]]))
    proj = result["projection"]
    rows = []
    for dataset, p in proj["per_dataset"].items():
        measured = p["hours"] is not None
        rows.append([dataset, f"{p['images']:,}",
                     f"{p['best_aggregate_images_per_s']:,.0f} (x{p['at_concurrency']})" if measured else "not measured",
                     f"{p['hours']:,.1f}" if measured else "-"])
    total = proj["total_hours"]
    rows.append(["all", f"{sum(p['images'] for p in proj['per_dataset'].values()):,}", "",
                 f"{total:,.1f} h = {total / 24:,.1f} days" if total is not None else "-"])
    parts.append(markdown_table(["workload", "training images", "best aggregate images/s", "projected hours"], rows))
    return "\n\n".join(parts)
