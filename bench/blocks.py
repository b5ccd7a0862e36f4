"""The eager forward whole and in blocks of rows, to choose a backend's ``block_rows`` on this machine.

    python -m xpnet.bench.blocks --backend numpy --m 1000,16000,1e5,1e6 [--blocks 1024,2048,4096,8192,16384]

An eager forward (no compiler fuses its layers) writes each layer's (m, units) sums to memory and reads
them back once per element-wise pass; run on blocks of rows (``xpnet.model.in_row_blocks``), a block's
sums stay in cache through its passes. Which block is best depends on the cache and the BLAS, so it is
measured per machine: every block size and the whole batch are timed in interleaved rounds
(``harness.interleaved``), on the model's own forward with the backend's kernels, inputs rotated so that
no call finds its X in cache, every result checked against the whole batch's first. Medians are printed
(and kept as JSON with ``--json``), with the fastest marked.
"""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

import numpy as np

import xpnet
from xpnet.bench.harness import interleaved
from xpnet.model import in_row_blocks
from xpnet.model.files import atomic_write

#: Block sizes tried by default: a block's first-layer sums (25 float32 a row) from 100 KB to 1.6 MB.
BLOCKS = (1024, 2048, 4096, 8192, 16384)
#: Inputs rotated per size: together at least this many bytes (more than the largest L3 seen here, 105 MB).
ROTATED_BYTES = 256 << 20


def measure(backend: str, m: int, blocks: tuple[int, ...], rounds: int | None = None) -> dict[str, Any]:
    """Median seconds of the forward whole and in each block size under m, over interleaved rounds."""
    model = xpnet.Model(xpnet.init_params(seed=0), backend=backend, device="cpu")
    be = model.backend
    saved = type(be).block_rows
    type(be).block_rows = None  # the forward as it would run whole; blocks are put around it here
    try:
        whole = model.forward_fn("matmul")
    finally:
        type(be).block_rows = saved
    rng = np.random.default_rng(0)
    inputs = [model.asarray(rng.random((m, 400), dtype=np.float32))
              for _ in range(max(1, min(16, ROTATED_BYTES // (m * 1600))))]
    forwards = {"whole": whole} | {str(r): in_row_blocks(whole, r, be.xp) for r in blocks if r < m}
    expected = be.to_numpy(whole(model.layers, inputs[0]))
    for name, fn in forwards.items():
        np.testing.assert_allclose(be.to_numpy(fn(model.layers, inputs[0])), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{backend} blocks of {name}")
    turn = itertools.count()

    def timed(fn: Any) -> Any:
        return lambda: be.sync(fn(model.layers, inputs[next(turn) % len(inputs)]))

    rounds = rounds or max(5, min(200, 20_000_000 // m))
    times, load = interleaved({name: timed(fn) for name, fn in forwards.items()}, rounds)
    return {"backend": backend, "m": m, "rounds": rounds, "foreign_load": load,
            "median_s": {name: float(np.median(ts)) for name, ts in times.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--m", default="1000,4000,16000,1e5,1e6", help="batch sizes, comma-separated (1e5 is read)")
    parser.add_argument("--blocks", default=",".join(map(str, BLOCKS)), help="block sizes in rows, comma-separated")
    parser.add_argument("--rounds", type=int, default=None, help="default: 5 to 200, fewer for larger m")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    blocks = tuple(int(b) for b in args.blocks.split(","))
    results = [measure(args.backend, int(float(m)), blocks, args.rounds) for m in args.m.split(",")]
    print(f"{args.backend}'s eager forward, float32, median ms of interleaved rounds (fastest in bold)")
    print("| m | whole | " + " | ".join(map(str, blocks)) + " | other processes' CPU |")
    print("| --- " * (len(blocks) + 3) + "|")
    for r in results:
        med = r["median_s"]
        best = min(med, key=med.get)
        cells = [("**{:.3f}**" if name == best else "{:.3f}").format(med[name] * 1e3) if name in med else "-"
                 for name in ("whole", *map(str, blocks))]
        load = "-" if r["foreign_load"] is None else format(r["foreign_load"], ".0%")
        print(f"| {r['m']:,} | " + " | ".join(cells) + f" | {load} |")
    if args.json:
        atomic_write(args.json, lambda f: f.write(json.dumps(results, indent=1).encode()))


if __name__ == "__main__":
    main()
