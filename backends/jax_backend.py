"""JAX on the CPU or a GPU, or on every local device of one kind at once; ``jax.numpy`` is an Array API
namespace as it is.

Device ``"gpu:N"`` is ``jax.devices("gpu")[N]``; arrays are placed there with ``device_put``.
Devices ``"cpu:all"`` and ``"gpu:all"`` are every local device of that kind, in a one-axis
``jax.sharding.Mesh``: parameters are replicated on each (``asarray``), a batch of rows is split
evenly across them (``asrows``), and ``jax.jit`` compiles one forward that XLA runs on all of them,
its output split by rows as its input (GSPMD). Rows that do not split evenly are replicated instead
(XLA shards only evenly): xpnet's streaming pads a batch to a multiple of :attr:`device_count`.
Several CPU devices are what ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` makes, set
before JAX is imported.

float64 needs JAX's x64 mode, which is process-wide: it is switched on only when a
float64 array is first asked for, so that a process that never asks keeps JAX's defaults.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import ALL_DEVICES, Backend, device_index, device_kind, gpu_name

# Several GPU frameworks share one process: JAX must not take 75% of the GPU memory at start.
# Set before JAX is imported (this file is imported lazily, before the framework).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


class JaxBackend(Backend):
    name = "jax"
    devices = ("cpu", "gpu", "cpu:all", "gpu:all")
    extra = "jax"
    distributions = ("jax",)
    array_modules = ("jax", "jaxlib")
    compiler = "jax.jit"
    host_alignment = 64  # XLA's CPU client shares a host buffer only at this alignment, and copies it otherwise
    # OffsetRows' time over the copy's (predict_proba jit, interleaved, up to three runs): 1.03x at 0.8 MB, 0.88x
    # to 0.95x at 1.6 MB, 0.77x to 0.80x at 6.4 MB
    offset_from_bytes = 3 << 19

    @classmethod
    def _import(cls) -> Any:
        import jax

        return jax

    def _gpu_count(self) -> int:
        try:
            return len(self.module.devices("gpu"))
        except RuntimeError:  # jaxlib without a GPU platform
            return 0

    def _cpu_count(self) -> int:
        return len(self.module.devices("cpu"))

    def _device_missing(self, device: str) -> str | None:
        reason = super()._device_missing(device)
        if reason and device == "cpu:all":
            reason += " (XLA_FLAGS=--xla_force_host_platform_device_count=N, set before JAX starts, makes N)"
        return reason

    def _no_gpu_reason(self) -> str:
        try:
            self.module.devices("gpu")
        except RuntimeError as err:
            return f"JAX has no gpu platform ({str(err).splitlines()[0]}); install jax[cuda12]"
        return "JAX finds no GPU"

    def _configure(self) -> None:
        platform = device_kind(self.device)
        local = self.module.devices(platform)
        if self.device in ALL_DEVICES:
            from jax.sharding import Mesh, NamedSharding, PartitionSpec

            mesh = Mesh(np.array(local), ("rows",))
            self._placement: Any = NamedSharding(mesh, PartitionSpec())  # replicated on every device
            self._rows: Any = NamedSharding(mesh, PartitionSpec("rows"))  # split by rows
        else:
            self._placement = self._rows = local[0 if platform == "cpu" else device_index(self.device)]
        self._local = local
        # Full float32 matmuls on GPUs (no TF32/bf16 passes), so that parity holds.
        self.module.config.update("jax_default_matmul_precision", "highest")
        # XLA's CPU product is faster on hidden layers padded to 8 units: the jit forward 0.83x to 0.89x the time
        # at m = 1000 to 10^5 (xpnet.api.WIDEN_FROM_ROWS). One CPU device only: not measured on GPUs or sharded.
        self.hidden_multiple = 8 if self.device == "cpu" else 0

    def array_version(self, a: Any) -> Any:
        return 0  # JAX arrays are never written in place

    @property
    def device_count(self) -> int:
        return len(self._local) if self.device in ALL_DEVICES else 1

    def _namespace(self) -> Any:
        import jax.numpy

        return jax.numpy

    def dtype(self, name: str) -> Any:
        if name == "float64" and not self.module.config.jax_enable_x64:
            self.module.config.update("jax_enable_x64", True)
        return super().dtype(name)

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        return self.module.device_put(x.astype(dtype, copy=False), self._placement)

    def asrows(self, x: Any, dtype: str = "float32") -> Any:
        host = np.asarray(x)
        if host.ndim == 0 or len(host) % self.device_count:
            return self.asarray(host, dtype)
        return self.module.device_put(host.astype(self.dtype(dtype), copy=False), self._rows)

    def borrow_rows(self, x: np.ndarray, dtype: str = "float32") -> Any:
        if self.device != "cpu" or x.dtype != dtype or not self.shares_host(x):
            return self.asrows(x, dtype)
        return self.module.device_put(x, self._placement, may_alias=True)  # XLA's CPU client shares it

    def borrow_for_compiled(self, x: np.ndarray, dtype: str = "float32") -> Any:
        if self.device != "cpu" or self.device_count > 1 or x.dtype != dtype:
            return self.borrow_rows(x, dtype)
        # jit's C++ dispatch takes a NumPy argument itself, sharing it where it is aligned as device_put does, in
        # about 5 us: jax.device_put took 140 us for any array, even (1, 16), in JAX 0.10 (measured)
        return x

    def _device_of(self, x: Any) -> str:
        """"cpu", "gpu:N" for an array on one device; "cpu:all"/"gpu:all" for one placed on every device of a kind."""
        from jax.sharding import SingleDeviceSharding

        devices = x.devices()
        device = next(iter(devices))
        kind = "cpu" if device.platform == "cpu" else "gpu"
        if len(devices) == 1 and isinstance(x.sharding, SingleDeviceSharding):
            return "cpu" if kind == "cpu" else gpu_name(self.module.devices(device.platform).index(device))
        if devices == set(self.module.devices(device.platform)):
            return f"{kind}:all"
        raise ValueError(f"the JAX array is sharded over {len(devices)} of the {kind} devices; xpnet computes on one "
                         f"or on every one ({kind}:all)")

    def to_numpy(self, x: Any) -> np.ndarray:
        # A copy of its own: NumPy's view of an XLA buffer is read-only, and a result should take writes as NumPy's
        # own do (the copy is of outputs: predict_proba jit at m = 1000, 877 against 870 us, 3000 rounds)
        return np.array(x, dtype=np.float32 if x.dtype.name == "bfloat16" else None)

    def sync(self, x: Any = None) -> Any:
        return self.module.block_until_ready(x) if x is not None else x

    def jit(self, fn: Callable) -> Callable:
        return self.module.jit(fn)

    def kernels(self) -> dict[str, Callable[..., Any]]:
        nn = self.module.nn  # XLA fuses the bias add into the product's consumer by itself: no affine here
        return {"sigmoid": nn.sigmoid, "relu": nn.relu, "softmax": lambda z: nn.softmax(z, axis=-1)}

    autodiff = "jax.grad"

    def grad(self, fn: Callable) -> Callable:
        return self.module.grad(fn)

    def is_out_of_memory(self, err: BaseException) -> bool:
        # XLA reports every allocation failure as a JaxRuntimeError (XlaRuntimeError) "RESOURCE_EXHAUSTED: ...".
        return super().is_out_of_memory(err) or (isinstance(err, RuntimeError) and "RESOURCE_EXHAUSTED" in str(err))
