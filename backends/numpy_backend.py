"""NumPy on the CPU: the reference backend, through array-api-compat's namespace."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    devices = ("cpu",)
    extra = "numpy"  # a core dependency: always installed
    distributions = ("numpy",)
    array_modules = ("numpy",)

    @classmethod
    def _import(cls) -> Any:
        return np

    def _namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy
