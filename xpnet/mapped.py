"""Memory-mapped inputs read chunk by chunk with resident memory that follows the chunk, not the file."""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np


class MappedPages:
    """Hands back to the OS the pages of a memory-mapped array that chunks have been read from.

    Reading a memmap maps the file's pages into the process, where they count in its
    resident memory until the mapping goes; ``MADV_DONTNEED`` unmaps the ones already
    used (the data stay in the OS page cache and are read again if touched), so that
    resident memory follows the chunk. Only shared mappings (np.memmap modes "r", "r+",
    "w+") qualify: on a copy-on-write one ("c") it would discard the user's writes.
    """

    _SHARED_MODES = ("r", "r+", "w+", "readonly", "readwrite", "write")

    def __init__(self, a: np.ndarray, mapping: mmap.mmap, base: int) -> None:
        self.a, self.mapping, self.base = a, mapping, base

    @classmethod
    def of(cls, a: np.ndarray, modes: tuple[str, ...] = _SHARED_MODES) -> MappedPages | None:
        """The pages behind ``a`` when it is a shared memory mapping (and the OS can release pages), else None.

        ``modes``: the memmap modes that qualify (a copy-on-write mapping of xpnet's own, never written:
        :func:`copy_on_write_twin`)."""
        mapping = _shared_mapping(a, modes)
        if mapping is None or not hasattr(mmap, "MADV_DONTNEED"):
            return None
        base = _address(mapping)
        return None if base is None else cls(a, mapping, base)

    def release(self, lo: int, hi: int) -> None:
        start, stop = np.lib.array_utils.byte_bounds(self.a[lo:hi])
        first = max(0, (start - self.base) // mmap.PAGESIZE * mmap.PAGESIZE)
        last = min(len(self.mapping), stop - self.base)
        if last > first:
            try:
                self.mapping.madvise(mmap.MADV_DONTNEED, first, last - first)
            except (OSError, ValueError):  # a locked page or a closed mapping: only memory stays higher
                pass


def copy_on_write_twin(a: np.ndarray) -> tuple[np.ndarray, MappedPages | None] | None:
    """Read-only memory-mapped ``a`` mapped again from its file, copy-on-write, and that mapping's pages.

    The same file pages from the OS page cache, but writable as a NumPy array, which is what NumPy needs to
    export it through DLPack: TensorFlow then shares it instead of a copy (a write would stay private, and
    none is made). None where ``a`` is not one C-contiguous block of a read-only file mapping.
    """
    if a.flags.writeable or not a.flags.c_contiguous or not a.size or not isinstance(a, np.memmap) \
            or not a.filename:
        return None
    mapping = _shared_mapping(a, ("r", "readonly"))
    base = None if mapping is None else _address(mapping)
    if base is None:
        return None
    start = a.offset - a.offset % mmap.ALLOCATIONGRANULARITY  # where np.memmap began the mapping in the file
    try:
        twin = np.memmap(a.filename, dtype=a.dtype, mode="c", offset=start + a.ctypes.data - base, shape=a.shape)
    except (OSError, ValueError):  # the file is gone or shorter now: read a as it is
        return None
    return twin, MappedPages.of(twin, ("c", "copyonwrite"))


def _address(mapping: mmap.mmap) -> int | None:
    """Where ``mapping`` begins in memory; None when it is closed or empty."""
    try:
        view = np.frombuffer(mapping, dtype=np.uint8)
    except (ValueError, TypeError, BufferError):
        return None
    base = view.ctypes.data
    del view  # an exported buffer would keep the mapping from being closed
    return base


def _shared_mapping(a: np.ndarray, shared_modes: tuple[str, ...]) -> mmap.mmap | None:
    """The ``mmap`` under ``a`` when every memmap on the way there is a shared (not copy-on-write) mapping."""
    obj: Any = a
    seen_memmap = False
    while obj is not None:
        if isinstance(obj, np.memmap):
            if obj.mode not in shared_modes:
                return None
            seen_memmap = True
        if isinstance(obj, mmap.mmap):
            return obj if seen_memmap else None
        obj = getattr(obj, "base", None)
    return None
