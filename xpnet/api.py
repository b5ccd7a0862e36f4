"""``xpnet.Model``: a network's parameters bound to one backend, device and dtype.

The model code in ``xpnet.model`` is pure functions of ``xp``; this class adds what a user
wants around them: data moved to the device once, the three forward variants by name,
a compiled forward that is compiled once and reused, NumPy results, checked input read
one chunk at a time (``xpnet.streaming``), predictions for one output unit (the lab's 0/1)
or several (the class with the largest probability).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from os import PathLike
from typing import Any

import array_api_compat.numpy as _HOST_XP  # NumPy's Array API namespace, for results on the host
import numpy as np

from xpnet import backends
from xpnet.model import (
    THRESHOLD,
    VARIANTS,
    Params,
    bind_activations,
    forward_checked,
    forward_loop,
    forward_matmul,
    in_row_blocks,
    init_params,
    linear,
    offset_first_layer,
    offset_product,
    offset_weights,
    predict_from_proba,
    widen_hidden,
)
from xpnet.streaming import (
    MAPPED_BATCH_SIZE,
    DeviceMemoryError,
    Placement,
    Rows,
    Staging,
    check_outputs,
    chunks,
    outputs_finite,
    rows_of,
)
from xpnet.validation import (
    InputError,
    InputTypeError,
    check_all_finite,
    check_choice,
    check_dtype_name,
    check_real_dtype,
    check_threshold,
    host_features,
)

__all__ = ["MAPPED_BATCH_SIZE", "DeviceMemoryError", "ForwardFn", "Model"]

#: (layers, X) -> outputs, all arrays of the model's backend.
ForwardFn = Callable[[Any, Any], Any]


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
        self.backend = be = backends.get(backend, device)
        host = params.map(backends.to_numpy) if params is not None else init_params()
        _check_params_values(host)
        be.dtype(self.dtype)  # a dtype the backend lacks fails here, naming it
        self.params = host.map(lambda a: be.asarray(a, self.dtype))
        self.network = host.network
        self._forwards: dict[tuple[str, bool], ForwardFn] = {}
        self._kernels = be.kernels()  # the framework's fused sigmoid, bias add, ... (Backend.kernels)
        self._staging = threading.local()  # each thread's Staging of whole batches (_stage)
        self._place = Placement(be, self.dtype, np.dtype(np.float64 if self.dtype == "float64" else np.float32),
                                self.network.input_dim, _safe_input_bound(host, self.dtype))

    @property
    def placement(self) -> Placement:
        """How input rows are checked and moved: the backend, the dtype there and on the host, the width,
        and the largest input value the network takes without overflowing."""
        return self._place

    @property
    def layers(self) -> tuple[tuple[Any, Any], ...]:
        """The ``(W, b)`` pairs on the device, the first argument of ``forward_fn``'s functions."""
        return self.params.layers

    def asarray(self, X: Any, *, check_finite: bool = False) -> Any:
        """Host data ``X`` ((m, n) or (n,)), checked (values too with ``check_finite``), on this model's device."""
        place = self._place
        host = host_features(X, place.n_features, check_finite=check_finite, dtype=place.host_dtype,
                             max_abs=place.max_abs)
        return self.backend.asrows(host, self.dtype)

    def forward_fn(self, variant: str = "matmul") -> ForwardFn:
        """The function ``(layers, X) -> outputs`` for ``variant`` ("loop", "matmul", "jit").

        The jit variant is compiled on its first call (per input shape, as every compiler
        here specialises on shapes) and then reused; on a chunked backend (Dask) it is the
        forward mapped over each block of rows (:meth:`~xpnet.backends.Backend.jit_rows`).
        The matmul and jit variants use the backend's fused kernels (:meth:`~xpnet.backends.Backend.kernels`),
        an eager backend's matmul variant runs in cache-sized blocks of rows (``block_rows``), and where the
        backend's product is faster on wider hidden layers, this model's own layers run widened with zero
        units (``hidden_multiple``, :func:`~xpnet.model.widen_hidden`; the same outputs).
        """
        check_choice(variant, VARIANTS, "variant")
        if variant == "loop":  # by name: the loop applies a row-wise activation (softmax) to the whole layer
            names, xp = self.network.activations, self.backend.xp
            return lambda layers, X: forward_loop(layers, X, names, xp)
        return self._forward(variant, checked=False)

    def _forward(self, variant: str, checked: bool) -> ForwardFn:
        """The matmul or jit forward, made once; ``checked``: it returns ``(outputs, finite)`` (``forward_checked``)."""
        if (variant, checked) in self._forwards:
            return self._forwards[variant, checked]
        be, names = self.backend, self.network.activations
        kernels = be.quiet_kernels() if checked else self._kernels  # checked: inside without_nonfinite_warnings

        def build(ns: Any, compiled: bool = False) -> ForwardFn:
            # the backend's kernels are for its own namespace; blocks of another (Dask's) get the standard's
            own = ns is be.xp
            bound, fused = (bind_activations(names, ns, kernels), kernels.get("affine")) if own else \
                (bind_activations(names, ns), None)
            whole = partial(forward_checked, compiled=compiled, all_finite=kernels.get("all_finite") if own else None,
                            offset_first=self._offset_first(ns, bound[0]) if own and not compiled else None) \
                if checked else forward_matmul

            def matmul_forward(layers: Any, X: Any) -> Any:
                return whole(layers, X, bound, ns, fused)

            return matmul_forward

        if variant == "jit":
            fn = _one_example_as_a_batch(be.jit_rows(lambda ns: build(ns, compiled=self._compiled(variant))), be.xp)
        else:
            fn = build(be.xp)
            if be.block_rows:
                fn = in_row_blocks(fn, be.block_rows, be.xp)
        if be.hidden_multiple:
            fn = self._on_own_layers_widened(fn)
        if checked:  # the non-finite sums it finds are refused by predict_proba, not warned about on the way
            fn = be.without_nonfinite_warnings(fn)
        self._forwards[variant, checked] = fn
        return fn

    def _offset_first(self, xp: Any, g: Callable[[Any], Any]) -> Callable[[Any, Any, Any], Any] | None:
        """An eager forward's first layer of :class:`~xpnet.model.OffsetRows` (its sums, bias, activation ``g`` and
        NaN in the rows to refuse, :func:`~xpnet.model.offset_first_layer`) as one compiled call, on a backend that
        shares host memory only at an alignment and has a compiler (JAX, TensorFlow); None elsewhere.

        Why: eager, each of ``offset_sums``' steps (the gathers of W's rows, the tail's slice and concatenation,
        the narrow product, the sum, the last row) is a call and a pass of its own, which made eager
        ``predict_proba`` 1.46x to 1.54x (TensorFlow) and 1.36x to 1.52x (JAX) the forward on device-resident rows
        at m = 10^5, measured; compiled, they are one pass fused with the product (1.03x to 1.08x and 1.12x to
        1.15x; BENCHMARKS.md). The layers themselves stay eager. What it costs: a compilation per new batch shape,
        which eager JAX pays for every op anyway (1.2 to 3.6 s for a new m near 10^5 either way) and eager
        TensorFlow pays only here (its first call at a new m 0.2 to 0.9 s instead of 0.05 to 0.16 s). Where the
        framework's eager kernels are faster than its compiler's (``Backend.offset_eager_kernels``: TensorFlow's
        oneDNN product and one-op sigmoid against XLA's), the big product (:func:`~xpnet.model.offset_product`)
        and the activation run eager, and the compiled call does the rest of the sums.
        """
        be = self.backend
        if not be.host_alignment or be.compiler is None:
            return None
        if not be.offset_eager_kernels:
            return be.jit(partial(offset_first_layer, g=g, xp=xp))
        sums = be.jit(partial(offset_first_layer, g=linear, xp=xp))  # the sums + b, NaN where not finite
        weights = self._kept_offset_weights(xp)

        def first(X: Any, W: Any, b: Any) -> Any:  # the big product and the activation eager, the rest compiled
            return g(sums(X, W, b, own=offset_product(X, W, xp, weights(W, X.columns))))

        return first

    def _kept_offset_weights(self, xp: Any) -> Callable[[Any, Any], Any]:
        """``(W, columns) -> offset_weights(W, columns, xp)`` (:func:`~xpnet.model.offset_weights`), kept for this
        model's own first-layer W while it is not written in place (:meth:`~xpnet.backends.Backend.array_version`)
        and the batches keep their offset from the alignment (``columns``: kept per offset by the Staging).

        Why: made eagerly at each call, its slice, zeros, concatenation and gather took 0.8 ms in TensorFlow
        (2026-12-01, in the eager user path: 2.6% of its time at m = 10^5 and 10% at 8192 rows; TensorFlow's
        ``W[:1, :]`` alone is 0.19 ms), for a (400, 25) result that only changes with W or the offset.
        """
        kept = _Kept(self.backend)

        def weights(W: Any, columns: Any) -> Any:
            if W is self.params.layers[0][0]:
                made = kept.get([W, columns], lambda: offset_weights(W, columns, xp))
                if made is not None:
                    return made
            return offset_weights(W, columns, xp)

        return weights

    def _on_own_layers_widened(self, forward: ForwardFn) -> ForwardFn:
        """``forward`` run on this model's own layers widened to the backend's ``hidden_multiple``
        (``widen_hidden``: the same outputs, faster where the framework's product is); other layers as they are.

        The widened copy is made once and kept while the model's arrays are not written in place
        (:meth:`~xpnet.backends.Backend.array_version`; arrays whose writes no one can tell run as they are):
        padding at each call costs an eager framework more than it saves (29 us in PyTorch), and a compiled
        forward gets arrays of one shape either way.
        """
        be, names, multiple = self.backend, self.network.activations, self.backend.hidden_multiple
        widened = _Kept(be)

        def on_widened(layers: Any, X: Any) -> Any:
            if not _widens(X):
                return forward(layers, X)
            own = self.params.layers
            if len(layers) != len(own) or any(a is not o for pair, own_pair in zip(layers, own, strict=True)
                                              for a, o in zip(pair, own_pair, strict=True)):
                return forward(layers, X)
            copy = widened.get([a for pair in own for a in pair], lambda: widen_hidden(own, names, multiple, be.xp))
            return forward(layers if copy is None else copy, X)

        return on_widened

    def forward(self, X: Any, variant: str = "matmul", *, batch_size: int | None = None) -> Any:
        """Outputs as an array of this backend; ``X`` may be host data or a backend array on this device.

        The unchecked path (as ``forward_fn``, which the benchmarks time): shapes and
        dtypes are checked, values are not scanned, and a NaN or inf in X propagates to the outputs as in
        NumPy (use :meth:`predict_proba` for checked results). ``batch_size`` runs X in
        chunks of that many rows and concatenates the results on the device.
        """
        rows = rows_of(X, self._place, check_finite=False)
        parts = [result for _, _, result in self._run(rows, variant, batch_size, finish=self.backend.sync)]
        return parts[0] if len(parts) == 1 else self.backend.xp.concat(parts, axis=0)

    def predict_proba(
        self,
        X: Any,
        variant: str = "matmul",
        *,
        batch_size: int | None = None,
        check_finite: bool = True,
        progress: bool = False,
        out: Any = None,
    ) -> Any:
        """The network's outputs as NumPy: (m, units_out) for (m, n) input, (units_out,) for (n,).

        For the lab's network, the probability of the digit being a 1, (m, 1); for a softmax
        output, one probability per class. X: host data (a NumPy array, a memmap, anything
        ``np.asarray`` reads) or an array of this backend on this model's device (another
        device is refused, naming both). ``batch_size``: rows per chunk; None runs an
        in-memory X in one chunk and a memory-mapped one in chunks of :data:`MAPPED_BATCH_SIZE`,
        so that peak memory follows the chunk, not the file. ``check_finite``: refuse NaN and inf
        in X (the error names the first bad index, counted in the whole X), and finite rows whose
        values overflow inside the network; False skips the checks and lets NaN propagate. Host X
        already in the model's dtype is not scanned: the matmul and jit forwards check their first
        layer's sums, which any NaN or inf in a row makes non-finite, and only a refused chunk is
        scanned, to name the value (so a value beyond the input bound is refused there only when
        its sums do overflow); X in another dtype, the loop variant and Dask are scanned as before.
        ``progress``: a progress bar on stderr. ``out``: where to put the outputs instead of a new
        array, anything of shape (m, units_out) that takes ``out[lo:hi] = rows`` (a memory-mapped
        ``.npy``, a Zarr array); it is filled chunk by chunk and returned, so that neither the input
        nor the output needs to fit in memory.
        """
        be = self.backend
        failed: BaseException | None = None  # the whole batch ran out of memory in the fast path: start halved
        if out is None and batch_size is None and not progress and check_finite:
            whole = self._whole_in_memory(X, variant)
            if isinstance(whole, np.ndarray):
                return whole
            failed = whole
        rows = rows_of(X, self._place, check_finite, forward_checks=variant != "loop" and not be.chunked,
                       compiled=self._compiled(variant))
        if out is not None:
            _check_out(out, rows.m, self.network.outputs)
        checked = check_finite and not rows.scanned  # the forward checks its first layer instead of a scan of X

        def fetch(result: Any) -> tuple[np.ndarray, bool]:
            return (be.to_numpy(result[0]), bool(result[1])) if checked else (be.to_numpy(result), True)

        for lo, hi, (p, finite) in self._run(rows, variant, batch_size, progress, fetch, checked, failed):
            if not finite or (check_finite and not outputs_finite(p)):
                _refuse_chunk(rows, lo, hi, p, self.dtype)
            if out is None and lo == 0 and hi == (rows.m if rows.m is not None else 1):
                return p  # one chunk: no copy
            if out is None:
                out = np.empty((rows.m, *p.shape[1:]), dtype=p.dtype)
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
        """Predicted classes as NumPy int32.

        One output unit (the lab): 1 where the probability is at least ``threshold`` (in [0, 1]),
        shape (m, 1). Several (softmax): the class with the largest probability, shape (m,).
        The other arguments are those of :meth:`predict_proba`.
        """
        threshold = check_threshold(threshold)
        proba = self.predict_proba(X, variant, batch_size=batch_size, check_finite=check_finite, progress=progress)
        return np.asarray(predict_from_proba(proba, _HOST_XP, threshold))

    def _whole_in_memory(self, X: Any, variant: str) -> np.ndarray | BaseException | None:
        """The common case without the streaming machinery (34 us of a 340 us call at m = 1000, measured):
        a plain in-memory batch in the model's dtype, one call of the checked forward. None when X is not
        that, or when the call finds a bad value or an overflow (the general path then names it); the
        device's out-of-memory error when the whole batch did not fit (the general path starts halved)."""
        be, place = self.backend, self._place
        if (type(X) is not np.ndarray or X.ndim != 2 or X.dtype != place.host_dtype or not X.shape[0]
                or X.shape[1] != place.n_features or not X.flags.c_contiguous or variant not in ("matmul", "jit")
                or be.chunked or be.device_count > 1):
            return None
        stage = self._stage()
        try:
            p, finite = self._forward(variant, checked=True)(self.layers, stage.rows(X, self._compiled(variant)))
            p = be.to_numpy(p)
        except Exception as err:
            if be.is_out_of_memory(err):
                return err
            raise
        finally:
            stage.keep_small()
        if not finite or not outputs_finite(p):
            return None
        return p

    def _compiled(self, variant: str) -> bool:
        """Whether ``variant``'s forward is compiled here: the jit variant of a backend with a compiler (elsewhere
        "jit" is the matmul forward as it is). Staging and the first layer's sums take the compiled form then."""
        return variant == "jit" and self.backend.compiler is not None

    def _stage(self) -> Staging:
        """This thread's Staging of whole batches, kept across calls so that its aligned buffer is reused: a
        fresh one costs its page faults at every call (the copy of X took 0.32 ms into a fresh buffer and
        0.10 ms into a kept one at m = 1000, measured). One per thread: two threads may call one Model, and the
        framework reads the buffer until the call's result is fetched."""
        stage = getattr(self._staging, "stage", None)
        if stage is None:
            stage = self._staging.stage = Staging(self.backend, self.dtype, offset=True)
        return stage

    def _run(self, rows: Rows, variant: str, batch_size: int | None, progress: bool = False,
             finish: Callable[[Any], Any] = lambda result: result,
             checked: bool = False, failed: BaseException | None = None) -> Iterator[tuple[int, int, Any]]:
        """The chunks of ``rows`` through ``variant``'s forward (matmul for no rows, which the loop cannot stack).

        ``checked``: the forward that also says whether its first layer's sums are finite. ``failed``: the
        out-of-memory error of a first try on the whole X (the chunks start at half of it).
        """
        check_choice(variant, VARIANTS, "variant")
        variant = "matmul" if rows.m == 0 else variant
        fn = self._forward(variant, checked) if checked else self.forward_fn(variant)
        layers = self.layers
        return chunks(rows, lambda X: fn(layers, X), self._place, batch_size, pad=variant == "jit",
                      progress=progress, finish=finish, failed=failed)

    def __repr__(self) -> str:
        return f"Model({self.network}, backend={self.backend.name!r}, " \
               f"device={self.backend.device!r}, dtype={self.dtype!r})"


