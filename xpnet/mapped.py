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
    def of(cls, a: np.ndarray) -> MappedPages | None:
        """The pages behind ``a`` when it is a shared memory mapping (and the OS can release pages), else None."""
        mapping = _shared_mapping(a, cls._SHARED_MODES)
        if mapping is None or not hasattr(mmap, "MADV_DONTNEED"):
            return None
        try:
            view = np.frombuffer(mapping, dtype=np.uint8)
        except (ValueError, TypeError, BufferError):  # closed or empty
            return None
        base = view.ctypes.data
        del view  # an exported buffer would keep the mapping from being closed
        return cls(a, mapping, base)

    def release(self, lo: int, hi: int) -> None:
        start, stop = np.lib.array_utils.byte_bounds(self.a[lo:hi])
        first = max(0, (start - self.base) // mmap.PAGESIZE * mmap.PAGESIZE)
        last = min(len(self.mapping), stop - self.base)
        if last > first:
            try:
                self.mapping.madvise(mmap.MADV_DONTNEED, first, last - first)
            except (OSError, ValueError):  # a locked page or a closed mapping: only memory stays higher
                pass


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
