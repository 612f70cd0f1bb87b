"""GPU slots: K training jobs per GPU (K = slots_per_gpu, 1 by default).

Two layers. Across every worker and flow run, a GPU stage holds a slot of a Prefect global
concurrency limit (default name `gpu`; create it with `prefect gcl create gpu --limit N`, N =
GPUs in the fleet x K). On one machine, a GPU stage also takes one device id and runs with
CUDA_VISIBLE_DEVICES set to it, so at most K stages share a card: within one flow run from a
queue holding each device K times (GpuSlots); across the flow runs of per-stage dispatch, from
Prefect limits named per machine and device (`gpu-<host>-<id>`, limit K; device_slot).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
from typing import Iterator, Sequence


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


def device_limit_name(host: str, device: str) -> str:
    return f"gpu-{host}-{device}"


@contextlib.contextmanager
def device_slot(devices: Sequence[str], slots_per_gpu: int, host: str,
                logger: logging.Logger | logging.LoggerAdapter,
                poll_seconds: float = 1.0) -> Iterator[str | None]:
    """One of at most `slots_per_gpu` places on one of this machine's `devices`, held through
    Prefect limits `gpu-<host>-<device>` (created with limit slots_per_gpu), so separate flow
    runs on one machine share its cards fairly. Yields the device id (None without devices)."""
    if not devices:
        yield None
        return
    import time

    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    names = [device_limit_name(host, d) for d in devices]
    with get_client(sync_client=True) as client:
        for name in names:
            client.upsert_global_concurrency_limit_by_name(name, slots_per_gpu)
    logger.info("Waiting for a place on one of GPUs %s (%d stage(s) per GPU)", list(devices), slots_per_gpu)
    with contextlib.ExitStack() as stack:
        while True:
            for device, name in zip(devices, names):
                try:
                    stack.enter_context(concurrency(name, occupy=1, timeout_seconds=0.1, strict=True))
                except TimeoutError:
                    continue
                logger.info("Running on GPU %s (CUDA_VISIBLE_DEVICES=%s)", device, device)
                yield device
                return
            time.sleep(poll_seconds)
