"""Machine description written into every benchmark's JSON (imported by the scripts)."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info(packages: tuple[str, ...] = (), *, torch: bool = True,
                 **extra: Any) -> dict[str, Any]:
    """CPU, cores, load, Python, platform, package versions, and torch threads/GPU."""
    versions: dict[str, str] = {}
    for name in packages:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    info: dict[str, Any] = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "load_average_at_start": os.getloadavg(),
        "versions": versions,
    }
    if torch:
        import torch as _torch

        info["torch_threads"] = _torch.get_num_threads()
        info["gpu"] = (_torch.cuda.get_device_name(0) if _torch.cuda.is_available() else None)
    info.update(extra)
    return info
