"""PyTorch on the CPU or CUDA, through array-api-compat's namespace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend


class TorchBackend(Backend):
    name = "torch"
    devices = ("cpu", "cuda")
    extra = "torch"
    distributions = ("torch",)
    array_modules = ("torch",)
    compiler = "torch.compile"
    device_aliases = {"gpu": "cuda"}

    @classmethod
    def _import(cls) -> Any:
        import torch

        return torch

    def _device_missing(self, device: str) -> str | None:
        if device == "cuda" and not self.module.cuda.is_available():
            return "torch.cuda.is_available() is False (a CPU-only build, or no NVIDIA GPU/driver)"
        return None

    def _configure(self) -> None:
        torch = self.module
        # No TF32 on Ampere and later: full float32 matmuls, so that parity holds.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")

    def _namespace(self) -> Any:
        import array_api_compat.torch

        return array_api_compat.torch

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        return self.module.as_tensor(x, dtype=dtype, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        x = x.detach()
        if x.dtype == self.module.bfloat16:
            x = x.float()
        return x.cpu().numpy()

    def sync(self, x: Any = None) -> Any:
        if self.device == "cuda":
            self.module.cuda.synchronize()
        return x

    def jit(self, fn: Callable) -> Callable:
        # A first call costs seconds of compilation (6 to 30 s measured on 2 CPU cores);
        # dynamic=False: one specialised graph per input shape, as jax.jit and tf.function do.
        return self.module.compile(fn, dynamic=False)
