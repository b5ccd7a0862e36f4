"""Where a forward's time goes at a large batch: each piece timed alone, eager and compiled, per backend.

The profile behind BENCHMARKS.md's explanation of the roofline gap. The pieces are xpnet's
own functions on each backend's Array API namespace (so this module, too, runs on every
backend of the registry):

* ``X @ W1``, the only large matmul (m x 400 by 400 x 25: 96% of the FLOPs, all of the input
  bytes), with its GFLOP/s against the device's square-matmul peak;
* ``sigmoid(Z1 + b1)``, the first layer's element-wise work on m x 25 values;
* layers 2 and 3 (m x 25 -> 15 -> 1, matmuls and sigmoids);
* the whole forward.

    python -m xpnet.bench.breakdown --backends numpy,jax,torch --m 1e6
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

from xpnet import backends
from xpnet.model import dense, forward_matmul, init_params, sigmoid
from xpnet.parity import sample_inputs


def best_time(fn: Callable[[], Any], sync: Callable[[Any], Any], repeats: int) -> float:
    """Fastest of ``repeats`` synchronised calls, after one untimed call (compilation, first touch)."""
    sync(fn())
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        sync(fn())
        best = min(best, time.perf_counter() - t0)
    return best


def pieces(be: backends.Backend, m: int, dtype: str = "float32", repeats: int = 5) -> dict[str, tuple[float, float]]:
    """piece -> (eager seconds, compiled seconds) on ``be`` (compiled = eager where the backend has no compiler)."""
    xp = be.xp
    params = init_params(seed=0).to(be, dtype=dtype)
    (W1, b1), (W2, b2), (W3, b3) = params.layers
    acts = params.network.activations
    X = be.asarray(sample_inputs(m), dtype)
    Z1 = be.sync(xp.matmul(X, W1))
    A1 = be.sync(sigmoid(Z1 + b1, xp))

    def first_matmul(X: Any, W1: Any) -> Any:
        return xp.matmul(X, W1)

    def first_sigmoid(Z1: Any, b1: Any) -> Any:
        return sigmoid(Z1 + b1, xp)

    def rest(A1: Any, W2: Any, b2: Any, W3: Any, b3: Any) -> Any:
        g = lambda z: sigmoid(z, xp)  # noqa: E731
        return dense(dense(A1, W2, b2, g, xp=xp), W3, b3, g, xp=xp)

    def whole(layers: Any, X: Any) -> Any:
        return forward_matmul(layers, X, acts, xp)

    calls = {
        "X @ W1": (first_matmul, (X, W1)),
        "sigmoid(Z1 + b1)": (first_sigmoid, (Z1, b1)),
        "layers 2 and 3": (rest, (A1, W2, b2, W3, b3)),
        "whole forward": (whole, (params.layers, X)),
    }
    found = {}
    for name, (fn, args) in calls.items():
        compiled = be.jit(fn)
        eager = best_time(lambda fn=fn, args=args: fn(*args), be.sync, repeats)
        jit = best_time(lambda c=compiled, args=args: c(*args), be.sync, repeats) if be.compiler else eager
        found[name] = (eager, jit)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xpnet.bench.breakdown", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="numpy,jax,torch,tensorflow")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--m", default="1e6")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    m = int(float(args.m))
    flop = 2 * m * 400 * 25
    print(f"m = {m:,}, {args.dtype}; best of {args.repeats}; GFLOP/s for X @ W1 only")
    print(f"{'backend':<12}{'piece':<20}{'eager':>12}{'ex/s':>12}{'compiled':>12}{'ex/s':>12}")
    for name in args.backends.split(","):
        st = backends.status(name, args.device)
        if not st.available:
            print(f"{name:<12}skipped: {st.reason}")
            continue
        for piece, (eager, jit) in pieces(backends.get(name, args.device), m, args.dtype, args.repeats).items():
            extra = f"   {flop / eager / 1e9:.1f} / {flop / jit / 1e9:.1f} GFLOP/s" if piece == "X @ W1" else ""
            print(f"{name:<12}{piece:<20}{eager * 1e3:>9.2f} ms{m / eager / 1e6:>8.2f} M/s"
                  f"{jit * 1e3:>9.2f} ms{m / jit / 1e6:>8.2f} M/s{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
