"""Throughput of ``xpnet score`` from disk: one process against a Dask cluster, at m = 10^5, 10^6 and 10^7 rows.

    python -m xpnet.bench.score_timing --dir /big/disk [--rows 1e5,1e6,1e7] [--workers 1,2]
        [--single numpy:cpu:matmul,jax:cpu:jit] [--dask-variants jit,matmul] [--keep] [--json FILE]

Each input is an (m, 400) float32 ``.npy`` written chunk by chunk (seeded, never whole in memory).
Every run is ``xpnet score`` in a fresh process, its input first evicted from the page cache
(``posix_fadvise(DONTNEED)``) so that it is read from the disk, as a file bigger than memory is.
A run's time is its wall time, cluster start and stop included (a user waits for them too); the
cost of starting and stopping an empty cluster is measured apart. Each run is set against two
limits: the disk's sequential read bandwidth (measured on the same file, cold) and the memory
bandwidth (a 256 MiB copy), both as the rows/s they would allow at 1600 bytes a row; and each
output is checked against the float64 NumPy reference on 10,000 sampled rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.bench.harness import CpuMeter
from xpnet.bench.limits import copy_bandwidth
from xpnet.bench.machine import info
from xpnet.model import init_params, save
from xpnet.parity import reference

N = 400
#: Rows checked against the float64 reference in each output.
SAMPLE = 10_000


def write_input(path: Path, rows: int, seed: int = 0, chunk: int = 262_144) -> Path:
    """An (m, 400) float32 .npy of uniform [0, 1) values, written a chunk at a time (and fsynced)."""
    if path.exists() and path.stat().st_size >= rows * N * 4:
        return path
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (rows, N)})
        for lo in range(0, rows, chunk):
            rng.random((min(chunk, rows - lo), N), dtype=np.float32).tofile(f)
        f.flush()
        os.fsync(f.fileno())
    return path


def evict(path: Path) -> None:
    """Drop ``path``'s pages from the page cache (clean pages only: the file was fsynced), so the next read is cold."""
    for name in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        fd = os.open(name, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def disk_read_bandwidth(path: Path, block: int = 64 << 20) -> float:
    """Bytes/s of one cold sequential read of the whole file in 64 MiB reads."""
    evict(path)
    buffer = bytearray(block)
    total = 0
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            total += n
    return total / (time.perf_counter() - t0)


def cluster_overhead(workers: int, repeats: int = 3) -> float:
    """Seconds to start and stop an empty LocalCluster of ``workers`` one-thread workers (the fastest of a few)."""
    code = ("import time; from xpnet.cluster import ClusterSpec, connect\n"
            "if __name__ == '__main__':\n"
            f"    t0 = time.perf_counter()\n    with connect(ClusterSpec(workers={workers})): pass\n"
            "    print(time.perf_counter() - t0)")
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                     .stdout.split()[-1]) for _ in range(repeats))


def run_score(weights: Path, source: Path, out: Path, backend: str, device: str, variant: str | None,
              workers: int | None, worker_memory: str | None) -> dict[str, Any]:
    """One cold ``xpnet score`` in a fresh process; its --json, and the output checked on sampled rows."""
    evict(source)
    code = ("import json, sys\nfrom xpnet.score import score\nfrom xpnet.model import load\n"
            "from xpnet.cluster import ClusterSpec\n"
            "if __name__ == '__main__':\n"
            "    a = json.loads(sys.argv[1])\n"
            "    spec = ClusterSpec(workers=a['workers'], worker_memory=a['memory']) if a['workers'] else None\n"
            "    r = score(load(a['weights']), a['input'], a['output'], backend=a['backend'], device=a['device'],\n"
            "              variant=a['variant'], cluster=spec, overwrite=True)\n"
            "    print(json.dumps(r.to_dict()))")
    args = {"weights": str(weights), "input": str(source), "output": str(out), "backend": backend, "device": device,
            "variant": variant, "workers": workers, "memory": worker_memory}
    meter = CpuMeter()
    meter.start()
    done = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    load = meter.stop()
    if done.returncode != 0:
        raise RuntimeError(f"score failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1]) | {"foreign_load": load}
    result["max_rel_err"] = sampled_error(weights, source, out)
    out.unlink(missing_ok=True)
    return result


def sampled_error(weights: Path, source: Path, out: Path) -> float:
    """Max relative error of ``out`` against the float64 NumPy reference on :data:`SAMPLE` seeded rows."""
    from xpnet.model import load

    X, P = np.load(source, mmap_mode="r"), np.load(out, mmap_mode="r")
    rows = np.sort(np.random.default_rng(1).choice(len(X), size=min(SAMPLE, len(X)), replace=False))
    ref = reference(load(weights), np.asarray(X[rows]))
    return float(np.max(np.abs(np.asarray(P[rows], dtype=np.float64) - ref) / ref))


def _single(text: str) -> list[tuple[str, str, str]]:
    """"numpy:cpu:matmul,jax:cpu:jit" -> [("numpy", "cpu", "matmul"), ("jax", "cpu", "jit")]."""
    runs = [tuple(item.rsplit(":", 2)) for item in text.split(",") if item]
    if any(len(run) != 3 for run in runs):
        raise SystemExit(f"--single takes backend:device:variant items, got {text!r}")
    return runs  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="folder for the inputs (on the disk to measure)")
    parser.add_argument("--rows", default="1e5,1e6,1e7")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--worker-memory", default="2GiB")
    parser.add_argument("--single", default="numpy:cpu:matmul,jax:cpu:jit",
                        help="one-process runs, backend:device:variant, comma-separated")
    parser.add_argument("--dask-variants", default="jit", help="the dask backend's variants to run")
    parser.add_argument("--keep", action="store_true", help="keep the inputs (default: delete each after its runs)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    weights = save(init_params(seed=0), folder / "w.npz")
    memory = copy_bandwidth(backends.get("numpy"), 1 << 28)
    found: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": info(),
                             "memory_bandwidth": memory, "cluster_overhead_s": {}, "sizes": []}
    for n in map(int, args.workers.split(",")):
        found["cluster_overhead_s"][n] = cluster_overhead(n)
        print(f"cluster of {n}: start and stop {found['cluster_overhead_s'][n]:.2f} s", file=sys.stderr)
    for rows in (int(float(r)) for r in args.rows.split(",")):
        source = write_input(folder / f"X{rows}.npy", rows)
        disk = disk_read_bandwidth(source)
        size = {"rows": rows, "bytes": source.stat().st_size, "disk_read": disk, "runs": []}
        configs = [(b, d, v, None) for b, d, v in _single(args.single)]
        configs += [("dask", "cpu", v, n) for v in args.dask_variants.split(",") for n in
                    map(int, args.workers.split(","))]
        for backend, device, variant, workers in configs:
            r = run_score(weights, source, folder / f"P{rows}.npy", backend, device, variant, workers,
                          args.worker_memory if workers else None)
            per_s = r["rows_per_s"] * N * 4
            r |= {"disk_share": per_s / disk, "memory_share": per_s / memory}
            size["runs"].append(r)
            print(f"m={rows:>9,} {backend}:{device}:{r['variant']} workers={workers}: {r['seconds']:8.2f} s "
                  f"{r['rows_per_s']:>12,.0f} rows/s  disk {r['disk_share']:6.1%}  memory {r['memory_share']:6.1%}"
                  f"  client peak {r['peak_rss_mib']:7.0f} MiB  err {r['max_rel_err']:.1e}  others used "
                  f"{r['foreign_load'] or 0:.0%} of the CPUs", file=sys.stderr)
        found["sizes"].append(size)
        if not args.keep:
            source.unlink()
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
