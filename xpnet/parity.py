"""Parity: the same weights and inputs through every backend, device, variant and dtype.

Every row is compared with one float64 NumPy reference computed from the very same
numbers (weights and inputs are drawn in float32, so float32 backends see them exactly),
and must agree within the dtype's tolerance below and give the same 0/1 predictions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.api import Model
from xpnet.model import THRESHOLD, VARIANTS, Params, forward_matmul, init_params
from xpnet.validation import check_choice, host_features


@dataclass(frozen=True)
class Tolerance:
    """How close a dtype's probabilities must be to the float64 reference."""

    max_rel_err: float
    why: str


#: The tolerances, in one place. Relative error |p - p_ref| / p_ref of each probability.
TOLERANCES: dict[str, Tolerance] = {
    "float32": Tolerance(1e-5, "float32 eps is 1.2e-7; a 400-term dot product and three layers lose "
                               "about two digits of that"),
    "float64": Tolerance(1e-12, "float64 eps is 2.2e-16; the same loss leaves 1e-13 or better"),
    "bfloat16": Tolerance(5e-2, "bfloat16 keeps 8 significant bits (eps 7.8e-3); opt-in only"),
}

#: Dtypes checked unless asked otherwise (bfloat16 is opt-in: its predictions may differ near 0.5).
DEFAULT_DTYPES = ("float32", "float64")

#: The loop variant dispatches ~500 operations per example: check it on this many examples.
LOOP_EXAMPLES = 16


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
    ok: bool
    error: str | None = None


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
        head = f"{'backend':<17}{'device':<7}{'variant':<8}{'dtype':<9}{'m':>5} {'max_abs_err':>12} " \
               f"{'max_rel_err':>12} {'agree':>7}  ok"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            if r.error:
                lines.append(f"{r.backend:<17}{r.device:<7}{r.variant:<8}{r.dtype:<9}{r.m:>5}  ERROR {r.error}")
                continue
            lines.append(
                f"{r.backend:<17}{r.device:<7}{r.variant:<8}{r.dtype:<9}{r.m:>5} {r.max_abs_err:>12.3e} "
                f"{r.max_rel_err:>12.3e} {r.agreement:>7.1%}  {'yes' if r.ok else 'NO'}"
            )
        lines += [f"skipped: {s}" for s in self.skipped]
        if not self.rows:
            lines.append("parity: FAILED: no requested (backend, device) can run here, so nothing was checked")
        else:
            passed = sum(r.ok for r in self.rows)
            lines.append(f"parity: {'ok' if self.ok else 'FAILED'} ({passed}/{len(self.rows)} rows)")
        return "\n".join(lines)


def reference(params: Params, X: np.ndarray) -> np.ndarray:
    """Probabilities in float64 NumPy: what every row is compared with."""
    import array_api_compat.numpy as xp

    host = params.astype("float64")
    return np.asarray(forward_matmul(host.layers, X.astype(np.float64), host.network.activations, xp))


def compare(
    p: np.ndarray, ref: np.ndarray, dtype: str, threshold: float = THRESHOLD
) -> tuple[float, float, float, bool]:
    """(max_abs_err, max_rel_err, agreement, ok) of probabilities ``p`` against ``ref``."""
    p64 = p.astype(np.float64)
    abs_err = np.abs(p64 - ref)
    rel_err = abs_err / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)
    agreement = float(np.mean((p64 >= threshold) == (ref >= threshold)))
    max_abs, max_rel = float(abs_err.max()), float(rel_err.max())
    ok = p.shape == ref.shape and bool(np.isfinite(p64).all()) and max_rel <= TOLERANCES[dtype].max_rel_err
    return max_abs, max_rel, agreement, ok and agreement == 1.0


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
) -> ParityReport:
    """Run parity over every available (backend, device) among ``backend_names`` (all when None).

    ``params`` defaults to ``init_params(seed=0)``; ``X`` to 64 seeded inputs. Backends
    that are unavailable are listed in ``report.skipped`` with their reason; an unknown
    backend name raises ValueError.
    """
    if isinstance(backend_names, str) or isinstance(devices, str):
        raise TypeError("backend_names and devices must be lists of names, e.g. ['numpy'], not one string")
    if params is not None and not isinstance(params, Params):
        raise TypeError(f"params must be xpnet Params (xpnet.load(path) reads a file), got {type(params).__name__}")
    params = params if params is not None else init_params(seed=0)
    X = sample_inputs(64, params.network.input_dim) if X is None else host_features(X, params.network.input_dim)
    X = np.atleast_2d(X)
    ref = reference(params, X)
    names = list(backend_names) if backend_names is not None else backends.names()
    for name in names:
        backends.backend_class(name)  # unknown names fail before any work
    known_devices = sorted({device for name in names for device in backends.backend_class(name).devices})
    for device in devices or ():
        check_choice(device, known_devices, "device")
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
        for dtype in dtypes:
            reason = backends.get(name, device).dtype_missing(dtype)
            if reason:
                report.skipped.append(f"{name} on {device} in {dtype}: {reason}")
                continue
            model = Model(params, name, device, dtype)
            for variant in variants:
                if variant == "jit" and model.backend.compiler is None:
                    continue  # no compiler: "jit" would be the matmul row again
                report.rows.append(_row(model, variant, dtype, X, ref))
    return report


def _row(model: Model, variant: str, dtype: str, X: np.ndarray, ref: np.ndarray) -> ParityRow:
    be = model.backend
    m = min(len(X), LOOP_EXAMPLES) if variant == "loop" else len(X)
    try:
        p = model.predict_proba(X[:m], variant)
    except Exception as err:  # a row that cannot run is a failed row, reported, not a crash
        return ParityRow(be.name, be.device, variant, dtype, m, None, None, None, False, f"{type(err).__name__}: {err}")
    max_abs, max_rel, agreement, ok = compare(p, ref[:m], dtype)
    return ParityRow(be.name, be.device, variant, dtype, m, max_abs, max_rel, agreement, ok)
