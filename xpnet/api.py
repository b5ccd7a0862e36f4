"""``xpnet.Model``: a network's parameters bound to one backend, device and dtype.

The model code in ``xpnet.model`` is pure functions of ``xp``; this class adds what a user
wants around them: data moved to the device once, the three forward variants by name,
a compiled forward that is compiled once and reused, NumPy results, checked input.

Big inputs are read one chunk of rows at a time (``batch_size``): each chunk is read,
checked, moved to the device, run forward and its result written into one preallocated
output, so memory is bounded by the chunk, not by X. A NumPy memmap
(``np.load(path, mmap_mode="r")``) is never read whole, and the pages each chunk was read
from are handed back to the OS after it. On a device that runs out of memory the chunk
is halved and retried, down to one row, before a :class:`DeviceMemoryError` names the sizes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.mapped import MappedPages
from xpnet.model import (
    THRESHOLD,
    VARIANTS,
    Params,
    bind_activations,
    forward_loop,
    forward_matmul,
    init_params,
)
from xpnet.progress import RowProgress
from xpnet.validation import (
    InputError,
    InputTypeError,
    check_all_finite,
    check_batch_size,
    check_choice,
    check_dtype_name,
    check_feature_shape,
    check_real_dtype,
    check_threshold,
    host_array,
    host_features,
    host_values,
)

#: (layers, X) -> probabilities, all arrays of the model's backend.
ForwardFn = Callable[[Any, Any], Any]

#: Rows per chunk for a memory-mapped X when no ``batch_size`` is given: 65536 rows of 400 float32 are 100 MiB.
MAPPED_BATCH_SIZE = 65536


class DeviceMemoryError(RuntimeError):
    """The device ran out of memory even for a chunk of one row; the message names the sizes tried."""


class Model:
    """The network on ``backend`` (name or Backend) and ``device``, computing in ``dtype``.

    >>> m = Model(init_params(seed=0), backend="jax", dtype="float32")
    >>> m.predict_proba(X)                # NumPy in, NumPy out, checked
    >>> m.predict_proba(np.load("X.npy", mmap_mode="r"), batch_size=65536, progress=True)
    >>> f = m.forward_fn("jit")           # backend arrays in and out, for hot loops
    >>> f(m.layers, m.asarray(X))
    """

    def __init__(
        self,
        params: Params | None = None,
        backend: str | backends.Backend = "numpy",
        device: str | None = None,
        dtype: str = "float32",
    ) -> None:
        _check_model_args(params, backend, device)
        self.dtype = check_dtype_name(dtype)
        self.backend = backends.get(backend, device)
        host = params.numpy() if params is not None else init_params()
        _check_params_values(host)
        self.params = host.to(self.backend, dtype=self.dtype)
        self.network = host.network
        self._compiled: ForwardFn | None = None
        self._device_dtype = self.backend.dtype(self.dtype)
        self._host_dtype = np.dtype(np.float64 if self.dtype == "float64" else np.float32)  # bfloat16: via float32
        self._max_abs = _safe_input_bound(host, self.dtype)

    @property
    def layers(self) -> tuple[tuple[Any, Any], ...]:
        """The ``(W, b)`` pairs on the device, the first argument of ``forward_fn``'s functions."""
        return self.params.layers

    def asarray(self, X: Any, *, check_finite: bool = False) -> Any:
        """Host data ``X`` ((m, n) or (n,)), checked (values too with ``check_finite``), on this model's device."""
        host = host_features(X, self.network.input_dim, check_finite=check_finite, dtype=self._host_dtype,
                             max_abs=self._max_abs)
        return self.backend.asarray(host, self.dtype)

    def forward_fn(self, variant: str = "matmul") -> ForwardFn:
        """The function ``(layers, X) -> probabilities`` for ``variant`` ("loop", "matmul", "jit").

        The jit variant is compiled on its first call (per input shape, as every compiler
        here specialises on shapes) and then reused.
        """
        check_choice(variant, VARIANTS, "variant")
        xp = self.backend.xp
        acts = bind_activations(self.network.activations, xp)
        if variant == "matmul":
            return lambda layers, X: forward_matmul(layers, X, acts, xp)
        if variant == "loop":
            return lambda layers, X: forward_loop(layers, X, acts, xp)
        if self._compiled is None:

            def matmul_forward(layers: Any, X: Any) -> Any:
                return forward_matmul(layers, X, acts, xp)

            self._compiled = self.backend.jit(matmul_forward)
        return self._compiled

    def forward(self, X: Any, variant: str = "matmul", *, batch_size: int | None = None) -> Any:
        """Probabilities as an array of this backend; ``X`` may be host data or a backend array.

        The unchecked path (as ``forward_fn``, which the benchmarks time): shapes and
        dtypes are checked, values are not scanned, and a NaN or inf in X propagates to the probabilities as in
        NumPy (use :meth:`predict_proba` for checked results). ``batch_size`` runs X in
        chunks of that many rows and concatenates the results on the device.
        """
        source = self._source(X, check_finite=False)
        parts = [result for _, _, result in self._chunks(source, variant, batch_size, progress=False)]
        return parts[0] if len(parts) == 1 else self.backend.xp.concat(parts, axis=0)

    def predict_proba(
        self,
        X: Any,
        variant: str = "matmul",
        *,
        batch_size: int | None = None,
        check_finite: bool = True,
        progress: bool = False,
    ) -> np.ndarray:
        """Probabilities of the digit being a 1, as NumPy: (m, 1) for (m, n) input, (1,) for (n,).

        X: host data (a NumPy array, a memmap, anything ``np.asarray`` reads) or an array
        of this backend. ``batch_size``: rows per chunk; None runs an in-memory X in one
        chunk and a memory-mapped one in chunks of :data:`MAPPED_BATCH_SIZE`, so that peak
        memory follows the chunk, not the file. ``check_finite``: refuse NaN and inf in X
        (the error names the first bad index, counted in the whole X), and finite rows
        whose values overflow inside the network; False skips the scans and lets NaN
        propagate. ``progress``: a progress bar on stderr.
        """
        source = self._source(X, check_finite)
        out: np.ndarray | None = None
        for lo, hi, p in self._chunks(source, variant, batch_size, progress, finish=self.backend.to_numpy):
            if check_finite:
                self._check_outputs(source, p, lo)
            if lo == 0 and hi == (source.m if source.m is not None else 1):
                return p  # one chunk: no copy
            if out is None:
                out = np.empty((source.m, *p.shape[1:]), dtype=p.dtype)
            out[lo:hi] = p
        assert out is not None
        return out

    def predict(
        self,
        X: Any,
        variant: str = "matmul",
        threshold: float = THRESHOLD,
        *,
        batch_size: int | None = None,
        check_finite: bool = True,
        progress: bool = False,
    ) -> np.ndarray:
        """0/1 predictions as NumPy int32: 1 where the probability is at least ``threshold``.

        The arguments are those of :meth:`predict_proba`; ``threshold`` lies in [0, 1].
        """
        threshold = check_threshold(threshold)
        proba = self.predict_proba(X, variant, batch_size=batch_size, check_finite=check_finite, progress=progress)
        return (proba >= threshold).astype(np.int32)

    # -- where the rows come from ------------------------------------------------------------
    def _source(self, X: Any, check_finite: bool) -> _Source:
        if _is_backend_array(X, self.backend):
            return self._device_source(X, check_finite)
        return self._host_source(X, check_finite)

    def _host_source(self, X: Any, check_finite: bool) -> _Source:
        """Host data, read (and converted, and scanned) one chunk at a time; never all at once."""
        a = host_array(X)
        check_real_dtype(a.dtype)
        check_feature_shape(a.shape, self.network.input_dim)
        pages = MappedPages.of(a)

        def read(lo: int, hi: int) -> Any:
            part = a if a.ndim == 1 else a[lo:hi]
            host = host_values(part, check_finite=check_finite, dtype=self._host_dtype, row_offset=lo,
                               max_abs=self._max_abs)
            return self.backend.asarray(host, self.dtype)

        def row(i: int) -> np.ndarray:
            return np.asarray(a if a.ndim == 1 else a[i])

        release = pages.release if pages is not None else _keep
        return _Source(None if a.ndim == 1 else len(a), read, row, release, mapped=pages is not None)

    def _device_source(self, X: Any, check_finite: bool) -> _Source:
        """An array already on this backend: sliced per chunk, scanned on the device, then cast.

        Values are checked in the array's own dtype, before a cast to the model's: a finite
        float64 too large for float32 is reported as such, not as the inf the cast would make.
        """
        kind = self._device_kind(X)
        shape = tuple(X.shape)
        check_feature_shape(shape, self.network.input_dim)
        be, xp = self.backend, self.backend.xp

        def read(lo: int, hi: int) -> Any:
            part = X if len(shape) == 1 else X[lo:hi, ...]
            if check_finite and kind == "f" and not _fine_on_device(xp, part, self._max_abs):
                # raises, naming the first bad index
                host_values(be.to_numpy(part), row_offset=lo, dtype=self._host_dtype, max_abs=self._max_abs)
            return part if part.dtype == self._device_dtype else xp.astype(part, self._device_dtype)

        def row(i: int) -> np.ndarray:
            return be.to_numpy(X if len(shape) == 1 else X[i, ...])

        return _Source(None if len(shape) == 1 else shape[0], read, row, _keep)

    def _device_kind(self, X: Any) -> str:
        """NumPy's kind letter of a backend array's dtype ("b", "i", "u", "f"); other kinds are refused."""
        if X.dtype == self._device_dtype:
            return "f"
        probe = self.backend.to_numpy(self.backend.xp.reshape(X, (-1,))[0:0])  # an empty slice tells the kind
        check_real_dtype(probe.dtype)
        return probe.dtype.kind

    # -- the chunk loop ----------------------------------------------------------------------
    def _chunks(
        self,
        source: _Source,
        variant: str,
        batch_size: int | None,
        progress: bool,
        finish: Callable[[Any], Any] | None = None,
    ) -> Iterator[tuple[int, int, Any]]:
        """(lo, hi, result) for consecutive chunks of rows; halves a chunk the device cannot hold.

        ``finish`` (e.g. ``to_numpy``) runs inside the out-of-memory handling, because
        frameworks that queue work report a lack of memory when the result is fetched.
        """
        fn = self.forward_fn(variant)
        size = check_batch_size(batch_size)
        finish = finish or _keep_result
        if source.m is None or source.m == 0:  # one example, or none (which only matmul handles in every style)
            fn = fn if source.m is None else self.forward_fn("matmul")
            yield 0, source.m if source.m is not None else 1, finish(fn(self.layers, source.read(0, 0)))
            return
        size = min(size or (MAPPED_BATCH_SIZE if source.mapped else source.m), source.m)
        first, fitted, pad = size, 0, variant == "jit" and size < source.m
        bar = RowProgress(source.m, "xpnet predict") if progress else None
        lo = 0
        try:
            while lo < source.m:
                hi = min(lo + size, source.m)
                rows = size if pad else hi - lo  # jit: pad the last chunk to keep one compiled shape
                try:
                    result = finish(self._forward_chunk(fn, source, lo, hi, rows))
                except Exception as err:
                    if not self.backend.is_out_of_memory(err):
                        raise
                    size = self._smaller_chunk(err, rows, fitted, first)
                    pad = variant == "jit" and size < source.m
                    continue
                fitted = max(fitted, hi - lo)
                source.release(lo, hi)
                yield lo, hi, result
                lo = hi
                if bar is not None:
                    bar.update(lo)
        finally:
            if bar is not None:
                bar.close()
        if size < first:
            be = self.backend
            warnings.warn(
                f"{be.name} on {be.device} ran out of memory on chunks of {first} rows; ran in chunks of {size} "
                f"rows instead (pass batch_size={size} to start there)",
                RuntimeWarning,
                stacklevel=3,
            )

    def _forward_chunk(self, fn: ForwardFn, source: _Source, lo: int, hi: int, rows: int) -> Any:
        """Rows lo:hi through ``fn``, padded with zero rows to ``rows`` rows when that is more."""
        X = source.read(lo, hi)
        if rows <= hi - lo:
            return fn(self.layers, X)
        filler = self.backend.asarray(np.zeros((rows - (hi - lo), self.network.input_dim), self._host_dtype),
                                      self.dtype)
        return fn(self.layers, self.backend.xp.concat([X, filler], axis=0))[: hi - lo, ...]

    def _smaller_chunk(self, err: BaseException, rows: int, fitted: int, first: int) -> int:
        """Half of ``rows``, the chunk that did not fit; a DeviceMemoryError when it was one row already."""
        if rows > 1:
            return rows // 2
        be = self.backend
        earlier = (f"; chunks of {fitted} rows fitted earlier in this call, so something else is taking the "
                   "memory") if fitted else ""
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise DeviceMemoryError(
            f"{be.name} on {be.device} ran out of memory even on a chunk of 1 row of {self.network.input_dim} "
            f"{self.dtype} features (halved from {first} rows){earlier}; free memory on the device or use another "
            f"one ({reason})"
        ) from err

    def _check_outputs(self, source: _Source, p: np.ndarray, lo: int) -> None:
        """Finite rows can still overflow inside the network (3e38 in float32) and give NaN: refuse them."""
        if p.size == 0 or (np.isfinite(p.min()) and np.isfinite(p.max())):
            return
        i = int(np.flatnonzero(~np.isfinite(p.reshape(len(p), -1)).any(axis=1))[0]) if p.ndim > 1 else 0
        values = source.row(lo + i)
        where = "X" if source.m is None else f"X row {lo + i}"
        raise InputError(
            f"{where} is finite but overflows {self.dtype} inside the network (largest magnitude "
            f"{np.abs(values).max():.3g}), which gives a probability of {p[i].reshape(-1)[0]}; scale the input down"
        )

    def __repr__(self) -> str:
        from xpnet.model import describe

        return f"Model({describe(self.network)}, backend={self.backend.name!r}, " \
               f"device={self.backend.device!r}, dtype={self.dtype!r})"


