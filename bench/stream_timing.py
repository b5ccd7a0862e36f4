"""The user path three ways, in interleaved rounds: device-resident forward, ``predict_proba`` on an in-memory
X, and ``predict_proba`` streaming a memory-mapped ``.npy`` (already in the page cache).

    python -m xpnet.bench.stream_timing --rows 100000 --backends numpy,jax,tensorflow,torch [--variants matmul,jit]

Each round times the three once each, in turn (``harness.interleaved``), so that a neighbour's load falls
on all three alike; the medians over the rounds and the ratios are printed (and kept as JSON with
``--json``). Every result is checked against the in-memory NumPy answer before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import xpnet
from xpnet import backends
from xpnet.bench.harness import interleaved
from xpnet.bench.report import fmt_time
from xpnet.model.files import atomic_write


def _paths(name: str, variant: str, X: np.ndarray, mapped: np.ndarray) -> dict[str, Callable[[], Any]]:
    model = xpnet.Model(xpnet.init_params(seed=1), name)
    be = model.backend
    resident, forward = model.asarray(X), model.forward_fn(variant)
    return {
        "forward": lambda: be.to_numpy(be.sync(forward(model.layers, resident))),
        "predict_proba": lambda: model.predict_proba(X, variant),
        "memmap": lambda: model.predict_proba(mapped, variant),
    }


def measure(rows: int, names: list[str], rounds: int, variants: tuple[str, ...] = ("fastest",)) -> list[dict[str, Any]]:
    """Medians per (backend, variant, path) over ``rounds`` interleaved rounds, with the ratios the goals read.

    ``variants``: "matmul", "jit", or "fastest" (jit where the backend has a compiler, matmul elsewhere); a jit
    asked of a backend without a compiler is skipped (it would be its matmul again)."""
    rng = np.random.default_rng(0)
    X = rng.random((rows, 400), dtype=np.float32)
    reference = xpnet.Model(xpnet.init_params(seed=1)).predict_proba(X)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "X.npy", X)
        mapped = np.load(Path(tmp) / "X.npy", mmap_mode="r")
        for name, variant in _pairs(names, variants):
            paths = _paths(name, variant, X, mapped)
            for what, call in paths.items():
                np.testing.assert_allclose(call(), reference, rtol=1e-5, atol=1e-6, err_msg=f"{name} {what}")
                call()  # warm: compilation, first touch, the file's pages
            times, load = interleaved(paths, rounds)
            med = {what: float(np.median(ts)) for what, ts in times.items()}
            results.append({"backend": name, "variant": variant, "rows": rows, "rounds": rounds, "median_s": med,
                            "foreign_load": load,
                            "user_over_forward": med["predict_proba"] / med["forward"],
                            "memmap_share_of_user": med["predict_proba"] / med["memmap"]})
    return results


def _pairs(names: list[str], variants: tuple[str, ...]) -> list[tuple[str, str]]:
    """(backend, variant) to time, ``variants`` resolved per backend ("fastest"; no jit where there is no compiler)."""
    pairs = []
    for name in names:
        compiler = backends.backend_class(name).compiler
        for variant in variants:
            chosen = ("jit" if compiler else "matmul") if variant == "fastest" else variant
            if (chosen == "jit" and not compiler) or (name, chosen) in pairs:
                continue
            pairs.append((name, chosen))
    return pairs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=100_000)
    parser.add_argument("--backends", default="numpy,jax,tensorflow,torch")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--variants", default="fastest",
                        help="comma-separated: matmul, jit, fastest (jit where there is a compiler; the default)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    variants = tuple(args.variants.split(","))
    for v in variants:
        if v not in ("matmul", "jit", "fastest"):
            parser.error(f"unknown variant {v!r}: matmul, jit or fastest")
    names = [n for n in args.backends.split(",") if backends.status(n, "cpu").available]
    results = measure(int(args.rows), names, args.rounds, variants)
    print(f"m = {int(args.rows):,} float32, medians of {args.rounds} interleaved rounds")
    print("| backend | variant | forward | predict_proba | memmap | predict_proba / forward | memmap rate / in-memory "
          "| other processes' CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        med = r["median_s"]
        times = " | ".join(fmt_time(med[what]) for what in ("forward", "predict_proba", "memmap"))
        load = "-" if r["foreign_load"] is None else format(r["foreign_load"], ".0%")
        print(f"| {r['backend']} | {r['variant']} | {times} | {r['user_over_forward']:.2f}x "
              f"| {r['memmap_share_of_user']:.0%} | {load} |")
    if args.json:
        atomic_write(args.json, lambda f: f.write(json.dumps(results, indent=1).encode()))


if __name__ == "__main__":
    main()
