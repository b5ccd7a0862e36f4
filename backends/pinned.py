"""Host rows onto a GPU through page-locked (pinned) host buffers, the copy of each piece overlapping the transfer
of the piece before.

Why: a GPU's copy engine reads only page-locked memory. From a user's ordinary (pageable) NumPy array the
driver first copies into a pinned buffer of its own and then transfers, one after the other: 6.5 to 8 GB/s for
X at m = 10^5 on the H200 machine, 20 to 25 ms of a ``predict_proba`` whose forward takes 0.17 ms (BENCHMARKS.md,
"GPU: H200"). Here the host copies piece i + 1 into one of two pinned buffers of our own while the copy engine
transfers piece i out of the other, so the two copies overlap instead of adding up. What no library offers
in one call for both CuPy and PyTorch: they give the primitives (pinned memory, streams, events), which each
backend wraps in a :class:`Transfers`.

Whether it pays is measured, not assumed: ``Backend.pinned_from_bytes`` turns it on per backend, and it is
None (off) until a GPU run shows it faster than the framework's own copy (``python -m
xpnet.bench.upload_timing``, run by ``bench/gpu.sh``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

#: Bytes per piece: big enough that a transfer's fixed cost (about 10 us) is small beside it, small enough that
#: the first piece's copy, which nothing overlaps, is a small part of a large X.
PIECE_BYTES = 8 << 20


class Transfers(Protocol):
    """A backend's asynchronous host-to-device copies: one copy stream, and events on it."""

    def pinned(self, nbytes: int) -> tuple[Any, np.ndarray]:
        """A page-locked host buffer of ``nbytes``: the framework's handle, and a NumPy uint8 view of it."""

    def empty(self, shape: tuple[int, ...], dtype: str) -> Any:
        """An uninitialised device array."""

    def copy_in(self, dst: Any, lo: int, hi: int, buffer: Any, nbytes: int) -> Any:
        """Queue the copy of the first ``nbytes`` of pinned ``buffer`` (rows of ``dst``'s dtype and width) into
        rows ``lo:hi`` of ``dst`` on the copy stream, and return an event recorded after it."""

    def host_waits(self, event: Any) -> None:
        """Block the host until ``event`` has happened (the buffer it copied from may be written again)."""

    def device_waits(self, event: Any) -> None:
        """Make the work queued next on the device's current stream wait for ``event`` (the host does not wait)."""


class PinnedUpload:
    """Host rows onto the device in pieces through two pinned buffers, kept for the next call.

    A buffer is written again only after the event of its last transfer has happened, and the device's
    current stream waits for the last transfer before the work queued after this call: the rows returned
    are safe to compute on at once. The buffers are pinned once, at the first call that needs them (pinning
    costs milliseconds). ``threads``: the host's copy of each piece is split across that many threads (NumPy's
    copy releases the GIL). That copy bounds this path unless the transfer is slower, and one thread's may
    not beat the driver's pageable copy: on the 2-vCPU machine here one thread copied 160 MB at 6.1 GB/s and
    two at 9.5 GB/s, and the driver's pageable copy reached 9.3 GB/s on the H200 machine.
    """

    def __init__(self, transfers: Transfers, piece_bytes: int = PIECE_BYTES, buffers: int = 2,
                 threads: int = 1) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.transfers, self.piece_bytes, self.threads = transfers, piece_bytes, threads
        self._buffers: list[tuple[Any, np.ndarray]] = []
        self._events: list[Any] = [None] * buffers
        self._count = buffers
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="xpnet-pinned") if threads > 1 else None

    def __call__(self, host: np.ndarray, dtype: str) -> Any:
        """``host`` (rows, (m, n), C-contiguous, already in ``dtype``) as a new device array of the same values."""
        if host.ndim != 2 or not host.flags.c_contiguous or host.dtype.name != dtype:
            raise ValueError(f"PinnedUpload takes C-contiguous rows (m, n) of {dtype}; got {host.dtype} "
                             f"{host.shape}{'' if host.flags.c_contiguous else ', not C-contiguous'}")
        t = self.transfers
        row_bytes = host.strides[0]
        rows = max(1, self.piece_bytes // row_bytes)
        self._pin(rows * row_bytes)
        dst = t.empty(host.shape, dtype)
        last = None
        for i, lo in enumerate(range(0, host.shape[0], rows)):
            hi, slot = min(lo + rows, host.shape[0]), i % self._count
            if self._events[slot] is not None:
                t.host_waits(self._events[slot])  # its last piece has left the buffer
            handle, view = self._buffers[slot]
            nbytes = (hi - lo) * row_bytes
            copy_rows(view[:nbytes].view(host.dtype).reshape(hi - lo, host.shape[1]), host[lo:hi], self._pool,
                      self.threads)
            self._events[slot] = last = t.copy_in(dst, lo, hi, handle, nbytes)
        if last is not None:
            t.device_waits(last)  # one stream: its transfers end in order, so the last event covers every one
        return dst

    def _pin(self, nbytes: int) -> None:
        """The buffers, each at least ``nbytes``; pinned afresh only when they are shorter (after their transfers)."""
        if self._buffers and self._buffers[0][1].nbytes >= nbytes:
            return
        for event in self._events:
            if event is not None:
                self.transfers.host_waits(event)
        self._events = [None] * self._count
        self._buffers = [self.transfers.pinned(nbytes) for _ in range(self._count)]


def copy_rows(to: np.ndarray, rows: np.ndarray, pool: ThreadPoolExecutor | None, threads: int) -> None:
    """``rows`` into ``to`` (same shape), split by rows across ``threads`` threads of ``pool``; on the calling
    thread alone where there is no pool or too few rows."""
    if pool is None or threads < 2 or len(rows) < 2 * threads:
        np.copyto(to, rows)
        return
    cuts = np.linspace(0, len(rows), threads + 1).astype(int)
    pending = [pool.submit(np.copyto, to[a:b], rows[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    for done in pending:
        done.result()  # waits, and raises what a thread raised
