"""The Prefect cache policy of a stage task, keyed on what DVC tracks.

Key = sha256 of the stage's command, its dependencies' DVC hashes, its params' values and its
declared outputs (see stagestate). Prefect's default policy hashes the task's inputs and the
flow run id, so nothing would be reused across runs; this key is the same in every run, on
every machine, as long as DVC would consider the stage's inputs unchanged.

A cached task must not lie about the workspace, so before offering the key:
- outputs missing or modified while inputs still match dvc.lock are restored with
  `dvc checkout` (`dvc pull` when a remote is in use), and the task shows as Cached;
- if the workspace still does not hold this stage's outputs (e.g. `cache: false` outputs
  were deleted, or the inputs changed back to an older state), a record under the key would
  make Prefect skip work that must happen, so the task runs uncached instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext

from gatedvae.orchestration.dvccli import child_env, run_dvc
from gatedvae.orchestration.stagestate import StageState, inspect_stage

KEY_PREFIX = "dvc-stage-"


def cache_key(state: StageState) -> str | None:
    return None if state.fingerprint is None else KEY_PREFIX + state.fingerprint


def restore_outputs(root: Path, name: str, use_remote: bool,
                    logger: logging.Logger | logging.LoggerAdapter) -> bool:
    """Bring back a stage's outputs: `dvc pull` with a remote (it fetches only what the local
    cache lacks), else `dvc checkout`; True on success."""
    args = ["pull", "--force", name] if use_remote else ["checkout", "--force", name]
    return run_dvc(args, root, logger.info, env=child_env()).ok


class DvcStageCachePolicy(CachePolicy):
    """Reads the task parameters `root`, `stage`, `use_remote` and `force`."""

    def compute_key(self, task_ctx: TaskRunContext, inputs: dict[str, Any],
                    flow_parameters: dict[str, Any], **kwargs: Any) -> Optional[str]:
        from prefect.logging import get_run_logger

        logger = get_run_logger()
        root, name = Path(inputs["root"]), inputs["stage"]
        if inputs.get("force"):
            return None
        state = inspect_stage(root, name)
        key = cache_key(state)
        if key is None or state.always_changed:
            return None
        if state.restorable:
            logger.info("Inputs unchanged but outputs %s; restoring them with DVC",
                        ", ".join(f"{p} ({s})" for entry in state.status
                                  for p, s in entry["changed outs"].items()))
            if restore_outputs(root, name, bool(inputs.get("use_remote")), logger):
                state = inspect_stage(root, name)
        if state.up_to_date:
            return key
        if task_ctx.result_store.exists(key):
            logger.info("A cached result exists for these inputs, but the workspace does not "
                        "hold its outputs; running the stage without the cache")
            return None
        return key
