"""GPU slots: K training jobs per GPU (K = slots_per_gpu, 1 by default).

Two layers. Across every worker and flow run, a GPU stage holds a slot of a Prefect global
concurrency limit (default name `gpu`; create it with `prefect gcl create gpu --limit N`, N =
GPUs in the fleet x K). On one machine, a GPU stage also takes one device id and runs with
CUDA_VISIBLE_DEVICES set to it, so at most K stages share a card: within one flow run from a
queue holding each device K times (GpuSlots); across the flow runs of per-stage dispatch, from
K lock files per device on the machine (device_slot).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

LOCK_DIR_ENV = "GATEDVAE_GPU_LOCKS"


def visible_devices(explicit: Sequence[str] | str | None = None) -> list[str]:
    """The GPU ids this process may hand out: `explicit`, else $CUDA_VISIBLE_DEVICES, else none."""
    if explicit is None:
        explicit = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if isinstance(explicit, str):
        explicit = explicit.split(",")
    return [d.strip() for d in explicit if str(d).strip()]


def limit_exists(name: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return False
    return True


class GpuSlots:
    """Hands out GPU slots to stage tasks of one flow run (thread-safe)."""

    def __init__(self, limit_name: str | None, devices: Sequence[str] = (),
                 enforce_limit: bool = True, slots_per_gpu: int = 1):
        if slots_per_gpu < 1:
            raise ValueError(f"slots_per_gpu must be >= 1, got {slots_per_gpu}")
        self.limit_name = limit_name if enforce_limit else None
        self.devices = list(devices)
        self.slots_per_gpu = slots_per_gpu
        self._free: queue.Queue[str] = queue.Queue()
        for _ in range(slots_per_gpu):  # device-major order fills every card before doubling up
            for device in self.devices:
                self._free.put(device)

    @classmethod
    def for_flow(cls, limit_name: str | None, devices: Sequence[str] | str | None,
                 logger: logging.Logger | logging.LoggerAdapter, slots_per_gpu: int = 1) -> "GpuSlots":
        devices = visible_devices(devices)
        enforce = bool(limit_name) and limit_exists(limit_name)
        if limit_name and not enforce:
            logger.warning("No Prefect concurrency limit named %r: GPU stages are not throttled "
                           "across workers. Create it with `prefect gcl create %s --limit N`.",
                           limit_name, limit_name)
        if devices:
            logger.info("GPU stages get one device each from %s (CUDA_VISIBLE_DEVICES), %d per "
                        "device", devices, slots_per_gpu)
        return cls(limit_name, devices, enforce, slots_per_gpu)

    @contextlib.contextmanager
    def slot(self, logger: logging.Logger | logging.LoggerAdapter) -> Iterator[str | None]:
        """Hold a slot of the limit and, when devices are known, one device id (else None)."""
        if self.limit_name:
            from prefect.concurrency.sync import concurrency

            logger.info("Waiting for a slot of concurrency limit %r", self.limit_name)
            limit = concurrency(self.limit_name, occupy=1, strict=True)
        else:
            limit = contextlib.nullcontext()
        with limit:
            device = self._free.get() if self.devices else None
            if device is not None:
                logger.info("Running on GPU %s (CUDA_VISIBLE_DEVICES=%s)", device, device)
            try:
                yield device
            finally:
                if device is not None:
                    self._free.put(device)


def fleet_limit(limit_name: str | None, logger) -> contextlib.AbstractContextManager:
    """A slot of the fleet-wide GPU limit, or nothing (with a warning) when it does not exist."""
    if not limit_name:
        return contextlib.nullcontext()
    if not limit_exists(limit_name):
        logger.warning("No Prefect concurrency limit named %r: GPU stages are not throttled "
                       "across workers. Create it with `prefect gcl create %s --limit N`.",
                       limit_name, limit_name)
        return contextlib.nullcontext()
    from prefect.concurrency.sync import concurrency

    return concurrency(limit_name, occupy=1, strict=True)


def slot_lock_dir() -> Path:
    """Where this machine's GPU place locks live: $GATEDVAE_GPU_LOCKS, else a folder per user
    in the system temp dir (every worker of one user on a machine shares it)."""
    explicit = os.environ.get(LOCK_DIR_ENV)
    if explicit:
        return Path(explicit)
    return Path(tempfile.gettempdir()) / f"gatedvae-gpu-slots-{os.getuid()}"


def _places(devices: Sequence[str], slots_per_gpu: int, folder: Path) -> list[tuple[str, Path]]:
    """(device, lock file) of every place, place-major: every card once before any card twice."""
    return [(device, folder / f"gpu{device}-place{k}.lock")
            for k in range(slots_per_gpu) for device in devices]


def _try_lock(path: Path):
    """An open file holding an exclusive lock on `path`, or None when another process holds it."""
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@contextlib.contextmanager
def device_slot(devices: Sequence[str], slots_per_gpu: int,
                logger: logging.Logger | logging.LoggerAdapter,
                poll_seconds: float = 0.5, lock_dir: Path | None = None) -> Iterator[str | None]:
    """One of at most `slots_per_gpu` places on one of this machine's `devices`, held as an OS
    file lock (`gpu<id>-place<k>.lock` under slot_lock_dir()), so the separate flow runs of
    per-stage dispatch share the cards fairly. A machine-local lock rather than a Prefect limit:
    the kernel frees it when its process ends, however it ends, so a killed stage never leaves
    its card held, and taking one needs no round trip to the server. Yields the device id
    (None without devices)."""
    if not devices:
        yield None
        return
    if slots_per_gpu < 1:
        raise ValueError(f"slots_per_gpu must be >= 1, got {slots_per_gpu}")
    folder = lock_dir or slot_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    places = _places(devices, slots_per_gpu, folder)
    logger.info("Waiting for a place on one of GPUs %s (%d stage(s) per GPU)", list(devices), slots_per_gpu)
    while True:
        for device, path in places:
            handle = _try_lock(path)
            if handle is None:
                continue
            logger.info("Running on GPU %s (CUDA_VISIBLE_DEVICES=%s)", device, device)
            try:
                yield device
            finally:
                handle.close()  # closing the file releases the lock
            return
        time.sleep(poll_seconds)


def places_held(devices: Sequence[str], slots_per_gpu: int, lock_dir: Path | None = None) -> list[str]:
    """The lock files of `devices` that some process holds now (for checks and tests)."""
    held = []
    for _, path in _places(devices, slots_per_gpu, lock_dir or slot_lock_dir()):
        if not path.exists():
            continue
        handle = _try_lock(path)
        if handle is None:
            held.append(path.name)
        else:
            handle.close()
    return held
