"""Per-stage dispatch on this machine: the project's tiny DAG with 1 and 2 workers, against a
plain `dvc repro` of the same commit, all in fresh clones of the committed HEAD.

    python benchmarks/dispatch_fleet.py --workers 1 2 --targets dsprites_aggregate

A temporary Prefect server, a process work pool, a local folder as the DVC remote and real
`gatedvae flow worker` processes, each in its own clone (standing in for a machine). Each
dispatch gets a fresh remote and fresh clones, so nothing is cached between measurements.
Prints a table and writes it as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def sh(*args, cwd, env, check=True):
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and done.returncode:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def clone(src: Path, dest: Path, env) -> Path:
    sh("git", "clone", "-q", src, dest, cwd=src.parent, env=env)
    return dest


def coordinator_checkout(base: Path, scale: str, env) -> Path:
    """A clone of HEAD at `scale`, with a DVC remote in base/remote, committed."""
    coord = clone(ROOT, base / "coordinator", env)
    sh(BIN / "gatedvae", "scale", scale, cwd=coord, env=env)
    (base / "remote").mkdir()
    sh(BIN / "dvc", "remote", "add", "-d", "shared", base / "remote", cwd=coord, env=env)
    sh("git", "-c", "user.name=bench", "-c", "user.email=b@b", "commit", "-qam",
       f"{scale} scale, local DVC remote", cwd=coord, env=env)
    return coord


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, env) -> tuple[subprocess.Popen, dict]:
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(env, PREFECT_HOME=str(home), PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    server = subprocess.Popen([BIN / "prefect", "server", "start", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 120
    while sh(BIN / "prefect", "work-pool", "ls", cwd=home, env=env, check=False).returncode:
        if time.monotonic() > deadline:
            raise SystemExit("the Prefect server did not start")
        time.sleep(1)
    return server, env


def stop(proc: subprocess.Popen) -> None:
    import psutil

    try:
        parent = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        return
    for p in parent.children(recursive=True) + [parent]:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(parent.children(recursive=True) + [parent], timeout=15)


def measure_dispatch(n_workers: int, base: Path, scale: str, targets, env) -> dict:
    base.mkdir(parents=True)
    coord = coordinator_checkout(base, scale, env)
    pool = f"bench{n_workers}"
    sh(BIN / "prefect", "work-pool", "create", pool, "--type", "process", cwd=base, env=env)
    sh(BIN / "gatedvae", "flow", "deploy-stages", "--pool", pool, cwd=coord, env=env)
    workers = []
    worker_env = dict(env, PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="1")
    for i in range(n_workers):
        checkout = clone(coord, base / f"w{i + 1}", env)
        workers.append(subprocess.Popen(
            [BIN / "gatedvae", "flow", "worker", "--pool", pool, "--checkout", checkout, "--slots", "1",
             "--name", f"w{i + 1}"], cwd=base, env=worker_env, stdout=open(base / f"w{i + 1}.log", "w"),
            stderr=subprocess.STDOUT, start_new_session=True))
    time.sleep(8)  # workers register
    try:
        started = time.monotonic()
        done = sh(BIN / "gatedvae", "flow", "run", "--dispatch", pool, "--repo", coord,
                  *(["--targets", *targets] if targets else []), cwd=coord, env=env, check=False)
        seconds = time.monotonic() - started
    finally:
        for w in workers:
            stop(w)
    if done.returncode:
        raise SystemExit(f"dispatch with {n_workers} worker(s) failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    rows = [line.split() for line in done.stdout.splitlines()[1:] if line.strip()]
    per_worker: dict[str, int] = {}
    for row in rows:
        per_worker[row[-1]] = per_worker.get(row[-1], 0) + 1
    status = sh(BIN / "dvc", "status", "--json", cwd=coord, env=env).stdout.strip()
    return {"workers": n_workers, "seconds": round(seconds, 1), "stages": len(rows),
            "stages_per_worker": per_worker, "coordinator_dvc_status_clean": status in ("{}", ""),
            "dvc_lock": (coord / "dvc.lock").read_text()}


def compare_locks(mine: str, plain: str) -> dict:
    """Stage order and output hashes of two dvc.lock files (outputs whose bytes depend on the
    run, e.g. logs holding timings, differ between any two runs)."""
    import yaml

    a, b = yaml.safe_load(mine)["stages"], yaml.safe_load(plain)["stages"]

    def hashes(entry):
        return {o["path"]: o.get("md5") for o in entry.get("outs", [])}

    differing = sorted(f"{stage}: {path}" for stage in a.keys() & b.keys()
                       for path, md5 in hashes(a[stage]).items() if hashes(b[stage]).get(path) != md5)
    return {"same_stages_in_order": list(a) == list(b), "identical": mine == plain,
            "differing_outputs": differing}


def measure_plain(base: Path, scale: str, targets, env) -> dict:
    base.mkdir(parents=True)
    coord = coordinator_checkout(base, scale, env)
    started = time.monotonic()
    sh(BIN / "dvc", "repro", *(targets or []), cwd=coord, env=env)
    return {"seconds": round(time.monotonic() - started, 1), "dvc_lock": (coord / "dvc.lock").read_text()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scale", default="tiny")
    parser.add_argument("--targets", nargs="*", default=["dsprites_aggregate"])
    parser.add_argument("--out", default="reports/benchmarks/dispatch.json")
    args = parser.parse_args()
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    scratch = Path(tempfile.mkdtemp(prefix="gatedvae-dispatch-bench-"))
    server, env = start_server(scratch / "prefect-home", env)
    try:
        plain = measure_plain(scratch / "plain", args.scale, args.targets, env)
        runs = [measure_dispatch(n, scratch / f"dispatch-{n}", args.scale, args.targets, env)
                for n in args.workers]
    finally:
        stop(server)
    for run in runs:
        run["dvc_lock_vs_plain_repro"] = compare_locks(run.pop("dvc_lock"), plain["dvc_lock"])
    plain.pop("dvc_lock")
    result = {"scale": args.scale, "targets": args.targets, "cpus": os.cpu_count(),
              "plain_dvc_repro_seconds": plain["seconds"], "dispatch": runs}
    print(f"plain dvc repro: {plain['seconds']:.0f} s")
    for run in runs:
        lock = run["dvc_lock_vs_plain_repro"]
        print(f"dispatch, {run['workers']} worker(s): {run['seconds']:.0f} s "
              f"({run['seconds'] / plain['seconds']:.2f}x the plain repro), stages per worker "
              f"{run['stages_per_worker']}; dvc.lock: same stages in the same order "
              f"{lock['same_stages_in_order']}, identical {lock['identical']}, outputs that "
              f"differ {lock['differing_outputs']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
