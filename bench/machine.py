"""What a benchmark ran on, for pytest-benchmark's ``machine_info``: CPU, BLAS, GPU and driver, versions.

Numbers without this are not comparable: the same code is 3x apart between OpenBLAS
and MKL, or with one thread pool fighting another for two cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from typing import Any

from xpnet import backends
from xpnet.machine import dist_version, facts

#: Environment variables that change what BLAS and the frameworks do, recorded when set.
ENV_VARS = (
    "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY",
    "XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "CUDA_VISIBLE_DEVICES", "CUPY_TF32",
    "KERAS_BACKEND",
)
#: Distributions of the peers and tools, reported with their versions.
DISTRIBUTIONS = ("numpy", "array-api-compat", "keras", "onnx", "onnxruntime", "pytest-benchmark", "threadpoolctl")


def blas() -> list[dict[str, Any]]:
    """Every BLAS and OpenMP library loaded in this process, with its threads (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl is not installed"}]
    keys = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [{k: lib.get(k) for k in keys} | {"library": os.path.basename(lib["filepath"])}
            for lib in threadpool_info()]


def gpus() -> list[dict[str, str]]:
    """Each NVIDIA GPU's name, driver and memory (nvidia-smi); empty without one."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return [{"error": f"nvidia-smi failed: {err}"}]
    keys = ("name", "driver", "memory", "max_sm_clock", "max_mem_clock")
    return [dict(zip(keys, (v.strip() for v in line.split(",")), strict=False)) for line in out.splitlines() if line]


def versions() -> dict[str, str | None]:
    return {dist: dist_version(dist) for dist in DISTRIBUTIONS}


def info(pairs: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """The machine and software a run used; ``pairs`` are the (backend, device) it benchmarked."""
    statuses = {}
    for name, device in pairs:
        st = backends.status(name, device)
        statuses[f"{name}-{device}"] = {"available": st.available, "version": st.version, "reason": st.reason}
    return {
        **facts(),
        "cpu_count": os.cpu_count(),
        "blas": blas(),
        "gpus": gpus(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "backends": statuses,
        "versions": versions(),
    }
