"""A few seconds of forward timings for ``xpnet run``'s report: what each backend costs, beside ONNX Runtime.

Each (backend, device) runs the matmul forward, and the compiled one where the backend has a
compiler, on one example (latency) and on the whole held-out set (throughput); ONNX Runtime runs
the same weights when it is installed. Each time is a median after a warm-up call, with the
device synchronised. This is a glance, not a benchmark: ``xpnet bench`` measures properly.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from xpnet.api import Model
from xpnet.model import Params

#: The forward variants timed (the per-example loop is a teaching device, 8x to 60x slower: see BENCHMARKS.md).
TIMED_VARIANTS = ("matmul", "jit")


@dataclass(frozen=True)
class Timing:
    """The median time of one call of one forward on ``m`` examples."""

    backend: str
    device: str
    variant: str
    m: int
    median_s: float

    @property
    def examples_per_s(self) -> float:
        return self.m / self.median_s

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "device": self.device, "variant": self.variant, "m": self.m,
                "median_s": self.median_s, "examples_per_s": self.examples_per_s}


def median_seconds(fn: Callable[[], Any], sync: Callable[[Any], Any] = lambda out: out, budget_s: float = 0.3,
                   max_repeats: int = 50) -> float:
    """Median wall time of ``fn()`` with the device synchronised, after one warm-up (compilation) call."""
    sync(fn())
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_repeats and (len(times) < 5 or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def forward_timings(params: Params, X: np.ndarray, name: str, device: str) -> list[Timing]:
    """The matmul forward, and the jit one where ``name`` compiles, on X's first row and on all of X."""
    m = Model(params, name, device)
    be = m.backend
    rows = []
    for variant in TIMED_VARIANTS:
        if variant == "jit" and be.compiler is None:
            continue  # no compiler: "jit" would be the matmul row again
        fn = m.forward_fn(variant)
        for Xd in (m.asarray(X[:1]), m.asarray(X)):
            seconds = median_seconds(lambda fn=fn, Xd=Xd, layers=m.layers: fn(layers, Xd), be.sync)
            rows.append(Timing(name, device, variant, int(Xd.shape[0]), seconds))
    return rows


def onnxruntime_timings(params: Params, X: np.ndarray) -> list[Timing]:
    """ONNX Runtime's CPU session on the same weights, on X's first row and on all of X; [] when not installed."""
    from xpnet.onnx_export import onnxruntime_session, onnxruntime_version

    if onnxruntime_version() is None:
        return []
    run = onnxruntime_session(params, "float32")
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    return [Timing("onnxruntime", "cpu", "session", len(Xm), median_seconds(lambda Xm=Xm: run(Xm)))
            for Xm in (X32[:1], X32)]
