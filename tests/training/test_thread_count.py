"""Same params, same bytes, whatever the machine's cores: a real dSprites training stage run at
OMP_NUM_THREADS=1 and =2 writes identical model.pt bytes, because the stage pins its threads to
`compute.threads` (gatedvae.threads). The control: a different `compute.threads` does change the
bytes, so the sizes here are ones where the thread count reaches the arithmetic."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DATA = ["--images", "data/dsprites/images.npy"]


def _params(threads: int) -> str:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["compute"]["threads"] = threads
    params["dsprites"]["acquire"].update(source="generate", n_images=1024, seed=0)
    params["dsprites"]["net"]["hidden"] = 64
    params["dsprites"]["train"].update(epochs=1, batch_size=128, device="cpu")
    params["dsprites"]["evaluate"].update(n_train=600, n_test=300, gbt_n_train=0, gbt_n_test=0)
    return yaml.safe_dump(params)


def _stage(folder: Path, script: str, *args: str, omp: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GATEDVAE_PARAMS_LOG", "DVC_STAGE")}
    done = subprocess.run([sys.executable, str(REPO / "stages" / script), *args], cwd=folder,
                          env={**env, "OMP_NUM_THREADS": omp, "MKL_NUM_THREADS": omp},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _trained_bytes(folder: Path, *, threads: int, omp: str) -> str:
    """sha256 of model.pt from the acquire, pairs and train stages run in `folder`."""
    folder.mkdir()
    (folder / "params.yaml").write_text(_params(threads))
    _stage(folder, "dsprites_acquire.py", "--source", "external", *DATA,
           "--factors", "data/dsprites/factors.parquet", omp=omp)
    _stage(folder, "dsprites_pairs.py", "--factors", "data/dsprites/factors.parquet",
           "--out", "data/dsprites/groups.parquet", omp=omp)
    _stage(folder, "dsprites_train.py", "--model", "beta_vae", "--gating", "gated", "--seed", "0",
           *DATA, "--groups", "data/dsprites/groups.parquet", "--out", "model.pt", "--log-dir", "log",
           omp=omp)
    return hashlib.sha256((folder / "model.pt").read_bytes()).hexdigest()


def test_training_bytes_follow_compute_threads_not_the_machine(tmp_path):
    one_core = _trained_bytes(tmp_path / "omp1", threads=2, omp="1")
    two_cores = _trained_bytes(tmp_path / "omp2", threads=2, omp="2")
    assert one_core == two_cores
    other_setting = _trained_bytes(tmp_path / "threads1", threads=1, omp="2")
    assert other_setting != two_cores
