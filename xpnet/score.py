"""``xpnet score``: the probabilities of every row of a file, written to another file, in bounded memory.

Input: an ``(m, n)`` array of real numbers in a ``.npy`` file or a Zarr store; output: the
``(m, units)`` float32 probabilities, ``.npy`` or Zarr by its suffix. The output appears at its
path only when complete: it is written beside it and renamed into place
(:func:`xpnet.model.files.atomic_path`), so an interrupted run never leaves a file that looks whole.

Two ways to run, one per kind of backend:

* any backend but Dask streams the file through one process, a chunk of rows at a time,
  as ``Model.predict_proba`` does (it is that, with the output file as ``out``);
* the dask backend runs on a ``dask.distributed`` cluster (:mod:`xpnet.cluster`): each block of
  rows is read from the file by the worker that scores it, checked there, and written into its
  own rows of the output there. The client only builds the graph and watches: neither the input
  nor the output passes through it, and a worker that dies has its blocks run again elsewhere
  (a block rewrites the same rows, so the output is the same).

Bad input gets ``predict``'s errors, with the index counted in the whole file: the first
non-finite (or too large) value, a row that overflows inside the network, a wrong width.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.api import MAPPED_BATCH_SIZE, Model
from xpnet.cluster import ClusterSpec
from xpnet.model import Params
from xpnet.model.files import atomic_path
from xpnet.rowfiles import NpyRows, create_zarr, kind_of, open_zarr
from xpnet.streaming import check_outputs
from xpnet.validation import InputError, check_batch_size, check_feature_shape, check_real_dtype, host_values

#: The dask backend's default path: the forward mapped over blocks of rows (the "jit" variant), measured faster
#: than the lazy Array API graph of the matmul variant (BENCHMARKS.md, "Scoring files").
DASK_VARIANT = "jit"


@dataclass(frozen=True)
class ScoreResult:
    """What a score did: rows, wall seconds (cluster start included), where, and the output's path."""

    rows: int
    seconds: float
    output: str
    backend: str
    device: str
    variant: str
    workers: int | None
    #: This process's peak resident memory in MiB when the score ended (imports included): what the client held.
    peak_rss_mib: float | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"rows_per_s": self.rows_per_s}


