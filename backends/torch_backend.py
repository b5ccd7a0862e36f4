"""PyTorch on the CPU or a GPU, through array-api-compat's namespace.

Device ``"gpu:N"`` is ``torch.device("cuda:N")`` (ROCm builds of PyTorch name their GPUs the same).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend, DeviceClock, device_index, gpu_name
from .pinned import Transfers


class TorchBackend(Backend):
    name = "torch"
    devices = ("cpu", "gpu")
    extra = "torch"
    distributions = ("torch",)
    array_modules = ("torch",)
    compiler = "torch.compile"

    @classmethod
    def _import(cls) -> Any:
        import torch

        return torch

    def _gpu_count(self) -> int:
        return self.module.cuda.device_count() if self.module.cuda.is_available() else 0

    def _no_gpu_reason(self) -> str:
        return "torch.cuda.is_available() is False (a CPU-only build, or no NVIDIA GPU/driver)"

    def _configure(self) -> None:
        torch = self.module
        self._torch_device = torch.device("cpu" if self.device == "cpu" else f"cuda:{device_index(self.device)}")
        # No TF32 on Ampere and later: full float32 matmuls, so that parity holds.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        # MKL's product on a CPU, m x 400 by 400 x 25: 0.79x the time with W1 padded to 32 columns (m = 1000
        # and 4096), 0.81x at 10^5; the forward 0.84x to 0.98x (xpnet.api.WIDEN_FROM_ROWS). Not measured on a
        # GPU, so not done there.
        self.hidden_multiple = 8 if self.device == "cpu" else 0
        # torch.compile falls back to eager *silently* (a log line) after 8 recompilations of one
        # function, and every Model's jit forward is the same function: allow more, and fail loudly.
        # (torch < 2.6 names the limit cache_size_limit and has no switch to fail: only the limit is raised.)
        dynamo = torch._dynamo.config
        limit = "recompile_limit" if hasattr(dynamo, "recompile_limit") else "cache_size_limit"
        setattr(dynamo, limit, max(getattr(dynamo, limit), 64))
        if hasattr(dynamo, "fail_on_recompile_limit_hit"):
            dynamo.fail_on_recompile_limit_hit = True

    def _namespace(self) -> Any:
        import array_api_compat.torch

        return array_api_compat.torch

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        if not x.flags.writeable and self.device == "cpu":
            # On the CPU torch would share read-only memory (a memmap chunk opened with mode "r"): a write to
            # the tensor would then crash the process, so it gets a copy (one chunk's worth).
            x = np.array(x)
        return self.module.as_tensor(x, dtype=dtype, device=self._torch_device)

    def borrow_rows(self, x: np.ndarray, dtype: str = "float32") -> Any:
        if self.device != "cpu" or x.dtype != dtype:
            return self.asrows(x, dtype)
        with warnings.catch_warnings():  # a read-only memmap chunk is shared too: the forward only reads it
            warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
            return self.module.from_numpy(x)

    def transfers(self) -> Transfers | None:
        return None if self.device == "cpu" else _TorchTransfers(self)

    def _device_of(self, x: Any) -> str:
        device = x.device
        if device.type == "cuda":
            return gpu_name(device.index if device.index is not None else self.module.cuda.current_device())
        return device.type  # "cpu"; "meta" or "mps" stay as torch names them, never equal to this backend's

    def to_numpy(self, x: Any) -> np.ndarray:
        x = x.detach()
        if x.dtype == self.module.bfloat16:
            x = x.float()
        return x.cpu().numpy()

    def sync(self, x: Any = None) -> Any:
        if self.device != "cpu":
            self.module.cuda.synchronize(self._torch_device)
        return x

    def jit(self, fn: Callable) -> Callable:
        # A first call costs seconds of compilation (6 to 30 s measured on 2 CPU cores);
        # dynamic=False: one specialised graph per input shape, as jax.jit and tf.function do.
        return self.module.compile(fn, dynamic=False)

    graph_capture = "torch.cuda.CUDAGraph"

    def capture(self, fn: Callable[[Any], Any], x: Any) -> Callable[[Any], Any]:
        if self.device == "cpu":
            return super().capture(fn, x)
        torch = self.module
        with torch.cuda.device(self._torch_device), torch.no_grad():
            static_x = x.clone()
            # Warm-up on a side stream, as PyTorch's CUDA-graph notes ask: cuBLAS handles and workspaces
            # are made there, outside the recording.
            side = torch.cuda.Stream(self._torch_device)
            side.wait_stream(torch.cuda.current_stream(self._torch_device))
            with torch.cuda.stream(side):
                for _ in range(3):
                    fn(static_x)
            torch.cuda.current_stream(self._torch_device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):  # intermediates live in the graph's private memory pool
                static_out = fn(static_x)

        def replay(x: Any) -> Any:
            static_x.copy_(x)
            graph.replay()
            return static_out

        return replay

    def device_clock(self) -> DeviceClock | None:
        if self.device == "cpu":
            return None
        torch = self.module
        with torch.cuda.device(self._torch_device):
            return DeviceClock(lambda: torch.cuda.Event(enable_timing=True),
                               lambda: torch.cuda.current_stream(self._torch_device),
                               lambda begin, end: begin.elapsed_time(end))

    def array_version(self, a: Any) -> Any:
        # the count of in-place writes; a tensor made under torch.inference_mode() keeps none
        return None if a.is_inference() else a._version

    def kernels(self) -> dict[str, Callable[..., Any]]:
        torch = self.module
        # addmm: the bias is the product's starting value (one BLAS call, beta = 1), not a second pass
        return {"sigmoid": torch.sigmoid, "relu": torch.relu, "softmax": lambda z: torch.softmax(z, dim=-1),
                "affine": lambda A, W, b: torch.addmm(b, A, W), "all_finite": self._all_finite}

    def _all_finite(self, z: Any) -> Any:
        """Whether every value of ``z`` is finite, as a 0-d bool tensor (no sync with a GPU): from one ``aminmax``
        pass, whose NaN propagates to both ends and whose ends are infinite where any value is.

        Why not ``isfinite(z).all()``: on the CPU it took 8.7 ms for the (10^5, 32) first-layer sums, 23% of the
        whole eager forward, against 0.60 ms for ``aminmax`` (2026-12-01, Intel Xeon, 2 vCPUs; 93 against 34 us
        at m = 1000). ``tests/test_kernels.py`` checks it against NaN, +inf and -inf at a vector's body and tail.
        """
        torch = self.module
        if z.numel() == 0:
            return torch.ones((), dtype=torch.bool, device=z.device)
        ends = torch.stack(torch.aminmax(z))
        return torch.isfinite(ends).all()

    autodiff = "torch.autograd"

    def grad(self, fn: Callable) -> Callable:
        torch = self.module

        def gradient(arrays: list) -> list:
            leaves = [a.detach().requires_grad_(True) for a in arrays]
            return list(torch.autograd.grad(fn(leaves), leaves))

        return gradient

    def is_out_of_memory(self, err: BaseException) -> bool:
        # torch.OutOfMemoryError (torch.cuda.OutOfMemoryError) for CUDA; compiled graphs and the CPU
        # allocator ("DefaultCPUAllocator: can't allocate memory") raise a plain RuntimeError.
        oom = getattr(self.module, "OutOfMemoryError", None) or getattr(self.module.cuda, "OutOfMemoryError", None)
        if super().is_out_of_memory(err) or (oom is not None and isinstance(err, oom)):
            return True
        text = str(err).lower()
        return isinstance(err, RuntimeError) and any(
            s in text for s in ("out of memory", "can't allocate memory", "not enough memory")
        )


class _TorchTransfers:
    """PyTorch's pinned tensors, a CUDA stream of its own for the copies, and events on it (``Transfers``)."""

    def __init__(self, backend: TorchBackend) -> None:
        self.torch, self.backend = backend.module, backend
        self.device = backend._torch_device
        self.stream = self.torch.cuda.Stream(self.device)

    def pinned(self, nbytes: int) -> tuple[Any, np.ndarray]:
        buffer = self.torch.empty(nbytes, dtype=self.torch.uint8, pin_memory=True)
        return buffer, buffer.numpy()

    def empty(self, shape: tuple[int, ...], dtype: str) -> Any:
        dst = self.torch.empty(shape, dtype=self.backend.dtype(dtype), device=self.device)
        # dst's memory may be what work still queued on the current stream frees: the copies wait for that work,
        # and the allocator keeps dst's memory until the copy stream is done with it (PyTorch's CUDA notes).
        self.stream.wait_stream(self.torch.cuda.current_stream(self.device))
        dst.record_stream(self.stream)
        return dst

    def copy_in(self, dst: Any, lo: int, hi: int, buffer: Any, nbytes: int) -> Any:
        source = buffer[:nbytes].view(dst.dtype).view(hi - lo, *dst.shape[1:])
        with self.torch.cuda.stream(self.stream):
            dst[lo:hi].copy_(source, non_blocking=True)  # from pinned memory: queued, not waited for
            event = self.torch.cuda.Event()
            event.record(self.stream)
        return event

    def host_waits(self, event: Any) -> None:
        event.synchronize()

    def device_waits(self, event: Any) -> None:
        self.torch.cuda.current_stream(self.device).wait_event(event)
