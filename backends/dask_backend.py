"""Dask arrays: a batch split into blocks of rows, computed by whatever scheduler Dask is using.

Why Dask: data bigger than one machine's memory, and more cores (or hosts, or GPUs) than one
process keeps busy. A Dask array is a lazy graph over blocks of another framework's arrays:
NumPy blocks on ``"cpu"``, CuPy blocks on ``"gpu"`` (the first GPU of each process) and on
``"gpu:all"`` (every GPU, one ``dask-cuda`` worker each). array-api-compat's ``dask.array``
namespace runs the shared model code unchanged; :meth:`to_numpy` and :meth:`sync` compute.

Where the blocks are computed is not this file's business: Dask's threads in this process by
default, or the cluster of the ``dask.distributed.Client`` made current (``xpnet.cluster`` starts
one or connects to one). Nothing here knows a cluster, so the backend runs alike on both.

Two ways to run a forward. The matmul variant is the lazy Array API graph of ``forward_matmul``
(about 40 graph layers, which Dask fuses into one task per block). The jit variant
(:meth:`jit_rows`) maps one forward, written for the blocks' own namespace, over the blocks of
rows (``dask.array.blockwise``): one task per block, no graph per operation. NumPy and CuPy have
no compiler, so the block's forward is their eager code; ``jit`` itself is Dask's own graph
compilation, ``dask.optimize`` (fusion and culling), which is all Dask has.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Backend, device_kind

#: Rows per block of a batch put on Dask: 65536 rows of 400 float32 are 100 MiB, Dask's own size of a good block.
BLOCK_ROWS = 65536


class DaskBackend(Backend):
    name = "dask"
    devices = ("cpu", "gpu", "gpu:all")
    extra = "dask"
    distributions = ("dask",)
    array_modules = ("dask",)
    compiler = "dask.optimize"
    chunked = True

    @classmethod
    def _import(cls) -> Any:
        import dask
        import dask.array  # noqa: F401 - dask[array]: fails without its NumPy-side dependencies

        return dask

    def _gpu_count(self) -> int:
        try:
            import cupy

            return cupy.cuda.runtime.getDeviceCount()
        except Exception:  # ImportError without CuPy, CUDARuntimeError without a driver
            return 0

    def _no_gpu_reason(self) -> str:
        if importlib.util.find_spec("cupy") is None:
            return 'Dask\'s GPU blocks are CuPy arrays, and CuPy is not installed (pip install "xpnet[cupy]")'
        return "CuPy finds no CUDA device"

    def _device_missing(self, device: str) -> str | None:
        reason = super()._device_missing(device)
        if reason or device_kind(device) == "cpu":
            return reason
        if device == "gpu:all" and importlib.util.find_spec("dask_cuda") is None:
            return "gpu:all runs on a dask-cuda cluster (one worker per GPU); install dask-cuda"
        if device not in ("gpu", "gpu:all"):
            return ("Dask's CuPy blocks run on each worker's current GPU: use gpu, gpu:all (every GPU, on a "
                    "dask-cuda cluster), or pick the GPU with CUDA_VISIBLE_DEVICES")
        return None

    def _configure(self) -> None:
        self._da = importlib.import_module("dask.array")
        name = "numpy" if self.device == "cpu" else "cupy"
        #: The framework of the blocks, and its Array API namespace (what a block's forward computes with).
        self.blocks = importlib.import_module(name)
        self.block_xp = importlib.import_module(f"array_api_compat.{name}")

    def _namespace(self) -> Any:
        import array_api_compat.dask.array

        return array_api_compat.dask.array

    @property
    def device_count(self) -> int:
        return self._gpu_count() if self.device == "gpu:all" else 1

    def _asarray(self, x: np.ndarray, dtype: Any) -> Any:
        host = x.astype(dtype, copy=False)
        block = host if self.device == "cpu" else self.blocks.asarray(host)
        rows = (max(1, min(BLOCK_ROWS, len(host))),) if host.ndim else ()
        # name=False: a random name instead of a hash of the data (hashing 100 MiB costs more than the forward)
        return self._da.from_array(block, chunks=rows + host.shape[1:], name=False)

    def _device_of(self, x: Any) -> str:
        if isinstance(getattr(x, "_meta", None), np.ndarray):
            return "cpu"
        return "gpu" if self.device == "cpu" else self.device

    def to_numpy(self, x: Any) -> np.ndarray:
        out = x.compute() if hasattr(x, "compute") else x
        return np.asarray(out) if self.device == "cpu" else self.blocks.asnumpy(out)

    def sync(self, x: Any = None) -> Any:
        """Compute ``x`` (an array or a tuple of them) and keep the blocks where they were computed; return it.

        A lazy backend has done no work until asked: this is the point where a timing or a
        training step is finished, and where a chain of steps stops growing one graph.
        """
        if x is None:
            return x
        (done,) = self.module.persist(x)
        if "distributed" in sys.modules:  # a cluster persists in the background: wait for it
            from distributed import futures_of, wait

            futures = futures_of(done)
            if futures:
                wait(futures)
        return done

    def jit(self, fn: Callable) -> Callable:
        optimize = self.module.optimize

        def optimized(*args: Any) -> Any:
            (out,) = optimize(fn(*args))
            return out

        return optimized

    def jit_rows(self, build: Callable[[Any], Callable[[Any, Any], Any]]) -> Callable[[Any, Any], Any]:
        """``build(block namespace)`` run once per block of rows (``blockwise``), the layers passed whole to each."""
        per_block = build(self.block_xp)
        da, blocks, delayed = self._da, self.blocks, self.module.delayed

        def forward(layers: Any, X: Any) -> Any:
            if X.ndim == 2 and X.numblocks[1] > 1:
                X = X.rechunk({1: -1})  # a block of rows holds whole rows
            whole = delayed(_pairs, pure=True)(*(a for pair in layers for a in pair))  # the layers, once per worker
            rows_in, rows_out = ("ij", "ik") if X.ndim == 2 else ("j", "k")
            # concatenate=False: the one block along the features comes as a list of one (concatenating would copy it)
            return da.blockwise(_block_forward, rows_out, per_block, None, whole, None, X, rows_in,
                                new_axes={"k": layers[-1][0].shape[1]}, concatenate=False, dtype=X.dtype,
                                meta=blocks.empty((0,) * X.ndim, dtype=X.dtype))

        return self.jit(forward)

    def is_out_of_memory(self, err: BaseException) -> bool:
        # Dask re-raises a block's own error: NumPy's MemoryError, or CuPy's OutOfMemoryError on a GPU.
        cupy = sys.modules.get("cupy")
        gpu_oom = cupy is not None and isinstance(err, cupy.cuda.memory.OutOfMemoryError)
        return super().is_out_of_memory(err) or gpu_oom


def _pairs(*flat: Any) -> tuple[tuple[Any, Any], ...]:
    """The layers' ``(W, b)`` pairs from their flat list."""
    return tuple(zip(flat[0::2], flat[1::2], strict=True))


def _block_forward(per_block: Callable[[Any, Any], Any], layers: Any, X: Any) -> Any:
    """One block of rows through ``per_block``; X arrives as the list of its one block along the features."""
    while isinstance(X, list):
        (X,) = X
    return per_block(layers, X)
