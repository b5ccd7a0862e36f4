"""TensorFlow on the CPU or a GPU, through xpnet's own minimal namespace.

TensorFlow has no Array API namespace (see ``tensorflow_namespace``); xpnet never turns
on TF's process-global NumPy behaviour. Device ``"gpu:N"`` is TensorFlow's ``/GPU:N``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend, device_index, gpu_name

# Several GPU frameworks share one process: TF must grow its GPU memory, not take it all.
# Set before TensorFlow is imported (this file is imported lazily, before the framework).
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")


class TensorflowBackend(Backend):
    name = "tensorflow"
    devices = ("cpu", "gpu")
    extra = "tensorflow"
    distributions = ("tensorflow", "tensorflow-cpu")
    array_modules = ("tensorflow",)
    compiler = "tf.function(jit_compile=True)"
    host_alignment = 64  # Eigen's alignment: shared host memory must have it
    # Eager, the product is oneDNN's and the sigmoid one op; XLA's compiled product took 27.8 against 20.7 ms for
    # 10^5 x 400 by 400 x 25 (2026-12-01, Intel Xeon with AVX-512, 2 vCPUs), and eager predict_proba went from 1.40x
    # to 1.22x the eager forward on device rows at m = 10^5 with the product left out of the compiled first layer;
    # with the sigmoid left out too, 1.07x against 1.14x with XLA's sigmoid (AMD EPYC Zen 4, 31 interleaved rounds).
    offset_eager_kernels = True
    shares_read_only = False  # through DLPack, from which NumPy keeps read-only arrays

    @classmethod
    def _import(cls) -> Any:
        import tensorflow

        return tensorflow

    def _gpu_count(self) -> int:
        return len(self.module.config.list_physical_devices("GPU"))

    def _no_gpu_reason(self) -> str:
        return "TensorFlow finds no GPU (a CPU-only build, or no NVIDIA GPU/driver)"

    def _configure(self) -> None:
        # Full float32 matmuls on Ampere and later (TF32 is on by default in TF), so that parity holds.
        self.module.config.experimental.enable_tensor_float_32_execution(False)
        self._tf_device = "/CPU:0" if self.device == "cpu" else f"/GPU:{device_index(self.device)}"

    def _namespace(self) -> Any:
        from . import tensorflow_namespace

        return tensorflow_namespace

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        with self.module.device(self._tf_device):
            return self.module.identity(self.module.convert_to_tensor(x, dtype=dtype))

    def borrow_rows(self, x: np.ndarray, dtype: str = "float32") -> Any:
        if self.device != "cpu" or x.dtype != dtype or not self.shares_host(x):
            return self.asrows(x, dtype)
        return self.module.experimental.dlpack.from_dlpack(x.__dlpack__())  # shared; convert_to_tensor copies

    def _device_of(self, x: Any) -> str:
        spec = self.module.DeviceSpec.from_string(x.device)
        if spec.device_type == "GPU":
            return gpu_name(spec.device_index or 0)
        return "cpu" if spec.device_type in ("CPU", None) else f"{spec.device_type.lower()}:{spec.device_index}"

    def array_version(self, x: Any) -> Any:
        # a tf.Tensor is never written in place (a tf.Variable is, and gets None: no copy of it is kept)
        return 0 if isinstance(x, self.module.Tensor) and not isinstance(x, self.module.Variable) else None

    def to_numpy(self, x: Any) -> np.ndarray:
        if x.dtype == self.module.bfloat16:
            x = self.module.cast(x, self.module.float32)
        return x.numpy()

    def sync(self, x: Any = None) -> Any:
        if self.device != "cpu":
            self.module.test.experimental.sync_devices()
        return x

    def jit(self, fn: Callable) -> Callable:
        # XLA-compiled; reduce_retracing keeps one graph for inputs that differ only in batch size.
        return self.module.function(fn, jit_compile=True, reduce_retracing=True)

    def kernels(self) -> dict[str, Callable[..., Any]]:
        tf = self.module
        # bias_add is the op Keras' own Dense layer uses (a broadcast add without the general broadcasting
        # machinery); under tf.function(jit_compile=True) XLA fuses it with what follows either way.
        return {"sigmoid": tf.math.sigmoid, "relu": tf.nn.relu, "softmax": lambda z: tf.nn.softmax(z, axis=-1),
                "affine": lambda A, W, b: tf.nn.bias_add(tf.linalg.matmul(A, W), b)}

    def dtype_missing(self, name: str) -> str | None:
        if name == "bfloat16" and self.device == "cpu":
            crash = onednn_bfloat16_crash()
            if crash:
                return crash
        return super().dtype_missing(name)

    autodiff = "tf.GradientTape"

    def grad(self, fn: Callable) -> Callable:
        tf = self.module

        def gradient(arrays: list) -> list:
            with tf.GradientTape() as tape:
                for a in arrays:
                    tape.watch(a)
                value = fn(list(arrays))
            return tape.gradient(value, list(arrays))

        return gradient

    def is_out_of_memory(self, err: BaseException) -> bool:
        # "OOM when allocating tensor ..." is a ResourceExhaustedError on every device.
        return super().is_out_of_memory(err) or isinstance(err, self.module.errors.ResourceExhaustedError)


#: ``ONEDNN_MAX_CPU_ISA`` values that keep oneDNN's AVX-512 kernels (its bfloat16 matmul needs them, or AMX).
_ONEDNN_AVX512_CAPS = ("AVX512", "AVX10", "ALL", "DEFAULT")


def onednn_bfloat16_crash(environ: Any = os.environ, cpu_flags: frozenset[str] | None = None) -> str | None:
    """Why TensorFlow's bfloat16 matmul on this CPU would crash the process, or None.

    With ``ONEDNN_MAX_CPU_ISA`` capping oneDNN below AVX-512 (``AVX2``, as the test guide sets it to try an older
    CPU's kernels) on a CPU that reports AVX512_BF16 or AMX-BF16, TensorFlow 2.21.0 still hands a bfloat16 matmul
    to oneDNN, which then has no kernel for it: the process dies of SIGSEGV, even for 4 x 4 (measured on an Intel
    Xeon with AMX for the caps SSE41, AVX2, AVX2_VNNI and AVX2_VNNI_2; AVX512_CORE_VNNI, no cap and
    ``TF_ENABLE_ONEDNN_OPTS=0`` run). A crash cannot be caught, so bfloat16 is reported missing, with the reason.
    ``cpu_flags``: the CPU's flags (None: read from /proc/cpuinfo; none where there is no such file).
    """
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if not cap or cap.startswith(_ONEDNN_AVX512_CAPS) or environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0":
        return None
    flags = _cpu_flags() if cpu_flags is None else cpu_flags
    if not flags & {"avx512_bf16", "amx_bf16"}:
        return None
    return (f"bfloat16 matmul crashes TensorFlow's oneDNN when ONEDNN_MAX_CPU_ISA={cap} caps it below AVX-512 on a "
            "CPU with AVX512_BF16 (SIGSEGV); unset ONEDNN_MAX_CPU_ISA, or set TF_ENABLE_ONEDNN_OPTS=0")


@functools.cache
def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them in /proc/cpuinfo (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()
