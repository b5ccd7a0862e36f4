"""NumPy on the CPU: the reference backend, through array-api-compat's namespace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend, host_all_finite


class NumpyBackend(Backend):
    name = "numpy"
    devices = ("cpu",)
    extra = "numpy"  # a core dependency: always installed
    distributions = ("numpy",)
    array_modules = ("numpy",)
    numpy_warnings = True
    #: No compiler fuses the layers, so the forward runs on blocks of 4096 rows: a block's first-layer sums
    #: (400 KB) stay in a 1 MB L2 through the element-wise passes instead of going to memory and back.
    #: Measured (blocks of 256 to 8192 rows, BENCHMARKS.md): 1.28x at m = 10^5, 1.34x at 10^6, 1.55x at 16,000 on
    #: an AMD Zen 3 without AVX-512; 1.06x at 10^5 and 1.18x at 10^6 on an Intel Xeon with AVX-512 and a 2 MB L2,
    #: where 4096 was again the best block from 16,000 rows on (``python -m xpnet.bench.blocks``).
    block_rows = 4096

    @classmethod
    def _import(cls) -> Any:
        return np

    def borrow_rows(self, x: np.ndarray, dtype: str = "float32") -> Any:
        return x if x.dtype == dtype else x.astype(dtype)

    def _namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy

    def kernels(self) -> dict[str, Callable[..., Any]]:
        return {"sigmoid": _sigmoid, "relu": lambda z: np.maximum(z, 0), "affine": _affine,
                "all_finite": host_all_finite}

    def quiet_kernels(self) -> dict[str, Callable[..., Any]]:
        # inside the checked forward's errstate, the sigmoid's own would be a second one per layer: each
        # costs 1% to 2% of the forward at m = 1000 (measured, 2026-12-01, interleaved rounds)
        return {**self.kernels(), "sigmoid": _sigmoid_unguarded}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) in three in-place passes over one new array (the standard's stable composition is
    eight; SciPy's ``expit`` is one pass but not vectorised: 2.4x slower, measured).

    No guard is needed down to z = -88.7 in float32 (-709 in float64): ``exp(-z)`` is finite there, and the
    result keeps full relative precision (tests/test_kernels.py: within 2.5e-7 of float64 down to -80).
    Below, ``exp`` overflows to inf and the result is 0 for a true value under the smallest normal float;
    the overflow is expected and not warned about. NaN stays NaN, +-inf give 1 and 0.
    """
    with np.errstate(over="ignore"):
        return _sigmoid_unguarded(z)


def _sigmoid_unguarded(z: np.ndarray) -> np.ndarray:
    """:func:`_sigmoid` for a caller already inside ``np.errstate(over="ignore")``: NumPy warns where
    ``exp(-z)`` overflows (z below -88.7 in float32) otherwise."""
    t = np.negative(z)
    np.exp(t, out=t)
    t += 1
    return np.reciprocal(t, out=t)


def _affine(A: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A @ W + b with the bias added in place to the fresh product (one pass fewer than ``A @ W + b``)."""
    Z = A @ W
    Z += b
    return Z
