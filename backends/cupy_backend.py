"""CuPy on an NVIDIA GPU, through array-api-compat's namespace.

CuPy uses TF32 only when the environment variable ``CUPY_TF32=1`` is set; it is left off.
Device ``"gpu:N"`` is ``cupy.cuda.Device(N)``, made current around allocation and sync.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend, DeviceClock, device_index, gpu_name
from .pinned import Transfers


class CupyBackend(Backend):
    name = "cupy"
    devices = ("gpu",)
    extra = "cupy"
    distributions = ("cupy-cuda12x", "cupy-cuda13x", "cupy")
    array_modules = ("cupy",)

    @classmethod
    def _import(cls) -> Any:
        import cupy

        return cupy

    def _gpu_count(self) -> int:
        try:
            return self.module.cuda.runtime.getDeviceCount()
        except Exception:  # CUDARuntimeError when there is no driver
            return 0

    def _no_gpu_reason(self) -> str:
        try:
            self.module.cuda.runtime.getDeviceCount()
        except Exception as err:
            return f"CuPy finds no CUDA device ({type(err).__name__}: {err})"
        return "CuPy finds no CUDA device"

    def _configure(self) -> None:
        self._cuda_device = self.module.cuda.Device(device_index(self.device))
        if os.environ.get("CUPY_TF32") == "1":
            import warnings

            warnings.warn("CUPY_TF32=1: float32 matmuls use TF32 and parity may fail", stacklevel=2)

    def _namespace(self) -> Any:
        import array_api_compat.cupy

        return array_api_compat.cupy

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        with self._cuda_device:
            return self.xp.asarray(x, dtype=dtype)

    def transfers(self) -> Transfers | None:
        return _CupyTransfers(self)

    def _device_of(self, x: Any) -> str:
        return gpu_name(x.device.id)

    def to_numpy(self, x: Any) -> np.ndarray:
        return self.module.asnumpy(x)

    def sync(self, x: Any = None) -> Any:
        with self._cuda_device:
            self.module.cuda.get_current_stream().synchronize()
        return x

    # No CUDA graphs (graph_capture stays None): CuPy 14.2 refuses the network's matmul inside a stream capture
    # ("NotImplementedError: calling cuBLAS API during stream capture is currently unsupported", seen on an H200
    # on 2026-11-30), and a forward without its matmuls is no forward.

    def device_clock(self) -> DeviceClock | None:
        cupy = self.module
        with self._cuda_device:
            return DeviceClock(cupy.cuda.Event, self._current_stream, cupy.cuda.get_elapsed_time)

    def _current_stream(self) -> Any:
        with self._cuda_device:
            return self.module.cuda.get_current_stream()

    def kernels(self) -> dict[str, Callable[..., Any]]:
        from cupyx.scipy.special import expit  # one elementwise kernel, as SciPy's ufunc is on the CPU

        return {"sigmoid": expit}

    def is_out_of_memory(self, err: BaseException) -> bool:
        # CuPy's memory pool raises cupy.cuda.memory.OutOfMemoryError; cuBLAS and the runtime
        # report a failed allocation in their own errors' messages.
        if super().is_out_of_memory(err) or isinstance(err, self.module.cuda.memory.OutOfMemoryError):
            return True
        text = str(err)
        return any(s in text for s in ("cudaErrorMemoryAllocation", "CUBLAS_STATUS_ALLOC_FAILED", "out of memory"))


class _CupyTransfers:
    """CuPy's pinned memory (``cupyx.empty_pinned``), a non-blocking stream of its own for the copies, and events
    on it (``Transfers``)."""

    def __init__(self, backend: CupyBackend) -> None:
        self.cupy, self.backend, self.device = backend.module, backend, backend._cuda_device
        with self.device:
            self.stream = self.cupy.cuda.Stream(non_blocking=True)

    def pinned(self, nbytes: int) -> tuple[Any, np.ndarray]:
        import cupyx

        buffer = cupyx.empty_pinned((nbytes,), dtype=np.uint8)
        return buffer, buffer

    def empty(self, shape: tuple[int, ...], dtype: str) -> Any:
        with self.device:
            dst = self.cupy.empty(shape, dtype=self.backend.dtype(dtype))
            # dst's memory may be what work still queued on the current stream frees: the copies wait for it
            self.stream.wait_event(self.cupy.cuda.get_current_stream().record())
            return dst

    def copy_in(self, dst: Any, lo: int, hi: int, buffer: Any, nbytes: int) -> Any:
        source = buffer[:nbytes].view(dst.dtype).reshape(hi - lo, *dst.shape[1:])
        with self.device:
            dst[lo:hi].set(source, stream=self.stream)  # from pinned memory: queued, not waited for
            return self.stream.record()

    def host_waits(self, event: Any) -> None:
        event.synchronize()

    def device_waits(self, event: Any) -> None:
        with self.device:
            self.cupy.cuda.get_current_stream().wait_event(event)