class _Kept:
    """One value made from some arrays (``make()``), kept while they are the same arrays, not written in place
    since (:meth:`~xpnet.backends.Backend.array_version`): a Model's copies of its own layers, made once
    instead of at every call. The arrays are held with it, so that their ids stay theirs; it is replaced whole,
    so a concurrent call sees the old one or the new one."""

    def __init__(self, backend: backends.Backend) -> None:
        self._backend = backend
        self._held: tuple[Any, list[Any], Any] | None = None  # (key, arrays, value)

    def get(self, arrays: list[Any], make: Callable[[], Any]) -> Any:
        """The kept value, made again if the arrays changed; None (nothing made) where any array's writes
        cannot be told (NumPy's): the caller then does without a copy."""
        key = tuple((id(a), self._backend.array_version(a)) for a in arrays)
        if any(version is None for _, version in key):
            return None
        held = self._held
        if held is None or held[0] != key:
            held = self._held = (key, arrays, make())
        return held[2]


def _one_example_as_a_batch(forward: ForwardFn, xp: Any) -> ForwardFn:
    """A compiled ``forward`` that runs one example (n,) as a batch of one (1, n) and gives its (units,) back, so
    that the compiler only ever sees batches: one rank, one graph per batch size. TensorFlow's ``reduce_retracing``
    relaxed a vector after matrices to an unknown rank, under which its matmul could not tell one from the other
    (it failed); ``torch.compile`` and ``jax.jit`` compiled a graph of its own for the vector. The compiled function
    itself stays reachable as ``__wrapped__`` (``jax.jit``'s ``lower``, its cache)."""
    def forward_one(layers: Any, X: Any) -> Any:
        if X.ndim != 1:
            return forward(layers, X)
        out = forward(layers, xp.reshape(X, (1, X.shape[0])))
        return (out[0][0, ...], out[1]) if isinstance(out, tuple) else out[0, ...]

    forward_one.__wrapped__ = forward  # type: ignore[attr-defined]
    return forward_one


