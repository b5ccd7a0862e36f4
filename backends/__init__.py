"""The backend registry: which frameworks xpnet knows, and which of them can run here.

Importing this package imports no framework. A backend's file is imported when the
backend is listed, and its framework only when a backend object is created, because a
framework may be missing, slow to import, or broken, and none of that may break
``import xpnet``.

Adding a backend is one file (a :class:`~xpnet.backends.base.Backend` subclass) and one
line in ``_REGISTRY``; every parity test, test fixture and benchmark then includes it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from .base import DTYPES, Backend, BackendUnavailable

__all__ = [
    "DTYPES",
    "Backend",
    "BackendStatus",
    "BackendUnavailable",
    "available",
    "backend_class",
    "get",
    "names",
    "namespace_of",
    "owner",
    "to_numpy",
    "pairs",
    "status",
]

#: name -> "module:class", in the order backends are listed and tested.
_REGISTRY: dict[str, str] = {
    "numpy": "numpy_backend:NumpyBackend",
    "jax": "jax_backend:JaxBackend",
    "tensorflow": "tensorflow_backend:TensorflowBackend",
    "torch": "torch_backend:TorchBackend",
    "cupy": "cupy_backend:CupyBackend",
    "array_api_strict": "strict_backend:StrictBackend",
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
    """Every (backend, device) xpnet knows, available here or not."""
    return [(name, device) for name in _REGISTRY for device in backend_class(name).devices]


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


def status(name: str, device: str) -> BackendStatus:
    """Try to create the backend and report the outcome, never raising for a missing framework."""
    try:
        backend = get(name, device)
    except BackendUnavailable as err:
        version = backend_class(name).installed_version()
        return BackendStatus(name, device, False, version, str(err))
    return BackendStatus(name, device, True, backend.version, None)


def available(names_: list[str] | None = None) -> list[tuple[str, str]]:
    """Every (backend, device) that runs here, optionally only for the backends in ``names_``."""
    wanted = names() if names_ is None else names_
    for name in wanted:
        backend_class(name)  # unknown names raise ValueError here
    return [(n, d) for n, d in pairs() if n in wanted and status(n, d).available]


def owner(x: Any) -> str:
    """The name of the backend whose framework made array ``x`` (TypeError for anything else)."""
    root = type(x).__module__.split(".")[0]
    for name in _REGISTRY:
        if root in backend_class(name).array_modules:
            return name
    raise TypeError(f"{type(x).__module__}.{type(x).__qualname__} is not an array of any xpnet backend")


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy (or zero-copy view) of array ``x`` from any backend and device."""
    if isinstance(x, np.ndarray):
        return x
    return get(owner(x)).to_numpy(x)


def namespace_of(*arrays: Any) -> Any:
    """The Array API namespace the arrays belong to.

    array-api-compat answers for NumPy, CuPy, PyTorch, JAX, Dask and array-api-strict;
    TensorFlow tensors, which it does not know, get xpnet's own TF namespace.
    """
    first = arrays[0]
    if type(first).__module__.startswith("tensorflow"):
        from . import tensorflow_namespace

        return tensorflow_namespace
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)
