"""The one interface every backend implements.

A backend is a small object that knows one framework on one device: where arrays live,
how to move NumPy data there and back, how to wait for the device, and how to compile a
function. Everything the shared model code needs from it is ``backend.xp``, an Array API
namespace; everything framework-specific stays in the backend's own file.

Frameworks are imported only when a backend object is created (never at import time of
this package), because a framework may be missing, heavy to import, or broken.

Devices have one vocabulary for every backend: ``"cpu"``, ``"gpu"`` (the first GPU) and
``"gpu:N"`` (GPU number N), and ``"cpu:all"`` / ``"gpu:all"`` (every local device of that kind
at once, for a backend that can split a batch across them). ``"cuda"``, ``"cuda:N"``,
``"cuda:all"`` and ``"gpu:0"`` are accepted as aliases, in any case, and shown as ``"gpu"`` /
``"gpu:N"`` / ``"gpu:all"``. Only a backend's own file translates a name into its framework's
(``torch.device("cuda:1")``, ``jax.devices("gpu")[1]``, ``/GPU:1``, a ``jax.sharding.Mesh``),
so that shared code, the command line and reports never learn a framework's spelling.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .pinned import Transfers

#: Float dtype names the project computes in, in the order they are usually tried.
DTYPES = ("float32", "float64", "bfloat16")
#: Integer dtypes for indices (batch orders); int32, which JAX has without its x64 mode.
INDEX_DTYPES = ("int32",)


#: How the per-index device names are written in messages.
GPU_N = "gpu:N"
#: A GPU's name or alias: "gpu", "cuda", "gpu:N", "cuda:N".
_GPU_NAME = re.compile(r"(?:gpu|cuda)(?::(\d+))?", re.ASCII)
#: Every local device of one kind: "cpu:all", "gpu:all" ("cuda:all" is an alias).
ALL_DEVICES = ("cpu:all", "gpu:all")


def canonical_device(device: str) -> str:
    """``device`` in xpnet's vocabulary: "cpu", "gpu", "gpu:N" (N >= 1), "cpu:all" or "gpu:all", aliases resolved.

    ``"cuda"``/``"cuda:N"``/``"cuda:all"`` are ``"gpu"``/``"gpu:N"``/``"gpu:all"`` and ``"gpu:0"`` is ``"gpu"``
    (case-insensitive), so that one GPU has one name everywhere. A name outside the vocabulary is returned
    lower-cased, for the caller to refuse with the backend's own list of devices.
    """
    name = device.strip().lower()
    if name == "cuda:all":
        return "gpu:all"
    match = _GPU_NAME.fullmatch(name)
    return gpu_name(int(match[1] or 0)) if match else name


def device_kind(device: str) -> str:
    """"cpu" or "gpu": the kind of a canonical device name ("gpu:2" and "gpu:all" are GPUs)."""
    return device.partition(":")[0]


def gpu_name(index: int) -> str:
    """The name of GPU number ``index``: "gpu" for the first, "gpu:N" for the others."""
    return "gpu" if index == 0 else f"gpu:{index}"


def device_index(device: str) -> int:
    """The GPU number of a canonical single-GPU name ("gpu" is 0, "gpu:2" is 2); what frameworks index by."""
    return int(device.partition(":")[2] or 0)


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
    #: The devices this backend knows in general, the first being the default: ``"cpu"``, ``"gpu"``, and
    #: ``"cpu:all"``/``"gpu:all"`` for a backend that splits a batch across every local device of a kind.
    #: A backend that knows ``"gpu"`` also accepts ``"gpu:N"`` (present only on a machine with N + 1 GPUs).
    devices: ClassVar[tuple[str, ...]]
    #: Extra to install, shown in the unavailable message: ``pip install "xpnet[<extra>]"``.
    extra: ClassVar[str]
    #: Name of the compiler ``jit`` uses, or ``None`` when ``jit`` is the identity.
    compiler: ClassVar[str | None] = None
    #: Top-level modules whose array types belong to this backend (``type(x).__module__``'s root).
    array_modules: ClassVar[tuple[str, ...]] = ()
    #: pip distributions that provide the framework, for reporting a version without importing it.
    distributions: ClassVar[tuple[str, ...]] = ()
    #: Whether arrays are split into blocks that are computed one by one, lazily (Dask): no operation then
    #: allocates a whole array at once, and results exist only once :meth:`sync` or :meth:`to_numpy` asks.
    chunked: ClassVar[bool] = False

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
        """Why ``device`` cannot be used (None when it can). The framework is already imported.

        The CPU is always there; a GPU needs the framework to see at least ``N + 1`` of them; "cpu:all" and
        "gpu:all" need two devices of the kind or more (with one there is nothing to split: that is "cpu", "gpu").
        """
        kind = device_kind(device)
        count = self._cpu_count() if kind == "cpu" else self._gpu_count()
        if kind == "gpu" and count == 0:
            return self._no_gpu_reason()
        if device in ALL_DEVICES and count < 2:
            return (f"{device} splits a batch across every {kind.upper()} device, and {self.name} sees {count}: "
                    f"use {kind}")
        if kind == "gpu" and device != "gpu:all" and device_index(device) >= count:
            return f"no {device}: {count} GPU{'' if count == 1 else 's'} found"
        return None

    def _cpu_count(self) -> int:
        """How many CPU devices the framework computes on as separate devices (1: the CPU is one device)."""
        return 1

    def _gpu_count(self) -> int:
        """How many GPUs the framework sees (0 when it has no GPU support here)."""
        return 0

    def _no_gpu_reason(self) -> str:
        """Why the framework sees no GPU, with what to install or check."""
        return "no GPU found"

    def _configure(self) -> None:
        """Process-wide settings made once: matmul precision, memory growth."""

    def _namespace(self) -> Any:
        """The Array API namespace of this framework."""
        raise NotImplementedError

    # -- the interface ---------------------------------------------------------------------
    @classmethod
    def known_devices(cls) -> tuple[str, ...]:
        """The device names this backend accepts, for messages: its ``devices``, and ``"gpu:N"`` after ``"gpu"``."""
        return cls.listed_devices((GPU_N,))

    @classmethod
    def listed_devices(cls, more_gpus: tuple[str, ...]) -> tuple[str, ...]:
        """Its ``devices`` with ``more_gpus`` ("gpu:1", ...) after "gpu" when it knows "gpu", in the order listed."""
        single = tuple(d for d in cls.devices if d not in ALL_DEVICES)
        every = tuple(d for d in cls.devices if d in ALL_DEVICES)
        return single + (more_gpus if "gpu" in single else ()) + every

    @classmethod
    def canonical_device(cls, device: str | None) -> str:
        """``device`` in xpnet's vocabulary (``None`` means the default device); ValueError if unknown here.

        Only the name is checked: whether the device is present is found when the backend is created.
        """
        if device is None:
            return cls.devices[0]
        known = ", ".join(cls.known_devices())
        if not isinstance(device, str):
            raise TypeError(f"device must be a device name ({known}) or None, got {device!r}")
        name = canonical_device(device)
        if name not in cls.devices and not ("gpu" in cls.devices and _GPU_NAME.fullmatch(name)):
            raise ValueError(f"unknown device {name!r} for backend {cls.name!r}; known devices: {known}")
        return name

    @classmethod
    def owns(cls, x: Any) -> bool:
        """Whether ``x`` is an array of this backend's framework (by its type's top-level module)."""
        return type(x).__module__.split(".")[0] in cls.array_modules

    def device_of(self, x: Any) -> str:
        """The device array ``x`` lives on, in xpnet's vocabulary ("cpu", "gpu", "gpu:1").

        Lets callers refuse an array that lives elsewhere than the computation before the
        framework fails with its own message (or copies it silently). TypeError when ``x``
        is not an array of this backend.
        """
        if not self.owns(x):
            raise TypeError(
                f"{type(x).__module__}.{type(x).__qualname__} is not an array of backend {self.name!r}"
            )
        return self._device_of(x)

    def _device_of(self, x: Any) -> str:
        """The device of one of this backend's arrays; the CPU unless the backend says otherwise."""
        return "cpu"

    @property
    def device_count(self) -> int:
        """How many devices this backend computes on: 1, or every local device of a kind for "cpu:all"/"gpu:all".

        A batch put there with :meth:`asrows` is split evenly across them (so its rows are best a multiple of this).
        """
        return 1

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

    def asrows(self, x: Any, dtype: str = "float32") -> Any:
        """Host rows ``x`` (a batch, (m, n)) on this backend's device, for a computation that treats rows apart.

        The same as :meth:`asarray` on one device; on several ("cpu:all") the rows are split across them
        (parameters, put with :meth:`asarray`, are copied to each), so that one compiled forward runs on all.
        """
        return self.asarray(x, dtype)

    #: Byte alignment at which the framework shares host memory instead of copying it (XLA's 64); 0: any.
    host_alignment: ClassVar[int] = 0
    #: From this many bytes on, a batch it cannot share as it is goes to a checked forward shared from its first
    #: aligned address (``xpnet.model.OffsetRows``, a few small arrays more to pass and a few sums more, which the
    #: backend's compiler runs as one call, for an eager forward too) rather than copied into an aligned buffer.
    #: Set by TensorFlow here (``predict_proba`` jit, interleaved, OffsetRows' time over the copy's: 1.07x at
    #: 3.2 MB, 0.90x at 6.4 MB, 0.87x at 9.6 MB; eager, against the forward on device rows: 1.73x against 1.62x at
    #: 8 MB, 1.48x against 1.74x at 16 MB). Only a backend with a compiler is given OffsetRows.
    offset_from_bytes: ClassVar[int] = 8 << 20
    #: From this many bytes on, host rows go to a GPU through pinned buffers of xpnet's own, piece by piece, each
    #: piece's copy into a buffer overlapping the transfer of the one before (``backends.pinned.PinnedUpload``,
    #: built on :meth:`transfers`); None: the framework's own copy from the user's pageable memory. None everywhere
    #: until a GPU run measures that it pays (``python -m xpnet.bench.upload_timing``, run by ``bench/gpu.sh``).
    pinned_from_bytes: ClassVar[int | None] = None
    #: Threads that copy each piece into a pinned buffer (one thread's copy bounds that path); as unmeasured.
    pinned_threads: ClassVar[int] = 4

    #: Whether an eager forward on OffsetRows (``xpnet.Model._offset_first``) leaves the big product and the first
    #: activation to the eager framework, its compiled call only finishing the sums, where those kernels are
    #: another library's and faster than the compiler's: then the user path runs the same product and activation
    #: as the forward on device rows. The activation then sees the NaN that marks a row to refuse, and keeps it
    #: (``tests/test_kernels.py``).
    offset_eager_kernels: ClassVar[bool] = False
    #: Whether it shares read-only host memory too (TensorFlow takes host memory through DLPack, through which
    #: NumPy exports no read-only array).
    shares_read_only: ClassVar[bool] = True
    #: Rows per block in which an eager forward runs the whole network, so that the hidden activations stay in
    #: cache between layers (for a backend whose compiler does not fuse them, or that has none). None: whole.
    block_rows: ClassVar[int | None] = None

    #: Hidden layers run widened to a multiple of this many units (zero weights in and out, the same outputs:
    #: ``xpnet.model.widen_hidden``) where the framework's matrix product is measurably faster so; 0: as they are.
    hidden_multiple: int = 0

    def array_version(self, a: Any) -> Any:
        """A token that changes when ``a`` is written in place (PyTorch's version counter; a constant for arrays
        that are never written, JAX's), so that a copy made from ``a`` (widened layers) is known to be stale.
        None where no one can tell (NumPy's arrays): then no copy is kept."""
        return None

    def shares_host(self, x: np.ndarray) -> bool:
        """Whether the framework can share host array ``x``'s memory as it is (at ``host_alignment``); where it
        cannot, :meth:`borrow_rows` copies, and the streaming path copies into an aligned buffer of its own."""
        aligned = not self.host_alignment or x.ctypes.data % self.host_alignment == 0
        return aligned and (self.shares_read_only or x.flags.writeable)

    def borrow_rows(self, x: np.ndarray, dtype: str = "float32") -> Any:
        """Host rows as a backend array that may share ``x``'s memory (zero-copy where the device is the CPU).

        Only for a computation that is finished (its result fetched) before ``x`` is written again: the
        streaming path, which reads a chunk, runs it and fetches the result before the next. The default
        copies, as :meth:`asrows` does; a backend that can share host memory overrides it (NumPy's own
        arrays, ``torch.from_numpy``, XLA's aligned host buffers, TensorFlow through DLPack).
        """
        return self.asrows(x, dtype)

    def borrow_for_compiled(self, x: np.ndarray, dtype: str = "float32") -> Any:
        """Host rows as an argument of this backend's compiled function (:meth:`jit`), under the same rule as
        :meth:`borrow_rows`, which it is unless the compiled call takes host arrays itself, faster (JAX)."""
        return self.borrow_rows(x, dtype)

    def transfers(self) -> Transfers | None:
        """Asynchronous host-to-device copies through pinned memory, on a stream of their own
        (:class:`~xpnet.backends.pinned.Transfers`), or None where the device is the host's memory or the
        framework offers none."""
        return None

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

    def jit_rows(self, build: Callable[[Any], Callable[[Any, Any], Any]]) -> Callable[[Any, Any], Any]:
        """A compiled ``fn(layers, X)`` whose rows of X are computed apart (a forward), from ``build(xp) -> fn``.

        ``build`` writes the function for a namespace. Most backends compile it for their own
        (``jit(build(xp))``); a chunked backend (Dask) runs it once per block of rows, for the namespace
        of the blocks, since a row-wise function needs nothing from another block.
        """
        return self.jit(build(self.xp))

    #: Whether the arrays compute with NumPy underneath (NumPy, array-api-strict), which warns about inf * 0.
    numpy_warnings: ClassVar[bool] = False

    def without_nonfinite_warnings(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` without NumPy's warnings about non-finite values ("invalid value encountered in matmul"), where
        this backend computes with NumPy: for a computation that finds such values and refuses them itself."""
        if not self.numpy_warnings:
            return fn

        def quiet(*args: Any) -> Any:
            with np.errstate(invalid="ignore", over="ignore"):
                return fn(*args)

        return quiet

    def kernels(self) -> dict[str, Callable[..., Any]]:
        """The framework's own fused functions that the model may use in place of its Array API compositions.

        Keys: ``"sigmoid"``, ``"relu"``, ``"softmax"`` (functions of ``z`` alone; softmax over the last axis),
        ``"affine"`` (``(A, W, b) -> A @ W + b`` in one call, for a 2-D ``A``) and ``"all_finite"`` (``z`` ->
        whether every value is finite, for the checked forward, where the standard's ``all(isfinite(z))`` costs
        more than the framework's own call). The standard has no sigmoid, and
        its composition is several element-wise passes where nothing fuses them; a framework's one kernel is one.
        A backend lists only kernels proven to meet the parity tolerances, very negative z included
        (``tests/test_kernels.py`` checks each against the float64 reference); none (the base) keeps the pure
        standard path, which array-api-strict proves.
        """
        return {}

    def quiet_kernels(self) -> dict[str, Callable[..., Any]]:
        """:meth:`kernels` for a forward that runs inside :meth:`without_nonfinite_warnings` (the checked one),
        where a kernel need not quiet the overflow it expects itself: the same functions unless the backend says
        otherwise (NumPy's sigmoid, whose own ``errstate`` costs 1% to 2% of the forward at m = 1000)."""
        return self.kernels()

    #: What :meth:`capture` records a forward with (``"torch.cuda.CUDAGraph"``), or None where the backend cannot.
    graph_capture: ClassVar[str | None] = None

    def capture(self, fn: Callable[[Any], Any], x: Any) -> Callable[[Any], Any]:
        """``fn`` recorded once as a CUDA graph on an input shaped like ``x``, and a call that replays it.

        Why: at a small batch a GPU forward is a few microseconds of work behind several kernel launches,
        each costing the host more than the work; a graph is launched once for all of them (JAX's
        ``jit`` already replays one compiled executable). The replay copies its argument into the
        recorded input and returns the recorded output, which the next replay overwrites: read or copy
        it before calling again. Only a backend that sets :attr:`graph_capture` implements this, on a GPU.
        """
        raise NotImplementedError(f"{self.name} on {self.device} records no CUDA graphs")

    def device_clock(self) -> DeviceClock | None:
        """A stopwatch on the device's own timeline (CUDA events), or None where there is none.

        On a GPU the host's wall time of a call includes launching it and waiting for it; the device's
        time between two events recorded around the call says how long the GPU itself took. On the
        CPU the host's time is the device's, so the base has none.
        """
        return None

    #: Name of the automatic differentiation ``grad`` uses, or ``None`` where the framework has none.
    autodiff: ClassVar[str | None] = None

    def grad(self, fn: Callable[[list[Any]], Any]) -> Callable[[list[Any]], list[Any]]:
        """The gradient of a scalar ``fn(arrays)`` with respect to each array, by the framework's autodiff.

        For checking hand-derived gradients (xpnet trains with those, so that NumPy and CuPy train
        too). NotImplementedError where the framework has no autodiff (``autodiff`` is None).
        """
        raise NotImplementedError(f"{self.name} has no automatic differentiation")

    def is_out_of_memory(self, err: BaseException) -> bool:
        """Whether ``err`` says this device ran out of memory (then a smaller chunk may fit).

        The base recognises a host ``MemoryError`` (NumPy's "Unable to allocate");
        each GPU framework's file adds its own out-of-memory error.
        """
        return isinstance(err, MemoryError)

    def __repr__(self) -> str:
        return f"<xpnet backend {self.name} on {self.device} ({self.module.__name__} {self.version})>"


class DeviceClock:
    """Device time between two events recorded on the device's current stream (CUDA events), in seconds.

    ``start()`` records the first event before a call is launched; ``stop()`` records the second after it,
    waits for it, and returns the time the device took between them. The events are the framework's
    (``torch.cuda.Event``, ``cupy.cuda.Event``): ``make_event()`` makes one with timing enabled,
    ``stream()`` is the stream to record on, ``elapsed_ms(a, b)`` reads the time between two.
    """

    def __init__(self, make_event: Callable[[], Any], stream: Callable[[], Any],
                 elapsed_ms: Callable[[Any, Any], float]) -> None:
        self._begin, self._end = make_event(), make_event()
        self._stream, self._elapsed_ms = stream, elapsed_ms

    def start(self) -> None:
        self._begin.record(self._stream())

    def stop(self) -> float:
        self._end.record(self._stream())
        self._end.synchronize()
        return self._elapsed_ms(self._begin, self._end) / 1e3


def host_all_finite(a: np.ndarray) -> bool:
    """Whether every value of the NumPy array ``a`` is finite, in one BLAS call on the common path.

    ``a . a`` is finite only if every value is (a NaN makes it NaN, an infinity inf, and squares cannot
    cancel), so a finite dot product answers True at once; one that is not (also where finite values are
    so large that their squares overflow) is decided exactly by ``isfinite``. Why: after a forward that
    has just swept X through the cache, the two calls of ``isfinite(a).all()`` (and its bool array) cost
    more than one dot product; at m = 1000 this is about a point of ``predict_proba``'s time (measured,
    2026-12-01, interleaved rounds; ``tests/test_kernels.py`` checks NaN, +-inf and overflowing squares).
    """
    v = a.reshape(-1)
    return math.isfinite(np.vdot(v, v)) or bool(np.isfinite(v).all())