def _refuse_chunk(rows: Rows, lo: int, hi: int, p: np.ndarray, dtype: str) -> None:
    """Rows lo:hi were refused (by the checked forward, or for outputs ``p`` that are not finite): name the first
    bad value of X there (the scan, on the error path only; a value beyond the input bound too); were there none,
    the first row whose outputs overflowed inside the network, or else the rows whose first-layer sums overflowed.
    In this order whatever found them: an eager forward's flag is about the first layer's sums, a compiled one's
    about the outputs (``forward_checked``), and both variants give the same message."""
    rows.scan(lo, hi)
    check_outputs(p, lo, dtype, rows.row, one=rows.m is None)
    raise InputError(f"X rows {lo} to {hi - 1} make the first layer's sums overflow; scale the input down")


#: Batches of fewer rows run on the layers as they are. Widened, the time against as they are (interleaved
#: rounds, 2026-11-30): JAX jit 0.92x at m = 256, 0.94x at 512, 0.83x to 0.89x from 1000 to 10^5; JAX eager
#: 1.06x, 1.02x, then 0.89x to 0.95x; PyTorch eager 0.96x, 0.93x, then 0.87x to 0.98x; PyTorch compiled
#: 1.04x, 0.95x, then 0.84x to 0.89x.
WIDEN_FROM_ROWS = 512


def _widens(X: Any) -> bool:
    """Whether a forward on X runs on widened layers (``Backend.hidden_multiple``): a batch of enough rows."""
    shape = X.shape
    return len(shape) == 2 and shape[0] >= WIDEN_FROM_ROWS


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


def _check_out(out: Any, m: int | None, units: int) -> None:
    """``out`` has the shape of the outputs, (m, units), so that each chunk lands in its rows."""
    shape = tuple(getattr(out, "shape", ()))
    if m is None or shape != (m, units):
        raise InputError(f"out must have the outputs' shape ({m}, {units}), got {shape or type(out).__name__}")
