"""Run the flow in-process and read back what the Prefect server recorded."""

from __future__ import annotations

import time
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, LogFilter
from prefect.client.schemas.sorting import LogSort, TaskRunSort


def run_flow(root, **params):
    """Run the pipeline flow; return (final state, summary or exception, flow run id)."""
    from gatedvae.orchestration.flow import dvc_pipeline

    params.setdefault("retry_delay_seconds", 0.0)
    state = dvc_pipeline(repo=str(root), **params, return_state=True)
    return state, state.result(raise_on_failure=False), state.state_details.flow_run_id


def task_run_states(flow_run_id: UUID, expected: int, timeout: float = 60) -> dict[str, object]:
    """Task run name -> task run, as the API (and so the UI) shows them once all are final."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id={"any_": [flow_run_id]}),
                                         sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200)
            final = [r for r in runs if r.state and (r.state.is_final() or r.state.name == "NotReady")]
            if len(final) >= expected or time.monotonic() > deadline:
                return {r.name: r for r in runs}
            time.sleep(0.5)


def flow_logs(flow_run_id: UUID, must_contain: str | None = None, timeout: float = 30) -> list:
    """Log records of a flow run and its tasks (waits until `must_contain` shows up)."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            logs = []
            while True:  # pages of 200, the API's limit
                page = client.read_logs(log_filter=LogFilter(flow_run_id={"any_": [flow_run_id]}),
                                        limit=200, offset=len(logs), sort=LogSort.TIMESTAMP_ASC)
                logs.extend(page)
                if len(page) < 200:
                    break
            if must_contain is None or any(must_contain in log.message for log in logs) \
                    or time.monotonic() > deadline:
                return logs
            time.sleep(0.5)
