"""array-api-strict: a minimal namespace that raises on anything outside the standard.

It runs nothing fast; it proves that the shared model code is portable, because code
that passes here uses only what every Array API library provides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend


class StrictBackend(Backend):
    name = "array_api_strict"
    devices = ("cpu",)
    extra = "strict"
    distributions = ("array-api-strict",)
    array_modules = ("array_api_strict",)
    numpy_warnings = True

    @classmethod
    def _import(cls) -> Any:
        import array_api_strict

        return array_api_strict

    def _namespace(self) -> Any:
        return self.module

    def _device_of(self, x: Any) -> str:
        # array-api-strict simulates extra devices (all in host memory); only its default one is the CPU.
        return "cpu" if x.device == self.module.__array_namespace_info__().default_device() else repr(x.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        # DLPack: the standard's own way out of a namespace, zero-copy on the CPU.
        return np.from_dlpack(x)
