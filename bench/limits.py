"""The physical limits of each device, measured at the start of a run: memory bandwidth and matmul peak.

Every row of the report is set against the roofline of its device and dtype,
``min(bandwidth / bytes per example, peak / FLOP per example)``, with
bytes per example = 400 inputs x the dtype's size (reading X dominates: the weights,
40 KB, stay in cache) and 20_780 FLOP per example (2 x (400*25 + 25*15 + 15*1), the
three matmuls). Both limits are measured with each available backend's Array API
namespace on the device (a large copy, ``-x``; a large square matmul) and the best
backend is kept: the limit is what the hardware gives the best library here, not a
datasheet number. Beside them, the rate of the network's own first product (m x 400 by
400 x 25, 96% of the FLOP), which no library here runs near the square peak: the
ceiling that product sets (``DeviceLimits.ceiling``). And two floors of a call: the launch floor (the
fastest synchronised one-element operation any backend here runs: on a GPU one kernel launch and one
wait, the least any forward can take) and, on a GPU, the host-to-device bandwidth a batch is copied at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.bench.harness import best_time
from xpnet.model import LAB_NETWORK, Network

#: Bytes of one element, by dtype name.
ITEMSIZE = {"float32": 4, "float64": 8, "bfloat16": 2}


def flop_per_example(network: Network = LAB_NETWORK) -> int:
    """Multiply-adds of the matmuls, counted as 2 FLOP each: 20_780 for the lab's network."""
    return sum(2 * n_in * n_out for (n_in, n_out), _ in network.shapes)


def bytes_per_example(dtype: str, network: Network = LAB_NETWORK) -> int:
    """Bytes of input read per example: 1_600 in float32."""
    return network.input_dim * ITEMSIZE[dtype]


@dataclass
class DeviceLimits:
    """Measured limits of one device: bandwidth in bytes/s, peak FLOP/s by dtype, and who achieved them."""

    device: str
    bandwidth: float
    bandwidth_by: str
    peak: dict[str, float] = field(default_factory=dict)
    peak_by: dict[str, str] = field(default_factory=dict)
    #: FLOP/s of the network's skinny first product (X @ W1, rows x 400 by 400 x 25) by dtype, best backend kept.
    first_product: dict[str, float] = field(default_factory=dict)
    first_product_by: dict[str, str] = field(default_factory=dict)
    #: Seconds of the fastest synchronised one-element operation (one kernel launch and one wait on a GPU).
    launch_floor: float | None = None
    launch_floor_by: str = ""
    #: Bytes/s of copying host float32 (NumPy's pageable memory) to the device; GPUs only.
    host_link: float | None = None
    host_link_by: str = ""

    def roofline(self, dtype: str, network: Network = LAB_NETWORK) -> float | None:
        """Examples/s the device allows in ``dtype``; None when no backend could run a matmul in it."""
        return self._examples_per_s(self.peak.get(dtype), dtype, network)

    def ceiling(self, dtype: str, network: Network = LAB_NETWORK) -> float | None:
        """Examples/s if all of the network's FLOP ran at the rate of its first product (the skinny X @ W1 that
        is 96% of them) as the best library here runs it, and no faster than the bandwidth allows: the ceiling
        where that product, not the hardware, is the limit. None when it was not measured."""
        return self._examples_per_s(self.first_product.get(dtype), dtype, network)

    def _examples_per_s(self, flops: float | None, dtype: str, network: Network) -> float | None:
        """Examples/s at ``flops`` FLOP/s, and no faster than the bandwidth allows; None without a rate."""
        if flops is None:
            return None
        return min(self.bandwidth / bytes_per_example(dtype, network), flops / flop_per_example(network))

    def bound(self, dtype: str, network: Network = LAB_NETWORK) -> str:
        """Which limit binds: "memory" or "compute"."""
        peak = self.peak.get(dtype, math.inf)
        return "memory" if self.bandwidth / bytes_per_example(dtype, network) < peak / flop_per_example(network) \
            else "compute"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"roofline": {d: self.roofline(d) for d in self.peak},
                               "ceiling": {d: self.ceiling(d) for d in self.first_product}}


def _negation_seconds(be: backends.Backend, elements: int, repeats: int) -> float:
    """The fastest synchronised ``-x`` on ``elements`` float32 on the backend's device."""
    x = be.asarray(np.ones(elements, dtype=np.float32), "float32")
    return best_time(lambda: be.sync(-x), repeats)


