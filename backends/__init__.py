"""The backend registry: which frameworks xpnet knows, and which of them can run here.

Importing this package imports no framework. A backend's file is imported when the
backend is listed, and its framework only when a backend object is created, because a
framework may be missing, slow to import, or broken, and none of that may break
``import xpnet``.

Adding a backend is one file (a :class:`~xpnet.backends.base.Backend` subclass) and one
line in ``_REGISTRY``; every parity test, test fixture and benchmark then includes it.

Devices are named the same on every backend: ``"cpu"``, ``"gpu"``, ``"gpu:N"``, and ``"cpu:all"``,
``"gpu:all"`` where a backend splits a batch across every local device (see :func:`canonical_device`).
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from .base import DTYPES, Backend, BackendUnavailable, DeviceClock, canonical_device, device_kind, gpu_name

__all__ = [
    "DTYPES",
    "Backend",
    "BackendStatus",
    "BackendUnavailable",
    "DeviceClock",
    "available",
    "backend_class",
    "canonical_device",
    "device_kind",
    "get",
    "names",
    "namespace_of",
    "owner",
    "pairs",
    "status",
    "to_numpy",
    "visible_gpus",
]

#: name -> "module:class", in the order backends are listed and tested.
_REGISTRY: dict[str, str] = {
    "numpy": "numpy_backend:NumpyBackend",
    "jax": "jax_backend:JaxBackend",
    "tensorflow": "tensorflow_backend:TensorflowBackend",
    "torch": "torch_backend:TorchBackend",
    "cupy": "cupy_backend:CupyBackend",
    "array_api_strict": "strict_backend:StrictBackend",
    "dask": "dask_backend:DaskBackend",
}


def names() -> list[str]:
    """Every backend xpnet knows, installed or not."""
    return list(_REGISTRY)


def backend_class(name: str) -> type[Backend]:
    """The class behind ``name``, without importing its framework."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(_REGISTRY)}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def pairs() -> list[tuple[str, str]]:
    """Every (backend, device) xpnet knows, available here or not.

    Each backend's ``devices`` ("cpu", "gpu", then "cpu:all", "gpu:all"), and "gpu:1", "gpu:2", ... after
    "gpu" for a backend that knows "gpu" when :func:`visible_gpus` counts that many GPUs on this machine.
    """
    more_gpus = tuple(gpu_name(i) for i in range(1, visible_gpus()))
    return [(name, device) for name in _REGISTRY for device in backend_class(name).listed_devices(more_gpus)]


#: Where the NVIDIA driver lists one folder per GPU (a container sees only the GPUs it was given).
_NVIDIA_GPUS = "/proc/driver/nvidia/gpus"
#: One entry of CUDA_VISIBLE_DEVICES that CUDA accepts: an index or a GPU/MIG UUID.
_CUDA_VISIBLE_ENTRY = re.compile(r"\d+|GPU-[0-9a-fA-F-]+|MIG-[0-9a-fA-F/-]+")


def visible_gpus() -> int:
    """How many NVIDIA GPUs processes here may use, found without importing a framework.

    The driver's folders in ``/proc/driver/nvidia/gpus``, capped by ``CUDA_VISIBLE_DEVICES``
    (CUDA reads its entries up to the first invalid one, so "-1" or "" hides every GPU).
    A heuristic for listing devices only: a backend finds its GPUs itself when it is created,
    so a GPU counted here but not usable is reported absent with its reason, and one not counted
    (another vendor's, a machine without that folder) can still be asked for as "gpu:N".
    """
    try:
        count = len(os.listdir(_NVIDIA_GPUS))
    except OSError:
        return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return count
    usable = 0
    for entry in visible.split(","):
        if not _CUDA_VISIBLE_ENTRY.fullmatch(entry.strip()):
            break
        usable += 1
    return min(count, usable)


@cache
def _create(name: str, device: str) -> Backend:
    cls = backend_class(name)
    try:
        return cls(device)
    except ImportError as err:
        raise BackendUnavailable(
            f"{name} is not installed ({err}); install it with: pip install \"xpnet[{cls.extra}]\""
        ) from err


def get(name: str | Backend, device: str | None = None) -> Backend:
    """The backend ``name`` on ``device`` (its default device when None).

    Raises ``ValueError`` for an unknown backend or device name, and
    :class:`BackendUnavailable` when the framework is not installed or the device is absent.
    Backend objects are cached: asking twice gives the same object.
    """
    if isinstance(name, Backend):
        return name
    return _create(name, backend_class(name).canonical_device(device))


@dataclass(frozen=True)
class BackendStatus:
    """One row of ``xpnet backends``: whether (backend, device) runs here, and why not."""

    backend: str
    device: str
    available: bool
    version: str | None
    reason: str | None
    #: How many devices it computes on (more than 1 only for "cpu:all"/"gpu:all"); None when unavailable.
    device_count: int | None = None


def status(name: str, device: str) -> BackendStatus:
    """Try to create the backend and report the outcome, never raising for a missing framework or device.

    ``device`` is reported in xpnet's vocabulary ("cuda:1" as "gpu:1"); an unknown name is a ValueError.
    """
    device = backend_class(name).canonical_device(device)
    try:
        backend = get(name, device)
    except BackendUnavailable as err:
        version = backend_class(name).installed_version()
        return BackendStatus(name, device, False, version, str(err))
    return BackendStatus(name, device, True, backend.version, None, backend.device_count)


def available(names_: list[str] | None = None) -> list[tuple[str, str]]:
    """Every (backend, device) that runs here, optionally only for the backends in ``names_``."""
    wanted = names() if names_ is None else names_
    for name in wanted:
        backend_class(name)  # unknown names raise ValueError here
    return [(n, d) for n, d in pairs() if n in wanted and status(n, d).available]


def owner(x: Any) -> str:
    """The name of the backend whose framework made array ``x`` (TypeError for anything else)."""
    found = _owner_or_none(x)
    if found is None:
        raise TypeError(f"{type(x).__module__}.{type(x).__qualname__} is not an array of any xpnet backend")
    return found


def _owner_or_none(x: Any) -> str | None:
    return next((name for name in _REGISTRY if backend_class(name).owns(x)), None)


def _frameworks(arrays: tuple[Any, ...]) -> list[str]:
    """The distinct frameworks of ``arrays``: a backend's name, or the type of an object no backend owns."""
    found: dict[str, None] = {}
    for a in arrays:
        if not isinstance(a, bool | int | float | complex | None):
            found.setdefault(_owner_or_none(a) or f"{type(a).__module__}.{type(a).__qualname__}")
    return list(found)


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy (or zero-copy view) of array ``x`` from any backend and device."""
    if isinstance(x, np.ndarray):
        return x
    return get(owner(x)).to_numpy(x)


def namespace_of(*arrays: Any) -> Any:
    """The one Array API namespace the arrays belong to; TypeError for arrays of several frameworks.

    Mixed arrays are refused (as array-api-compat's ``array_namespace`` does), because an
    operation between them either fails deep inside a framework or converts one silently.
    array-api-compat answers for NumPy, CuPy, PyTorch, JAX, Dask and array-api-strict;
    TensorFlow tensors, which it does not know, get xpnet's own TF namespace. Python scalars
    and None are ignored, as by ``array_namespace``.
    """
    frameworks = _frameworks(arrays)
    if len(frameworks) > 1:
        raise TypeError(
            f"arrays of different frameworks ({', '.join(frameworks)}): convert them to one backend's arrays first"
        )
    if frameworks == ["tensorflow"]:
        from . import tensorflow_namespace

        return tensorflow_namespace
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)
