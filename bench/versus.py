"""Two or more ways to run the network, timed in alternating processes: a comparison that holds on a shared machine.

``xpnet bench`` times its rows one after another, and on a shared virtual machine the speed of
the host drifts by 1.5x within minutes, so the ratio of two rows turns on what ran in between.
Timing them side by side in one process is no cure either: two runtimes' worker threads (ONNX
Runtime's, XLA's, OpenMP's) spin and steal each other's cores. Here each path runs alone in a
fresh process (its own imports, compilation and warm-up, outside the timing), and the paths
take turns, in a rotating order, for several rounds: a drift of the host hits every path in
turn. Each process checks its outputs against the float64 NumPy reference before it times, and
times calls on rotating seeded inputs (not zeros; as many as ``xpnet bench`` rotates) for
``--seconds``. The report gives each path's median of the per-process medians and its time over
the first path's.

    python -m xpnet.bench.versus --paths onnxruntime,jax-jit,torch-matmul,numpy-matmul --m 1,1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from xpnet.validation import split_names

#: What a path is: "onnxruntime" (its CPU session), or "<backend>-<variant>" (``Model.forward_fn`` on device arrays).
PEER = "onnxruntime"


def _subject(path: str, device: str, params: Any) -> tuple[Any, Any, Any]:
    """(call on a prepared input, prepare a host input, outputs as NumPy) for ``path``."""
    if path == PEER:
        from xpnet.onnx_export import onnxruntime_session

        return onnxruntime_session(params), np.ascontiguousarray, np.asarray
    from xpnet import Model

    backend, _, variant = path.partition("-")
    model = Model(params, backend=backend, device=device)
    be, forward, layers = model.backend, model.forward_fn(variant), model.layers
    return (lambda X: be.sync(forward(layers, X))), model.asarray, be.to_numpy


def child(path: str, m: int, seconds: float, device: str) -> dict[str, Any]:
    """One process's measurement: the path checked, warmed up, then timed for ``seconds`` (median per call)."""
    from xpnet import Model
    from xpnet.bench.harness import buffer_count, check
    from xpnet.model import init_params
    from xpnet.parity import sample_inputs

    params = init_params(seed=0)
    call, prepare, to_numpy = _subject(path, device, params)
    host = [sample_inputs(m, seed=seed) for seed in range(buffer_count(m * 400 * 4))]  # rotated past the cache
    ref = Model(params, "numpy", dtype="float64").predict_proba(host[0])
    inputs = [prepare(X) for X in host]
    error = check(to_numpy(call(inputs[0])), ref, "float32", path)
    warm_until = time.perf_counter() + min(0.2, seconds)
    while time.perf_counter() < warm_until:
        call(inputs[-1])
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        X = inputs[len(times) % len(inputs)]
        t0 = time.perf_counter()
        call(X)
        times.append(time.perf_counter() - t0)
    return {"path": path, "m": m, "median": float(np.median(times)), "calls": len(times), "max_rel_err": error}


def compare(paths: list[str], sizes: list[int], rounds: int, seconds: float, device: str = "cpu") -> list[dict]:
    """Per (m, path): the per-process medians of ``rounds`` alternating rounds (order rotated each round)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    found = []
    for m in sizes:
        medians: dict[str, list[float]] = {p: [] for p in paths}
        for r in range(rounds):
            for path in paths[r % len(paths):] + paths[:r % len(paths)]:
                out = subprocess.run(
                    [sys.executable, "-m", "xpnet.bench.versus", "--child", path, "--m", str(m),
                     "--seconds", str(seconds), "--device", device],
                    env=env, capture_output=True, text=True, timeout=600)
                if out.returncode != 0:
                    raise RuntimeError(f"{path} at m = {m} failed: {out.stderr.strip().splitlines()[-1:]}")
                medians[path].append(json.loads(out.stdout.strip().splitlines()[-1])["median"])
        base = float(np.median(medians[paths[0]]))
        for path in paths:
            mid = float(np.median(medians[path]))
            found.append({"m": m, "path": path, "medians": medians[path], "median": mid, "over_first": mid / base})
    return found


def report(found: list[dict], first: str) -> str:
    lines = [f"| m | path | median of the processes' medians | each process | time over {first}'s |",
             "| --- | --- | --- | --- | --- |"]
    for row in found:
        each = ", ".join(f"{t * 1e6:.0f}" for t in row["medians"])
        lines.append(f"| {row['m']:,} | {row['path']} | {row['median'] * 1e6:.1f} us | {each} us | "
                     f"{row['over_first']:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xpnet.bench.versus", description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=split_names, default=f"{PEER},jax-jit,torch-matmul,numpy-matmul",
                        help="onnxruntime and/or backend-variant names; times are given over the first's")
    parser.add_argument("--m", default="1,1000", help="batch sizes, comma-separated (1e5 is read)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per process")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write the per-process medians here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.m.split(",")]
    if args.child:
        print(json.dumps(child(args.child, sizes[0], args.seconds, args.device)))
        return 0
    try:
        paths = [p for p in args.paths if _runs_here(p, args.device)]
    except ValueError as err:
        print(f"xpnet.bench.versus: {err}", file=sys.stderr)
        return 2
    if len(paths) < 2:
        print("fewer than two of the paths run here: nothing to compare", file=sys.stderr)
        return 2
    found = []
    for m in sizes:  # each size's table as soon as it is measured
        found += compare(paths, [m], args.rounds, args.seconds, args.device)
        print(report([r for r in found if r["m"] == m], paths[0]), flush=True)
    if args.json:
        from xpnet.bench.machine import info
        from xpnet.model.files import atomic_write

        payload = {"machine": info(), "device": args.device, "rounds": args.rounds, "seconds": args.seconds,
                   "rows": found}
        atomic_write(args.json, lambda f: f.write(json.dumps(payload, indent=1).encode()))
    return 0


def _runs_here(path: str, device: str) -> bool:
    """Whether ``path`` can run on ``device`` here; says why not on stderr."""
    from xpnet import backends
    from xpnet.model import VARIANTS
    from xpnet.onnx_export import onnxruntime_version

    if path == PEER:
        if device == "cpu" and onnxruntime_version():
            return True
        print(f"skipped {path}: ONNX Runtime runs here on the CPU only, with onnx and onnxruntime installed "
              '(pip install "xpnet[onnx]")', file=sys.stderr)
        return False
    backend, _, variant = path.partition("-")
    if backend not in backends.names() or variant not in VARIANTS:
        raise ValueError(f"unknown path {path!r}: write onnxruntime or backend-variant, e.g. jax-jit "
                         f"(backends: {', '.join(backends.names())})")
    status = backends.status(backend, device)
    if not status.available:
        print(f"skipped {path}: {status.reason}", file=sys.stderr)
    return status.available


if __name__ == "__main__":
    raise SystemExit(main())