@dataclass
class _Source:
    """The rows of X: ``read(lo, hi)`` gives rows lo:hi on the device, checked; ``m`` is None for one example."""

    m: int | None
    read: Callable[[int, int], Any]
    row: Callable[[int], np.ndarray]  # one row on the host, for error messages
    release: Callable[[int, int], None]
    mapped: bool = False


def _keep(lo: int, hi: int) -> None:
    """Nothing to release: the rows are in ordinary memory."""


def _keep_result(result: Any) -> Any:
    return result


def _check_model_args(params: Any, backend: Any, device: Any) -> None:
    """Arguments of the wrong kind get an error naming what was expected (not an AttributeError later)."""
    if params is not None and not isinstance(params, Params):
        hint = "; read a weights file with xpnet.load(path)" if isinstance(params, str | PathLike) else ""
        raise InputTypeError(
            f"params must be xpnet Params (from xpnet.init_params or xpnet.load), got {type(params).__name__}{hint}"
        )
    if not isinstance(backend, str | backends.Backend):
        raise InputTypeError(
            f"backend must be a backend name ({', '.join(backends.names())}) or a Backend, got {backend!r}"
        )
    if device is not None and not isinstance(device, str):
        raise InputTypeError(f"device must be a device name such as 'cpu' or 'gpu', or None, got {device!r}")