def score(
    params: Params,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    backend: str = "numpy",
    device: str | None = None,
    variant: str | None = None,
    batch_size: int | None = None,
    cluster: ClusterSpec | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> ScoreResult:
    """Write the outputs of every row of ``input_path`` to ``output_path``; see the module's docstring.

    ``variant``: the forward ("matmul" or "jit"); by default "jit" where the backend compiles (and
    :data:`DASK_VARIANT` on Dask), "matmul" elsewhere. ``batch_size``: rows per chunk (default
    :data:`~xpnet.api.MAPPED_BATCH_SIZE`). ``cluster``: where the dask backend runs (default: a
    LocalCluster of this machine's cores); refused for the other backends, which run here.
    ``overwrite``: replace an existing output (otherwise FileExistsError).
    """
    started = time.perf_counter()
    rows = check_batch_size(batch_size) or MAPPED_BATCH_SIZE
    chunked = backends.backend_class(backend).chunked  # an unknown name fails here, before any file is opened
    if cluster is not None and not chunked:
        raise InputError(f"the cluster options (--workers, --scheduler, ...) run a chunked backend such as dask; "
                         f"{backend} runs in this process")
    X = _open_input(input_path, params.network.input_dim, chunked=chunked)
    out_kind = _check_output(output_path, overwrite)
    model = Model(params, backend, device)
    variant = variant or (DASK_VARIANT if model.backend.chunked else "jit" if model.backend.compiler else "matmul")
    shape = (X.shape[0], params.network.outputs)
    workers = None
    with _output(output_path, out_kind, shape, rows) as out:
        if model.backend.chunked:
            workers = _on_cluster(model, X, out, variant, rows, cluster or ClusterSpec(), progress)
        else:
            model.predict_proba(X, variant, batch_size=rows, progress=progress, out=out)
    return ScoreResult(shape[0], time.perf_counter() - started, str(output_path), model.backend.name,
                       model.backend.device, variant, workers, _peak_rss_mib())


def _peak_rss_mib() -> float | None:
    """This process's peak resident memory in MiB: Linux's VmHWM, else getrusage (None on Windows).

    VmHWM first: ``ru_maxrss`` survives ``exec`` on Linux, so a process started from a big one
    would report its parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 2**10
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _open_input(path: str | os.PathLike, n_features: int, chunked: bool) -> Any:
    """The input as rows to read lazily, its dtype and shape checked: a memmap (or, for workers, an NpyRows
    handle) for ``.npy``, the Zarr array for ``.zarr``."""
    kind = kind_of(path, "--input")
    X = open_zarr(path) if kind == "zarr" else NpyRows.open(path)
    check_real_dtype(X.dtype)
    check_feature_shape(X.shape, n_features)
    if len(X.shape) != 2:
        raise InputError(f"X must have shape (m, {n_features}) to be scored row by row, got {tuple(X.shape)}")
    if kind == "npy" and not chunked:
        return np.load(path, mmap_mode="r")  # read a chunk at a time, its pages handed back (xpnet.mapped)
    return X


def _check_output(path: str | os.PathLike, overwrite: bool) -> str:
    kind = kind_of(path, "--output")
    if Path(path).exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    return kind


@contextlib.contextmanager
def _output(path: str | os.PathLike, kind: str, shape: tuple[int, int], block_rows: int) -> Iterator[Any]:
    """A writable (m, units) float32 array beside ``path`` (NpyRows, or a Zarr array), renamed onto it at the end."""
    with atomic_path(path, folder=kind == "zarr") as tmp:
        yield NpyRows.create(tmp, shape, np.float32) if kind == "npy" else create_zarr(tmp, shape, np.float32,
                                                                                        block_rows)


def _on_cluster(model: Model, X: Any, out: Any, variant: str, rows: int, spec: ClusterSpec, progress: bool) -> int:
    """Score ``X`` into ``out`` on the cluster of ``spec``: read, check, forward and write per block, on the workers.

    Returns the number of workers. A bad block fails the run with its InputError; the first bad
    row in the whole file is then looked for (:func:`_first_bad_row`), so that the error names it
    as ``predict`` would, whichever worker failed first.
    """
    import dask.array as da
    from distributed import progress as dask_progress

    from xpnet.cluster import connect, worker_count

    be, place = model.backend, model.placement
    blocks = da.from_array(X, chunks=(rows, X.shape[1]), name=False, inline_array=True,
                           meta=np.empty((0, 0), X.dtype))
    check = _BlockCheck(place.host_dtype, place.max_abs, model.dtype, X)
    inputs = blocks.map_blocks(check.inputs, dtype=place.host_dtype, meta=np.empty((0, 0), place.host_dtype))
    if be.device != "cpu":  # CuPy blocks: each worker moves its block to its own GPU, and the outputs back
        inputs = inputs.map_blocks(be.blocks.asarray, meta=be.blocks.empty((0, 0), place.host_dtype))
    P = model.forward_fn(variant)(model.layers, inputs)
    if be.device != "cpu":
        P = P.map_blocks(be.blocks.asnumpy, meta=np.empty((0, 0), P.dtype))
    P = P.map_blocks(check.outputs, dtype=P.dtype, meta=np.empty((0, 0), P.dtype))
    with connect(spec, model.backend.device) as client:
        job = client.compute(da.store(P.astype(np.float32), out, lock=False, compute=False))
        try:
            if progress:
                with contextlib.redirect_stdout(sys.stderr):  # Dask draws its bar on stdout, where --json goes
                    dask_progress(job)
                    print()
            job.result()
        except InputError as err:
            raise _first_bad_row(blocks, check, err) from None
        return worker_count(client)


@dataclass(frozen=True)
class _BlockCheck:
    """``predict``'s checks of one block, run on the worker that has it, its rows counted in the whole file."""

    host_dtype: np.dtype
    max_abs: float
    dtype: str
    source: Any  # the input's handle (NpyRows, a Zarr array): a row is read again only to name it in an error

    def inputs(self, block: np.ndarray, block_info: Any = None) -> np.ndarray:
        """The block converted to the model's host dtype; InputError at its first non-finite or too large value."""
        return host_values(block, dtype=self.host_dtype, row_offset=_first_row(block_info), max_abs=self.max_abs)

    def outputs(self, p: np.ndarray, block_info: Any = None) -> np.ndarray:
        """The block's outputs; InputError when a finite row overflows inside the network."""
        check_outputs(p, _first_row(block_info), self.dtype, lambda i: np.asarray(self.source[i]))
        return p

    def first_bad(self, block: np.ndarray, block_info: Any = None) -> np.ndarray:
        """The first row of the block (in the whole file) that :meth:`inputs` refuses, or -1, as a (1,) array.

        Found by bisection with the check itself (the longest prefix that passes), so that what is
        "bad" is defined in one place, ``xpnet.validation``.
        """
        if self._passes(block):
            return np.array([-1])
        good, bad = 0, len(block)  # block[:good] passes, block[:bad] does not
        while bad - good > 1:
            mid = (good + bad) // 2
            good, bad = (mid, bad) if self._passes(block[:mid]) else (good, mid)
        return np.array([_first_row(block_info) + bad - 1])

    def _passes(self, block: np.ndarray) -> bool:
        try:
            self.inputs(block)
        except InputError:
            return False
        return True


def _first_row(block_info: Any) -> int:
    """The block's first row in the whole array, from Dask's ``block_info`` (0 without one)."""
    return int(block_info[0]["array-location"][0][0]) if block_info else 0


def _first_bad_row(blocks: Any, check: _BlockCheck, err: InputError) -> InputError:
    """``predict``'s error for the first bad row of the file, or ``err`` (a block's) when no input row is bad."""
    firsts = blocks.map_blocks(check.first_bad, drop_axis=1, chunks=((1,) * blocks.numblocks[0],), dtype=np.int64)
    found = [int(i) for i in firsts.compute() if i >= 0]
    if not found:
        return err  # not an input value: an output that overflowed inside the network
    row = min(found)
    try:
        check.inputs(np.asarray(blocks[row:row + 1].compute()), [{"array-location": [(row, row + 1)]}])
    except InputError as first:
        return first
    return err


def describe(result: ScoreResult) -> str:
    """One line for the terminal."""
    where = f", {result.workers} worker{'s' * (result.workers != 1)}" if result.workers is not None else ""
    return (f"scored {result.rows:,} rows in {result.seconds:.2f} s ({result.rows_per_s:,.0f} rows/s; "
            f"{result.backend} on {result.device}, {result.variant}{where}): {result.output}")
