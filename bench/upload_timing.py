"""Host rows onto each GPU two ways, in interleaved rounds: the framework's own copy from the user's pageable
NumPy array (what ``predict_proba`` does today) and xpnet's pinned buffers with overlapped pieces
(``backends.pinned.PinnedUpload``) at several piece sizes and counts of copying threads; beside them the host's own
copy of X into a kept buffer by as many threads, the bound the pinned path cannot beat (its every byte is copied
once on the host).

    python -m xpnet.bench.upload_timing --rows 1e4,1e5,1e6 --pieces 4,16 --threads 1,4 [--json upload.json]

Every upload is checked against X before the clock starts. Its answer decides ``Backend.pinned_from_bytes``:
the smallest X from which the pinned path is faster, on each backend. On a machine without a GPU it says so
and exits 0 (``bench/gpu.sh`` runs it on the device machine).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.backends.pinned import PinnedUpload, copy_rows
from xpnet.bench.harness import interleaved
from xpnet.model.files import atomic_write


def gpu_backends() -> list[backends.Backend]:
    """Each GPU (backend, device) here whose backend has pinned transfers."""
    found = []
    for name, device in backends.available():
        if backends.device_kind(device) == "gpu" and not device.endswith(":all"):
            be = backends.get(name, device)
            if be.transfers() is not None:
                found.append(be)
    return found


def _host_copy(X: np.ndarray, threads: int) -> Callable[[], Any]:
    """The host's copy of X into a kept buffer by ``threads`` threads, split as ``PinnedUpload`` splits it."""
    kept, pool = np.empty_like(X), ThreadPoolExecutor(threads) if threads > 1 else None
    return lambda: copy_rows(kept, X, pool, threads)


def _paths(be: backends.Backend, X: np.ndarray, pieces: list[int], threads: list[int]) -> dict[str, Callable[[], Any]]:
    paths: dict[str, Callable[[], Any]] = {f"host copy x{t}": _host_copy(X, t) for t in threads}
    paths["pageable"] = lambda: be.sync(be.borrow_rows(X, "float32"))
    for mib in pieces:
        for t in threads:
            upload = PinnedUpload(be.transfers(), piece_bytes=mib << 20, threads=t)
            paths[f"pinned {mib} MiB x{t}"] = lambda upload=upload: be.sync(upload(X, "float32"))
    return paths


def measure(rows: list[int], pieces: list[int], rounds: int, threads: tuple[int, ...] = (1,)) -> list[dict[str, Any]]:
    """Medians per (backend, rows, path) over ``rounds`` interleaved rounds, in seconds and GB/s."""
    results = []
    for be in gpu_backends():
        for m in rows:
            X = np.random.default_rng(m).random((m, 400), dtype=np.float32)
            paths = _paths(be, X, pieces, list(threads))
            for what, call in paths.items():
                got = call()
                if not what.startswith("host copy") and not np.array_equal(be.to_numpy(got), X):
                    raise AssertionError(f"{be.name} on {be.device}: {what} gave other values than X ({m} rows)")
            times, load = interleaved(paths, rounds)
            med = {what: float(np.median(ts)) for what, ts in times.items()}
            best = min((w for w in med if w.startswith("pinned")), key=med.get)
            results.append({"backend": be.name, "device": be.device, "rows": m, "bytes": X.nbytes, "rounds": rounds,
                            "median_s": med, "gb_per_s": {w: X.nbytes / s / 1e9 for w, s in med.items()},
                            "best_pinned": best, "pinned_over_pageable": med[best] / med["pageable"],
                            "foreign_load": load})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1e4,1e5,1e6", help="comma-separated row counts of 400 float32")
    parser.add_argument("--pieces", default="4,16", help="comma-separated piece sizes in MiB")
    parser.add_argument("--threads", default="1,4", help="comma-separated counts of threads copying into the buffers")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rows = [int(float(r)) for r in args.rows.split(",")]
    pieces = [int(p) for p in args.pieces.split(",")]
    threads = tuple(int(t) for t in args.threads.split(","))
    results = measure(rows, pieces, args.rounds, threads)
    if not results:
        print("no GPU backend with pinned transfers here (xpnet backends says why): nothing to time")
        return 0
    print(f"host rows of 400 float32 onto the GPU, medians of {args.rounds} interleaved rounds, GB/s")
    heads = list(results[0]["median_s"])
    print("| backend | device | rows | " + " | ".join(heads) + " | best pinned / pageable |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in heads) + " | --- |")
    for r in results:
        cells = " | ".join(f"{r['median_s'][w] * 1e3:.2f} ms ({r['gb_per_s'][w]:.1f})" for w in heads)
        print(f"| {r['backend']} | {r['device']} | {r['rows']:,} | {cells} | {r['pinned_over_pageable']:.2f}x "
              f"({r['best_pinned']}) |")
    if args.json:
        atomic_write(args.json, lambda f: f.write(json.dumps(results, indent=1).encode()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
