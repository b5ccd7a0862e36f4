"""JAX on the CPU or a GPU; ``jax.numpy`` is an Array API namespace as it is.

Device ``"gpu:N"`` is ``jax.devices("gpu")[N]``; arrays are placed there with ``device_put``.

float64 needs JAX's x64 mode, which is process-wide: it is switched on only when a
float64 array is first asked for, so that a process that never asks keeps JAX's defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend, device_index, gpu_name

# Several GPU frameworks share one process: JAX must not take 75% of the GPU memory at start.
# Set before JAX is imported (this file is imported lazily, before the framework).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


class JaxBackend(Backend):
    name = "jax"
    devices = ("cpu", "gpu")
    extra = "jax"
    distributions = ("jax",)
    array_modules = ("jax", "jaxlib")
    compiler = "jax.jit"

    @classmethod
    def _import(cls) -> Any:
        import jax

        return jax

    def _gpu_count(self) -> int:
        try:
            return len(self.module.devices("gpu"))
        except RuntimeError:  # jaxlib without a GPU platform
            return 0

    def _no_gpu_reason(self) -> str:
        try:
            self.module.devices("gpu")
        except RuntimeError as err:
            return f"JAX has no gpu platform ({str(err).splitlines()[0]}); install jax[cuda12]"
        return "JAX finds no GPU"

    def _configure(self) -> None:
        platform = "cpu" if self.device == "cpu" else "gpu"
        self._jax_device = self.module.devices(platform)[0 if platform == "cpu" else device_index(self.device)]
        # Full float32 matmuls on GPUs (no TF32/bf16 passes), so that parity holds.
        self.module.config.update("jax_default_matmul_precision", "highest")

    def _namespace(self) -> Any:
        import jax.numpy

        return jax.numpy

    def dtype(self, name: str) -> Any:
        if name == "float64" and not self.module.config.jax_enable_x64:
            self.module.config.update("jax_enable_x64", True)
        return super().dtype(name)

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        return self.module.device_put(x.astype(dtype, copy=False), self._jax_device)

    def _device_of(self, x: Any) -> str:
        devices = x.devices()
        if len(devices) != 1:
            raise ValueError(f"the JAX array is sharded over {len(devices)} devices; xpnet computes on one")
        (device,) = devices
        if device.platform == "cpu":
            return "cpu"
        return gpu_name(self.module.devices(device.platform).index(device))

    def to_numpy(self, x: Any) -> np.ndarray:
        x = self.module.device_get(x)
        return np.asarray(x, dtype=np.float32) if x.dtype.name == "bfloat16" else np.asarray(x)

    def sync(self, x: Any = None) -> Any:
        return self.module.block_until_ready(x) if x is not None else x

    def jit(self, fn: Callable) -> Callable:
        return self.module.jit(fn)

    autodiff = "jax.grad"

    def grad(self, fn: Callable) -> Callable:
        return self.module.grad(fn)

    def is_out_of_memory(self, err: BaseException) -> bool:
        # XLA reports every allocation failure as a JaxRuntimeError (XlaRuntimeError) "RESOURCE_EXHAUSTED: ...".
        return super().is_out_of_memory(err) or (isinstance(err, RuntimeError) and "RESOURCE_EXHAUSTED" in str(err))
