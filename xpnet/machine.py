"""The machine a run used, in a few facts (CPU model, usable CPUs, memory, platform, Python), for its reports.

Numbers without the machine they came from cannot be compared; ``xpnet run``'s report and
``xpnet bench``'s ``machine_info`` both start from these.
"""

from __future__ import annotations

import os
import platform
from typing import Any


def cpu_model() -> str:
    """The CPU's marketing name (Linux /proc/cpuinfo; the platform's guess elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    """Physical memory in GiB, to one decimal; None where the platform does not say."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def cpus_usable() -> int | None:
    """The CPUs this process may run on (a container's or a taskset's share, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def dist_version(name: str) -> str | None:
    """The installed version of the pip distribution ``name``, read from its metadata (no import); None if absent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def facts() -> dict[str, Any]:
    """CPU model, usable CPUs, memory, operating system and Python of this machine."""
    return {"cpu_model": cpu_model(), "cpus_usable": cpus_usable(), "memory_gib": memory_gib(),
            "platform": platform.platform(), "python": platform.python_version()}


def describe(f: dict[str, Any]) -> str:
    """``facts()`` in one line: "AMD EPYC, 2 CPUs, 23.5 GiB, Linux-...; Python 3.11.7"."""
    return (f"{f['cpu_model']}, {f['cpus_usable']} CPUs, {f['memory_gib']} GiB, {f['platform']}; "
            f"Python {f['python']}")
