"""Result rows, the Markdown table, the JSON file, and a note of the machine the figures come from."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass

import torch


@dataclass
class Ratio:
    """measured / baseline, both measured in the same process and run."""

    measurement: str
    net: str
    baseline: float      # images/s (pairs/s for the pair sampler row)
    measured: float

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline > 0 else math.nan

    def as_dict(self) -> dict:
        return {"measurement": self.measurement, "net": self.net, "baseline_per_s": self.baseline,
                "measured_per_s": self.measured, "ratio": self.ratio}


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio_table(rows: list[Ratio]) -> str:
    return markdown_table(
        ["measurement", "net", "baseline images/s", "measured images/s", "ratio"],
        [[r.measurement, r.net, f"{r.baseline:,.0f}", f"{r.measured:,.0f}", f"{r.ratio:.2f}x"]
         for r in rows])


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_supported(device: torch.device) -> bool:
    """Whether autocast to bfloat16 runs on this device (tried, not guessed)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            torch.nn.functional.linear(torch.ones(2, 4, device=device), torch.ones(3, 4, device=device))
        return True
    except (RuntimeError, TypeError):
        return False


def machine(device: torch.device) -> dict:
    """Where the figures come from: device, threads, and the load when measured."""
    flags = _cpu_flags()
    out = {"device": str(device), "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
           "cpu_capability": torch.backends.cpu.get_cpu_capability(),
           "cpu_bf16_instructions": sorted(flags & {"avx512_bf16", "amx_bf16"}),
           "load_average_1min_at_start": round(os.getloadavg()[0], 2)}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def note_end(info: dict) -> dict:
    """The load when the measurements ended (other work on the machine slows them)."""
    return {**info, "load_average_1min_at_end": round(os.getloadavg()[0], 2)}


def machine_line(info: dict) -> str:
    where = info.get("gpu") or info["cpu"]
    end = info.get("load_average_1min_at_end")
    return (f"device {info['device']} ({where}); {info['cpu_count']} CPU cores, "
            f"{info['torch_threads']} torch threads; torch {info['torch']}; 1-min load average "
            f"{info['load_average_1min_at_start']} at start" + (f", {end} at end" if end is not None else ""))
