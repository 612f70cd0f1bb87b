"""The CPU threads a stage's arithmetic uses: fixed by params.yaml (`compute.threads`), never by
the machine.

A float sum split across threads (a matmul's blocks, a reduction, BatchNorm's statistics) rounds
differently for each thread count: the same tiny training at 1 and at 2 threads wrote different
model.pt bytes (max weight difference 2e-3), while two runs at one count were identical. So
every stage pins its thread count from params, and a result depends on `compute.threads`, which
DVC tracks, instead of on how many cores the machine that ran it happened to have.
"""

from __future__ import annotations

import os
import sys

from gatedvae.params import number

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def threads_setting(params: dict) -> int:
    return number(params, "compute.threads", integer=True, minimum=1)


def pin_threads(threads: int) -> None:
    """Every thread pool this process has or will have runs `threads` threads: torch's (set now
    when torch is loaded; read from the environment when it is loaded later), the BLAS and
    OpenMP libraries numpy and scikit-learn load, and those of any child process."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=threads)


def sharing_cores_env(stages_at_once: int) -> dict[str, str]:
    """The environment for a stage that runs beside others on one machine's cores. Each keeps
    its own thread count (its bytes depend on it), so the cores may hold more threads than they
    can run; OpenMP's default then spins at every barrier waiting for a thread that has no core
    (measured here, two 2-thread trainings on 2 cores: 2.4x slower each than alone at 1 thread).
    Passive waiting yields the core instead (the same two: 1.0x). Alone, spinning is faster
    (passive cost a 2-thread training 15-25%), so only stages that share the cores wait passively."""
    return {"OMP_WAIT_POLICY": "PASSIVE"} if stages_at_once > 1 else {}