def _check_params_values(host: Params) -> None:
    """Weights and biases made in code (not read from a file, which is checked) must be real and finite too."""
    for i, (W, b) in enumerate(host.layers, start=1):
        for name, a in ((f"W{i}", W), (f"b{i}", b)):
            check_real_dtype(a.dtype, f"params {name}")
            check_all_finite(a, f"params {name}")


def _safe_input_bound(host: Params, dtype: str) -> float:
    """The largest |x| for which the first layer's sums cannot overflow ``dtype``: |x| * max_j sum_i |W_ij| + |b|.

    Halved for the rounding of a long sum. Inputs beyond it are refused when checked:
    an overflowing sum turns into inf or NaN, and so into a silently wrong 0/1 answer.
    """
    W, b = (np.abs(a.astype(np.float64)) for a in host.layers[0])
    largest = _BFLOAT16_MAX if dtype == "bfloat16" else float(np.finfo(dtype).max)
    column = float(W.sum(axis=0).max()) if W.size else 0.0
    return np.inf if column == 0 else 0.5 * (largest - float(b.max(initial=0.0))) / column


#: bfloat16's largest finite value (NumPy has no bfloat16 to ask).
_BFLOAT16_MAX = 3.3895313892515355e38


def _fine_on_device(xp: Any, part: Any, max_abs: float) -> bool:
    """Whether a backend array is all finite and within ``max_abs``; False sends it to the host for the details."""
    if int(np.prod(tuple(part.shape))) == 0:
        return True
    return bool(xp.all(xp.isfinite(part))) and float(xp.max(xp.abs(part))) <= max_abs


def _is_backend_array(X: Any, backend: backends.Backend) -> bool:
    """True for an array of the backend's own type (NumPy arrays are host data, always checked)."""
    return not isinstance(X, np.ndarray) and type(X).__module__.split(".")[0] in type(backend).array_modules
