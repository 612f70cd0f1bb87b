"""Is the CUDA device a params value asks for there? Answered without importing torch (the params
check runs first in every `dvc repro` and must stay cheap).

Two facts decide it: whether the installed torch was built with CUDA (its `torch/version.py`
says `cuda = None` for a CPU build), and how many NVIDIA GPUs this machine shows (the driver's
/proc entries or /dev/nvidiaN nodes, narrowed by CUDA_VISIBLE_DEVICES). A coordinator without a
GPU that hands training to GPU workers sets GATEDVAE_SKIP_DEVICE_CHECK=1 (or uses `auto`).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

SKIP_ENV = "GATEDVAE_SKIP_DEVICE_CHECK"


def torch_build() -> tuple[str | None, str | None]:
    """(torch version, CUDA version it was built for or None), read from torch/version.py;
    (None, None) when torch is not installed."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None, None
    text = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text()
    version = re.search(r"^__version__\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
    cuda = re.search(r"^cuda\s*(?::[^=]*)?=\s*(?:['\"]([^'\"]+)['\"]|None)", text, re.M)
    return (version.group(1) if version else None), (cuda.group(1) if cuda else None)


def visible_gpus() -> int:
    """How many NVIDIA GPUs a CUDA program here would see."""
    proc = Path("/proc/driver/nvidia/gpus")
    count = len(list(proc.iterdir())) if proc.is_dir() else \
        len([p for p in Path("/dev").glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name)])
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        chosen = [v for v in visible.split(",") if v.strip() and not v.strip().startswith("-")]
        count = min(count, len(chosen))
    return count


def device_problem(device: str) -> str | None:
    """What stops `device` (auto | cpu | cuda | cuda:N) from being used here, or None."""
    if not device.startswith("cuda") or os.environ.get(SKIP_ENV) == "1":
        return None
    version, cuda = torch_build()
    if version is None:
        return "asks for CUDA, but torch is not installed"
    if cuda is None:
        return (f"asks for CUDA, but the installed torch ({version}) is built for the CPU only: "
                "set auto or cpu, or install a CUDA build of torch")
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    count = visible_gpus()
    if index >= count:
        return (f"asks for GPU {index}, but this machine shows {count} NVIDIA GPU(s): set auto or cpu"
                f" (or {SKIP_ENV}=1 where GPU workers, not this machine, train)")
    return None
