"""Parity: the same weights and inputs through every backend, device, variant and dtype.

Every row is compared with one float64 NumPy reference computed from the very same
numbers (weights and inputs are drawn in float32, so float32 backends see them exactly),
and must agree within the dtype's tolerance below and give the same predicted classes
(the 0/1 threshold for one output, the argmax for a softmax).

Each output's relative error is held to the dtype's eps times its row's condition number:
how many rounding errors the output layer's logits can carry, by the textbook first-order
bound of a dot product's rounding, |fl(a . w) - a . w| <= c * eps * (|a| . |w|) (Higham,
Accuracy and Stability of Numerical Algorithms, ch. 3), carried through the layers
(:func:`conditions`), at least 1. The lab's network on pixel inputs has condition numbers
of 10 to 22 (so float32 must agree to about 2.6e-6); a trained ten-digit relu network has
1,000 to 2,500, and every float32 backend, NumPy included, then differs from float64 by about
2e-5, float32 arithmetic and not a backend's fault. Measured on numpy, jax, tensorflow, torch
and array-api-strict: 4% to 17% of the bound in float32 and float64 alike; TF32 (a 10-bit
mantissa) would err about 8000x more than float32 and fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import array_api_compat.numpy as xp
import numpy as np

from xpnet import backends
from xpnet.api import Model
from xpnet.model import THRESHOLD, VARIANTS, Params, activation, forward_matmul, init_params, predict_from_proba
from xpnet.validation import InputError, check_choice, host_features


@dataclass(frozen=True)
class Tolerance:
    """How close a dtype's outputs must be to the float64 reference.

    ``eps``: the dtype's machine epsilon; parity allows each output a relative error of
    ``eps`` times its row's condition number. ``max_rel_err``: a plain relative tolerance
    for comparisons without condition numbers (the lab's small network in tests and benchmarks).
    """

    max_rel_err: float
    why: str
    eps: float = 0.0


#: The tolerances, in one place (see the module's docstring for how parity applies ``eps``).
TOLERANCES: dict[str, Tolerance] = {
    "float32": Tolerance(1e-5, "float32 eps is 1.2e-7; a 400-term dot product and three layers lose "
                               "about two digits of that", eps=float(np.finfo(np.float32).eps)),
    "float64": Tolerance(1e-12, "float64 eps is 2.2e-16; the same loss leaves 1e-13 or better",
                         eps=float(np.finfo(np.float64).eps)),
    "bfloat16": Tolerance(5e-2, "bfloat16 keeps 8 significant bits (eps 7.8e-3); opt-in only", eps=2.0**-7),
}

#: Dtypes checked unless asked otherwise (bfloat16 is opt-in: its predictions may differ near 0.5).
DEFAULT_DTYPES = ("float32", "float64")

#: The loop variant dispatches ~500 operations per example: check it on this many examples.
LOOP_EXAMPLES = 16
#: ... and on this many on a chunked (lazy) backend, where each operation is a graph task built in ~2 ms.
LAZY_LOOP_EXAMPLES = 2


@dataclass(frozen=True)
class ParityRow:
    backend: str
    device: str
    variant: str
    dtype: str
    m: int
    max_abs_err: float | None
    max_rel_err: float | None
    agreement: float | None
    bound_share: float | None
    ok: bool
    error: str | None = None
    #: The size of the local Dask cluster the row ran on (a chunked backend's rows); None: in this process.
    workers: int | None = None


@dataclass
class ParityReport:
    rows: list[ParityRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": [asdict(row) for row in self.rows], "skipped": self.skipped}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """A plain-text table, one line per row."""
        head = f"{'backend':<17}{'device':<9}{'workers':<8}{'variant':<8}{'dtype':<9}{'m':>5} {'max_abs_err':>12} " \
               f"{'max_rel_err':>12} {'of bound':>9} {'agree':>7}  ok"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            where = f"{r.backend:<17}{r.device:<9}{r.workers or '-':<8}{r.variant:<8}{r.dtype:<9}{r.m:>5}"
            if r.error:
                lines.append(f"{where}  ERROR {r.error}")
                continue
            lines.append(
                f"{where} {r.max_abs_err:>12.3e} "
                f"{r.max_rel_err:>12.3e} {r.bound_share:>9.1%} {r.agreement:>7.1%}  {'yes' if r.ok else 'NO'}"
            )
        lines += [f"skipped: {s}" for s in self.skipped]
        if not self.rows:
            lines.append("parity: FAILED: no requested (backend, device) can run here, so nothing was checked")
        else:
            passed = sum(r.ok for r in self.rows)
            lines.append(f"parity: {'ok' if self.ok else 'FAILED'} ({passed}/{len(self.rows)} rows)")
        return "\n".join(lines)


def reference(params: Params, X: np.ndarray) -> np.ndarray:
    """Outputs in float64 NumPy: what every row is compared with."""
    host = params.astype("float64")
    return np.asarray(forward_matmul(host.layers, X.astype(np.float64), host.network.activations, xp))


def compare(
    p: np.ndarray, ref: np.ndarray, dtype: str, threshold: float = THRESHOLD, *, condition: Any = None
) -> tuple[float, float, float, bool]:
    """(max_abs_err, max_rel_err, agreement, ok) of outputs ``p`` against ``ref``.

    ``ok``: finite, of the reference's shape, every predicted class equal (``agreement`` is
    their share: the 0/1 threshold for one output unit, the argmax for several), and every
    error within its limit (:func:`error_shares` at most 1).
    """
    if p.shape != ref.shape:
        return np.inf, np.inf, 0.0, False
    p64 = p.astype(np.float64)
    abs_err = np.abs(p64 - ref)
    rel_err = abs_err / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    agreement = float(np.mean(predict_from_proba(p64, xp, threshold) == predict_from_proba(ref, xp, threshold)))
    share = float(error_shares(p64, ref, dtype, condition).max(initial=0.0))
    ok = bool(np.isfinite(p64).all()) and share <= 1.0 and agreement == 1.0
    return float(abs_err.max(initial=0.0)), float(rel_err.max(initial=0.0)), agreement, ok


def error_shares(p: np.ndarray, ref: np.ndarray, dtype: str, condition: Any = None) -> np.ndarray:
    """Each output's relative error as a share of what ``dtype`` allows it (ok at most 1).

    With ``condition`` (per row, from :func:`conditions`): eps(dtype) times the row's condition
    number. Without: the dtype's plain ``max_rel_err``.
    """
    rel_err = np.abs(p.astype(np.float64) - ref) / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    tol = TOLERANCES[dtype]
    if condition is None:
        return rel_err / tol.max_rel_err
    return rel_err / (tol.eps * np.reshape(condition, (-1,) + (1,) * (rel_err.ndim - 1)))


def conditions(params: Params, X: np.ndarray) -> np.ndarray:
    """Per row of X, the rounding errors (in eps) the output's logits can carry: the forward error bound, >= 1.

    Each layer's pre-activation errs by at most about eps * (|A| @ |W| + |b|) from its own
    sums, plus the error of A carried through |W|; a hidden activation passes an error on
    scaled by its largest slope (sigmoid 1/4, relu and linear 1). The largest bound among
    the output's logits is the row's condition number: the relative error of a sigmoid or
    softmax probability is at most about that many eps (for a softmax, twice).
    """
    host = params.astype("float64")
    A = np.atleast_2d(X).astype(np.float64)
    err = np.zeros_like(A)
    for (W, b), name in zip(host.layers, host.network.activations, strict=True):
        magnitude = np.abs(A) @ np.abs(W) + np.abs(b)
        err = err @ np.abs(W) + magnitude
        A = np.asarray(activation(name)(A @ W + b, xp))
        err = err * _SLOPES.get(name, 1.0)
    last = host.network.activations[-1]
    err = err / _SLOPES.get(last, 1.0)  # the logits' own bound, before the output activation
    return np.maximum(1.0, err.max(axis=1))


#: The largest slope of each activation (how much of an input error it passes on); softmax's log-probabilities 2.
_SLOPES = {"sigmoid": 0.25, "relu": 1.0, "linear": 1.0, "softmax": 2.0}


def sample_inputs(m: int = 64, n: int = 400, seed: int = 0) -> np.ndarray:
    """Seeded inputs in [0, 1), like pixel intensities, drawn in float32 (exact in every dtype but bf16)."""
    return np.random.default_rng(seed).random((m, n), dtype=np.float32)


def check(
    backend_names: Sequence[str] | None = None,
    params: Params | None = None,
    X: Any = None,
    variants: Iterable[str] = VARIANTS,
    dtypes: Iterable[str] = DEFAULT_DTYPES,
    devices: Sequence[str] | None = None,
    on_row: Callable[[ParityRow], None] | None = None,
    workers: Sequence[int] = (),
) -> ParityReport:
    """Run parity over every available (backend, device) among ``backend_names`` (all when None).

    ``params`` defaults to ``init_params(seed=0)``; ``X`` to 64 seeded inputs. Backends
    that are unavailable are listed in ``report.skipped`` with their reason; an unknown
    backend name raises ValueError. ``on_row`` is called with each row as soon as it is
    done (a progress bar's hook). ``workers``: a chunked backend's (Dask's) rows run once on a
    local Dask cluster of each of these sizes (:mod:`xpnet.cluster`); none: on Dask's threads here.
    """
    if isinstance(backend_names, str) or isinstance(devices, str):
        raise TypeError("backend_names and devices must be lists of names, e.g. ['numpy'], not one string")
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be xpnet Params (xpnet.load(path) reads a file), got {type(params).__name__}")
    params = params if params is not None else init_params(seed=0)
    X = sample_inputs(64, params.network.input_dim) if X is None else host_features(X, params.network.input_dim)
    X = np.atleast_2d(X)
    ref, condition = reference(params, X), conditions(params, X)
    names = list(backend_names) if backend_names is not None else backends.names()
    for name in names:
        backends.backend_class(name)  # unknown names fail before any work
    if devices is not None:
        devices = [_device_name(device, names) for device in devices]
    variants = [check_choice(v, VARIANTS, "variant") for v in variants]
    dtypes = [check_choice(d, TOLERANCES, "dtype") for d in dtypes]
    report = ParityReport()
    for name, device in backends.pairs():
        if name not in names or (devices is not None and device not in devices):
            continue
        st = backends.status(name, device)
        if not st.available:
            report.skipped.append(str(st.reason))
            continue
        for cluster_size in _clusters(backends.backend_class(name).chunked, workers, device):
            for dtype in dtypes:
                reason = backends.get(name, device).dtype_missing(dtype)
                if reason:
                    report.skipped.append(f"{name} on {device} in {dtype}: {reason}")
                    continue
                model = Model(params, name, device, dtype)
                for variant in variants:
                    if variant == "jit" and model.backend.compiler is None:
                        continue  # no compiler: "jit" would be the matmul row again
                    report.rows.append(replace(_row(model, variant, dtype, X, ref, condition), workers=cluster_size))
                    if on_row is not None:
                        on_row(report.rows[-1])
    return report


def _clusters(chunked: bool, workers: Sequence[int], device: str) -> Iterator[int | None]:
    """Where a backend's rows run: None (this process), or for a chunked backend each size of ``workers`` in turn,
    its LocalCluster Dask's scheduler until the next size is asked for."""
    if not chunked or not workers:
        yield None
        return
    from xpnet.cluster import ClusterSpec, connect

    for n in workers:
        with connect(ClusterSpec(workers=n), device):
            yield n


def _device_name(device: str, names: Sequence[str]) -> str:
    """``device`` in xpnet's vocabulary ("cuda" is "gpu"); InputError when no chosen backend knows it."""
    known = sorted({d for name in names for d in backends.backend_class(name).known_devices()})
    canonical = backends.canonical_device(device) if isinstance(device, str) else device
    if not any(_knows(name, canonical) for name in names):
        raise InputError(f"unknown device {device!r}; known devices: {', '.join(known)}")
    return canonical


def _knows(name: str, device: Any) -> bool:
    try:
        backends.backend_class(name).canonical_device(device)
    except (ValueError, TypeError):
        return False
    return True


def _row(model: Model, variant: str, dtype: str, X: np.ndarray, ref: np.ndarray, condition: np.ndarray) -> ParityRow:
    be = model.backend
    m = min(len(X), LAZY_LOOP_EXAMPLES if be.chunked else LOOP_EXAMPLES) if variant == "loop" else len(X)
    try:
        p = model.predict_proba(X[:m], variant)
    except Exception as err:  # a row that cannot run is a failed row, reported, not a crash
        return ParityRow(be.name, be.device, variant, dtype, m, None, None, None, None, False,
                         f"{type(err).__name__}: {err}")
    max_abs, max_rel, agreement, ok = compare(p, ref[:m], dtype, condition=condition[:m])
    scaled = float(error_shares(p, ref[:m], dtype, condition[:m]).max(initial=0.0))
    return ParityRow(be.name, be.device, variant, dtype, m, max_abs, max_rel, agreement, scaled, ok)
