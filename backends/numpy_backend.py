"""NumPy on the CPU: the reference backend, through array-api-compat's namespace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    devices = ("cpu",)
    extra = "numpy"  # a core dependency: always installed
    distributions = ("numpy",)
    array_modules = ("numpy",)
    #: No compiler fuses the layers, so the forward runs on blocks of 512 rows: a block's rows of X (800 KB)
    #: and its hidden activations stay in a 1 MB L2 between layers (BENCHMARKS.md, "Cache-sized blocks").
    block_rows = 512

    @classmethod
    def _import(cls) -> Any:
        return np

    def borrow_rows(self, x: np.ndarray, dtype: str = "float32") -> Any:
        return x if x.dtype == dtype else x.astype(dtype)

    def _namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy

    def kernels(self) -> dict[str, Callable[..., Any]]:
        # NumPy has no sigmoid; SciPy's ``expit`` (SciPy comes with scikit-learn, a dependency) is one ufunc
        # pass, exact to float32's last bit down to z = -80 (tests/test_kernels.py), where the standard's
        # stable composition is eight passes. The bias is added in place to the fresh product.
        from scipy.special import expit

        def affine(A: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
            Z = A @ W
            Z += b
            return Z

        return {"sigmoid": expit, "affine": affine}
