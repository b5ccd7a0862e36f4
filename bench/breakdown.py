"""Where a forward's time goes at a large batch: each piece timed alone, eager and compiled, per backend.

The profile behind BENCHMARKS.md's explanation of the roofline gap. The pieces are xpnet's
own functions on each backend's Array API namespace (so this module, too, runs on every
backend of the registry):

* ``X @ W1``, the only large matmul (m x 400 by 400 x 25: 96% of the FLOPs, all of the input
  bytes), with its GFLOP/s against the device's square-matmul peak;
* ``sigmoid(Z1 + b1)``, the first layer's element-wise work on m x 25 values;
* layers 2 and 3 (m x 25 -> 15 -> 1, matmuls and sigmoids);
* the whole forward.

Each piece runs with the backend's fused kernels (``Backend.kernels()``) and, where the backend
widens hidden layers (``Backend.hidden_multiple``), on the widened layers, as ``xpnet.Model`` runs
them. ``--onnxruntime`` adds ONNX Runtime's own times for ``X @ W1 + b1`` (a one-layer graph:
MLAS's product) and for the whole network, on the same inputs: the peer's cost piece by piece.

    python -m xpnet.bench.breakdown --backends numpy,jax,torch --m 1e6
    python -m xpnet.bench.breakdown --backends numpy,jax,torch --m 1000 --repeats 200 --onnxruntime
"""

from __future__ import annotations

import argparse
from typing import Any

from xpnet import backends
from xpnet.api import WIDEN_FROM_ROWS
from xpnet.bench.harness import best_time
from xpnet.model import LayerSpec, Network, Params, bind_activations, forward_matmul, init_params, widen_hidden
from xpnet.parity import sample_inputs
from xpnet.validation import split_names


def pieces(be: backends.Backend, m: int, dtype: str = "float32", repeats: int = 5) -> dict[str, tuple[float, float]]:
    """piece -> (eager seconds, compiled seconds) on ``be`` (compiled = eager where the backend has no compiler).

    Every piece is the model's own code on a slice of the layers, with the backend's kernels:
    ``forward_matmul`` on the first layer, on the others, and on all of them; the first layer's
    matmul and activation alone.
    """
    xp, kernels = be.xp, be.kernels()
    affine, acts = kernels.get("affine"), bind_activations(init_params(seed=0).network.activations, xp, kernels)
    params = init_params(seed=0).map(lambda a: be.asarray(a, dtype))
    layers = params.layers
    if be.hidden_multiple and m >= WIDEN_FROM_ROWS:  # as xpnet.Model runs them
        layers = widen_hidden(layers, params.network.activations, be.hidden_multiple, xp)
    (W1, b1), g1 = layers[0], acts[0]
    X = be.asarray(sample_inputs(m), dtype)
    Z1 = be.sync(xp.matmul(X, W1))
    A1 = be.sync(forward_matmul(layers[:1], X, acts[:1], xp, affine))

    def first_matmul(X: Any, W1: Any) -> Any:
        return xp.matmul(X, W1)

    def first_activation(Z1: Any, b1: Any) -> Any:
        return g1(Z1 + b1)

    def rest(later: Any, A1: Any) -> Any:
        return forward_matmul(later, A1, acts[1:], xp, affine)

    def whole(layers: Any, X: Any) -> Any:
        return forward_matmul(layers, X, acts, xp, affine)

    calls = {
        "X @ W1": (first_matmul, (X, W1)),
        "sigmoid(Z1 + b1)": (first_activation, (Z1, b1)),
        "layers 2 and 3": (rest, (layers[1:], A1)),
        "whole forward": (whole, (layers, X)),
    }
    found = {}
    for name, (fn, args) in calls.items():
        compiled = be.jit(fn)
        eager = best_time(lambda fn=fn, args=args: be.sync(fn(*args)), repeats)
        jit = best_time(lambda c=compiled, args=args: be.sync(c(*args)), repeats) if be.compiler else eager
        found[name] = (eager, jit)
    return found


def onnxruntime_pieces(m: int, dtype: str = "float32", repeats: int = 5) -> dict[str, float]:
    """piece -> seconds in ONNX Runtime (its default threads) on the same weights and inputs as :func:`pieces`:
    ``X @ W1 + b1`` as a one-layer graph (MatMul and Add, which ONNX Runtime may fuse into one Gemm) and the
    whole network."""
    from xpnet.onnx_export import onnxruntime_session

    params = init_params(seed=0)
    first = Params(Network(params.network.input_dim, (LayerSpec(params.network.layers[0].units, "linear"),)),
                   params.weights[:1], params.biases[:1])
    X = sample_inputs(m).astype(dtype)
    sessions = {"X @ W1 + b1": onnxruntime_session(first, dtype), "whole forward": onnxruntime_session(params, dtype)}
    return {name: best_time(lambda run=run: run(X), repeats) for name, run in sessions.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xpnet.bench.breakdown", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", type=split_names, default="numpy,jax,torch,tensorflow")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--m", default="1e6")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--onnxruntime", action="store_true", help="add ONNX Runtime's times for the same pieces")
    args = parser.parse_args(argv)
    m = int(float(args.m))
    flop = 2 * m * 400 * 25
    print(f"m = {m:,}, {args.dtype}; best of {args.repeats}; GFLOP/s for X @ W1 only")
    print(f"{'backend':<12}{'piece':<20}{'eager':>12}{'ex/s':>12}{'compiled':>12}{'ex/s':>12}")
    for name in args.backends:
        st = backends.status(name, args.device)
        if not st.available:
            print(f"{name:<12}skipped: {st.reason}")
            continue
        for piece, (eager, jit) in pieces(backends.get(name, args.device), m, args.dtype, args.repeats).items():
            extra = f"   {flop / eager / 1e9:.1f} / {flop / jit / 1e9:.1f} GFLOP/s" if piece == "X @ W1" else ""
            print(f"{name:<12}{piece:<20}{eager * 1e3:>9.2f} ms{m / eager / 1e6:>8.2f} M/s"
                  f"{jit * 1e3:>9.2f} ms{m / jit / 1e6:>8.2f} M/s{extra}")
    if args.onnxruntime:
        for piece, seconds in onnxruntime_pieces(m, args.dtype, args.repeats).items():
            extra = f"   {flop / seconds / 1e9:.1f} GFLOP/s (with the bias)" if piece.startswith("X @ W1") else ""
            print(f"{'onnxruntime':<12}{piece:<20}{seconds * 1e3:>9.2f} ms{m / seconds / 1e6:>8.2f} M/s{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
