"""The one interface every backend implements.

A backend is a small object that knows one framework on one device: where arrays live,
how to move NumPy data there and back, how to wait for the device, and how to compile a
function. Everything the shared model code needs from it is ``backend.xp``, an Array API
namespace; everything framework-specific stays in the backend's own file.

Frameworks are imported only when a backend object is created (never at import time of
this package), because a framework may be missing, heavy to import, or broken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

#: Float dtype names the project computes in, in the order they are usually tried.
DTYPES = ("float32", "float64", "bfloat16")
#: Integer dtypes for indices (batch orders); int32, which JAX has without its x64 mode.
INDEX_DTYPES = ("int32",)


class BackendUnavailable(RuntimeError):
    """A backend that is not installed, or a device that is absent; the message says how to fix it."""


class Backend:
    """One framework on one device.

    Subclasses set the class attributes and implement the ``_``-prefixed hooks; the public
    methods are the same for every backend so that tests and benchmarks never branch on
    the framework.
    """

    #: Registry name, e.g. ``"jax"``.
    name: ClassVar[str]
    #: Devices this backend can run on, the first being the default (``"cpu"``, ``"gpu"``, ``"cuda"``).
    devices: ClassVar[tuple[str, ...]]
    #: Extra to install, shown in the unavailable message: ``pip install "xpnet[<extra>]"``.
    extra: ClassVar[str]
    #: Name of the compiler ``jit`` uses, or ``None`` when ``jit`` is the identity.
    compiler: ClassVar[str | None] = None
    #: Top-level modules whose array types belong to this backend (``type(x).__module__``'s root).
    array_modules: ClassVar[tuple[str, ...]] = ()
    #: pip distributions that provide the framework, for reporting a version without importing it.
    distributions: ClassVar[tuple[str, ...]] = ()
    #: Other names accepted for a device, e.g. torch's ``"gpu"`` for ``"cuda"``.
    device_aliases: ClassVar[dict[str, str]] = {}

    def __init__(self, device: str | None = None) -> None:
        self.device = self.canonical_device(device)
        self.module = self._import()  # the framework itself, e.g. the ``jax`` module
        self.version: str = getattr(self.module, "__version__", "unknown")
        reason = self._device_missing(self.device)
        if reason:
            raise BackendUnavailable(f"{self.name} on {self.device}: {reason}")
        self._configure()
        self.xp: Any = self._namespace()

    # -- hooks a backend file implements -------------------------------------------------
    @classmethod
    def _import(cls) -> Any:
        """Import and return the framework module; raise ImportError when it is missing."""
        raise NotImplementedError

    def _device_missing(self, device: str) -> str | None:
        """Why ``device`` cannot be used (None when it can). The framework is already imported."""
        return None if device == "cpu" else f"no {device} device"

    def _configure(self) -> None:
        """Process-wide settings made once: matmul precision, memory growth."""

    def _namespace(self) -> Any:
        """The Array API namespace of this framework."""
        raise NotImplementedError

    # -- the interface ---------------------------------------------------------------------
    @classmethod
    def canonical_device(cls, device: str | None) -> str:
        """The backend's own name for ``device`` (``None`` means the default device)."""
        if device is None:
            return cls.devices[0]
        if not isinstance(device, str):
            raise TypeError(f"device must be a device name ({', '.join(cls.devices)}) or None, got {device!r}")
        device = cls.device_aliases.get(device.lower(), device.lower())
        if device not in cls.devices:
            raise ValueError(
                f"unknown device {device!r} for backend {cls.name!r}; known devices: {', '.join(cls.devices)}"
            )
        return device

    @classmethod
    def installed_version(cls) -> str | None:
        """The installed framework's version, read from package metadata (no import)."""
        from importlib.metadata import PackageNotFoundError, version

        for dist in cls.distributions:
            try:
                return version(dist)
            except PackageNotFoundError:
                continue
        return None

    def dtype(self, name: str) -> Any:
        """The namespace's dtype object for ``"float32"``, ``"float64"``, ``"bfloat16"`` (or ``"int32"``)."""
        if name not in DTYPES + INDEX_DTYPES:
            raise ValueError(f"unknown dtype {name!r}; known dtypes: {', '.join(DTYPES + INDEX_DTYPES)}")
        reason = self.dtype_missing(name)
        if reason:
            raise BackendUnavailable(f"{self.name} on {self.device}: {reason}")
        return getattr(self.xp, name)

    def dtype_missing(self, name: str) -> str | None:
        """Why this backend cannot compute in dtype ``name`` (None when it can)."""
        if name == "bfloat16" and not hasattr(self.xp, "bfloat16"):
            return "bfloat16 is not supported"
        return None

    def asarray(self, x: Any, dtype: str = "float32") -> Any:
        """Copy (or share, where the framework allows) host data ``x`` onto this backend's device."""
        return self._asarray(np.asarray(x), self.dtype(dtype))

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        """A NumPy array with the values of ``x`` (bfloat16 comes back as float32, which NumPy has)."""
        return np.asarray(x)

    def sync(self, x: Any = None) -> Any:
        """Block until the device has finished the work that produces ``x``; return ``x``.

        Timing without this measures only how fast work is queued, not done.
        """
        return x

    def jit(self, fn: Callable) -> Callable:
        """``fn`` compiled by the framework's compiler, or ``fn`` itself where there is none."""
        return fn

    def is_out_of_memory(self, err: BaseException) -> bool:
        """Whether ``err`` says this device ran out of memory (then a smaller chunk may fit).

        The base recognises a host ``MemoryError`` (NumPy's "Unable to allocate");
        each GPU framework's file adds its own out-of-memory error.
        """
        return isinstance(err, MemoryError)

    def __repr__(self) -> str:
        return f"<xpnet backend {self.name} on {self.device} ({self.module.__name__} {self.version})>"
