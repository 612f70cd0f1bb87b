"""GPU slots: one training job per GPU.

Two layers. Across every worker and flow run, a GPU stage holds a slot of a Prefect global
concurrency limit (default name `gpu`; create it with `prefect gcl create gpu --limit N`, N =
the number of GPUs in the fleet). Within one flow run on one machine, a GPU stage also takes
one device id from the devices this worker may use and runs with CUDA_VISIBLE_DEVICES set to
it, so two stages never share a card.
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
                 enforce_limit: bool = True):
        self.limit_name = limit_name if enforce_limit else None
        self.devices = list(devices)
        self._free: queue.Queue[str] = queue.Queue()
        for device in self.devices:
            self._free.put(device)

    @classmethod
    def for_flow(cls, limit_name: str | None, devices: Sequence[str] | str | None,
                 logger: logging.Logger | logging.LoggerAdapter) -> "GpuSlots":
        devices = visible_devices(devices)
        enforce = bool(limit_name) and limit_exists(limit_name)
        if limit_name and not enforce:
            logger.warning("No Prefect concurrency limit named %r: GPU stages are not throttled "
                           "across workers. Create it with `prefect gcl create %s --limit N`.",
                           limit_name, limit_name)
        if devices:
            logger.info("GPU stages get one device each from %s (CUDA_VISIBLE_DEVICES)", devices)
        return cls(limit_name, devices, enforce)

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