def copy_bandwidth(be: backends.Backend, nbytes: int, repeats: int = 5) -> float:
    """Bytes/s of ``y = -x`` on ``nbytes`` of float32 (read + write counted, as STREAM's copy)."""
    return 2 * nbytes / _negation_seconds(be, nbytes // 4, repeats)


def launch_floor(be: backends.Backend, repeats: int = 50) -> float:
    """Seconds of the fastest ``-x`` on one element, synchronised: the least one call of the backend takes on its
    device (on a GPU, a kernel launch and a wait for it: the CUDA launch floor as this framework reaches it)."""
    return _negation_seconds(be, 1, repeats)


def host_to_device(be: backends.Backend, nbytes: int, repeats: int = 3) -> float:
    """Bytes/s of copying ``nbytes`` of host float32 onto the backend's device (``asarray``, synchronised)."""
    host = np.ones(nbytes // 4, dtype=np.float32)
    return nbytes / best_time(lambda: be.sync(be.asarray(host, "float32")), repeats)


def uniform(shape: tuple[int, ...], seed: int, drawn: dict | None = None) -> np.ndarray:
    """Seeded uniform [0, 1) float32 of ``shape``, kept in ``drawn`` (when given) for the next backend that asks:
    a GPU's operands (n up to 16384, 2^20 rows of X) are 4.5 GB, 8.5 s of drawing per backend (measured on the
    2-vCPU machine of BENCHMARKS.md)."""
    drawn = {} if drawn is None else drawn
    if (shape, seed) not in drawn:
        drawn[shape, seed] = np.random.default_rng(seed).random(shape, dtype=np.float32)
    return drawn[shape, seed]


def matmul_peak(be: backends.Backend, dtype: str, min_seconds: float, max_n: int, repeats: int = 3,
                drawn: dict | None = None) -> float:
    """FLOP/s of an n x n matmul, n doubled from 256 until one product takes ``min_seconds`` (or reaches max_n).
    ``drawn``: host operands already drawn (:func:`uniform`)."""
    n, xp = 256, be.xp
    while True:
        a = be.asarray(uniform((n, n), 1, drawn), dtype)
        b = be.asarray(uniform((n, n), 2, drawn), dtype)
        t = best_time(lambda a=a, b=b: be.sync(xp.matmul(a, b)), repeats)
        if t >= min_seconds or n >= max_n:
            return 2 * n**3 / t
        n *= 2


def first_product_rate(be: backends.Backend, dtype: str, rows: int, network: Network = LAB_NETWORK,
                       repeats: int = 3, drawn: dict | None = None) -> float:
    """FLOP/s of the network's first product, ``X @ W1`` with X of ``rows`` x 400 (uniform, not zeros), as the
    backend's own matmul runs it: the skinny shape no BLAS runs at its square-matmul peak."""
    (n_in, n_out), _ = network.shapes[0]
    X = be.asarray(uniform((rows, n_in), 0, drawn), dtype)
    W = be.asarray(np.random.default_rng(0).standard_normal((n_in, n_out)).astype(np.float32) * 0.05, dtype)
    return 2 * rows * n_in * n_out / best_time(lambda: be.sync(be.xp.matmul(X, W)), repeats)


def measure(
    pairs: Iterable[tuple[str, str]],
    dtypes: Iterable[str] = ("float32",),
    quick: bool = False,
) -> dict[str, DeviceLimits]:
    """Limits of every device among the available (backend, device) ``pairs``, best backend kept.

    Keyed by device name, which every backend spells alike ("cpu", "gpu", "gpu:1"), so that torch's
    and JAX's first GPU share one GPU's limits.

    ``quick`` measures small sizes only (for test runs, where the numbers are not reported).
    """
    # rows of the first product: 65536 x 400 float32 is 100 MiB on a CPU (3x the L3 here), 1.6 GiB on a GPU
    cpu = {"nbytes": 1 << 28, "min_seconds": 0.05, "max_n": 4096, "rows": 1 << 16}   # 256 MiB: 8x the 32 MiB L3
    gpu = {"nbytes": 1 << 31, "min_seconds": 0.05, "max_n": 16384, "rows": 1 << 20}  # 2 GiB: far past any L2
    small = {"nbytes": 1 << 22, "min_seconds": 0.0, "max_n": 256, "rows": 256}
    found: dict[str, DeviceLimits] = {}
    drawn: dict = {}  # host operands, drawn once for every backend
    for name, device in pairs:
        be = backends.get(name, device)
        size = small if quick else (cpu if be.device == "cpu" else gpu)
        bw = copy_bandwidth(be, size["nbytes"])
        lim = found.setdefault(be.device, DeviceLimits(be.device, 0.0, ""))
        if bw > lim.bandwidth:
            lim.bandwidth, lim.bandwidth_by = bw, name
        floor = launch_floor(be)
        if lim.launch_floor is None or floor < lim.launch_floor:
            lim.launch_floor, lim.launch_floor_by = floor, name
        if backends.device_kind(be.device) == "gpu":  # on the CPU there is no link: a framework may share the memory
            link = host_to_device(be, size["nbytes"] // 8)
            if lim.host_link is None or link > lim.host_link:
                lim.host_link, lim.host_link_by = link, name
        for dtype in dtypes:
            if be.dtype_missing(dtype):
                continue
            peak = matmul_peak(be, dtype, size["min_seconds"], size["max_n"], drawn=drawn)
            if peak > lim.peak.get(dtype, 0.0):
                lim.peak[dtype], lim.peak_by[dtype] = peak, name
            first = first_product_rate(be, dtype, size["rows"], drawn=drawn)
            if first > lim.first_product.get(dtype, 0.0):
                lim.first_product[dtype], lim.first_product_by[dtype] = first, name
    return found
