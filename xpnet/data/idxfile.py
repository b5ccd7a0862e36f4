"""One IDX file (MNIST's format: a big-endian header, then unsigned bytes), read safely.

Why so careful: the header declares how much follows, and a small gzip can declare (or hold)
gigabytes. So the header is read first (through ``gzip.open`` for .gz files, which streams),
the declared payload is refused BEFORE it is read when it cannot fit in the memory available,
exactly the declared number of bytes is read, and trailing data is detected by reading ONE more
byte, never the rest.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from xpnet.data.errors import DataError

IMAGES_MAGIC = 2051
"""0x00000803: unsigned bytes, 3 dimensions (count, rows, cols): a 16-byte header."""
LABELS_MAGIC = 2049
"""0x00000801: unsigned bytes, 1 dimension (count): an 8-byte header."""
FALLBACK_MEMORY = 8 << 30
"""Bytes assumed available where the machine cannot say (neither /proc/meminfo nor os.sysconf)."""

_MEMINFO = Path("/proc/meminfo")
_KIND = {IMAGES_MAGIC: "images (2051)", LABELS_MAGIC: "labels (2049)"}
_CHUNK = 1 << 24  # bytes decompressed and copied at a time


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The array in the IDX file ``path`` (plain or gzip, recognised by content), of shape its header declares.

    ``magic`` is IMAGES_MAGIC or LABELS_MAGIC. Raises DataError naming the file for a wrong magic
    number, a truncated header or payload, trailing bytes, corrupt gzip data, or a declared payload
    larger than ``available_memory()`` (checked before reading it).
    """
    with _opened(path) as stream:
        dims = _read_header(stream, path, magic)
        _check_fits(path, dims)
        payload = _read_payload(stream, path, dims)
        if stream.read(1):
            raise DataError(f"{path} has bytes beyond the {dims} its header declares")
    return payload.reshape(dims)


def available_memory() -> int:
    """Bytes this machine can give now: Linux's MemAvailable (free memory plus the cache it can drop),
    else ``os.sysconf``'s free pages, else ``FALLBACK_MEMORY``."""
    try:
        with _MEMINFO.open() as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


@contextmanager
def _opened(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened for streaming reads, through gzip when it starts with gzip's magic bytes.
    Read errors (corrupt or truncated gzip data, I/O) become DataErrors naming the file."""
    with path.open("rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if gz else path.open("rb") as stream:
            yield stream
    except (OSError, EOFError, zlib.error) as error:
        what = "corrupt or truncated gzip data" if gz else "cannot read it"
        raise DataError(f"{path}: {what} ({error})") from error


def _read_header(stream: BinaryIO, path: Path, magic: int) -> tuple[int, ...]:
    first = stream.read(4)
    if len(first) < 4:
        raise DataError(f"{path} is truncated: {len(first)} bytes, no IDX header")
    found = int.from_bytes(first, "big")
    if found != magic:
        raise DataError(
            f"{path}: IDX magic number is {found} (0x{found:08x}); expected {magic} for MNIST {_KIND[magic]}"
        )
    ndim = first[3]
    raw = stream.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataError(f"{path} is truncated inside its IDX header")
    dims = tuple(int.from_bytes(raw[i:i + 4], "big") for i in range(0, 4 * ndim, 4))
    if ndim == 3 and 0 in dims[1:]:
        raise DataError(f"{path}: images of size {dims[1]}x{dims[2]} hold no pixels")
    return dims


def _check_fits(path: Path, dims: tuple[int, ...]) -> None:
    size, budget = math.prod(dims), available_memory()
    if size > budget:
        what = f"{dims[0]:,} images of {dims[1]}x{dims[2]}" if len(dims) == 3 else f"{dims[0]:,} labels"
        raise DataError(
            f"{path}: its IDX header declares {what}, {size:,} bytes ({size / 2**30:.1f} GiB), more than the "
            f"{budget / 2**30:.1f} GiB of memory available; refused before reading it"
        )


def _read_payload(stream: BinaryIO, path: Path, dims: tuple[int, ...]) -> np.ndarray:
    """Exactly the declared bytes, read in chunks into one buffer (no second copy)."""
    size = math.prod(dims)
    payload = np.empty(size, dtype=np.uint8)
    view = memoryview(payload)
    filled = 0
    while filled < size:
        n = stream.readinto(view[filled:filled + _CHUNK])
        if not n:
            raise DataError(
                f"{path} is truncated: header promises {dims} = {size:,} bytes, file holds {filled:,}"
            )
        filled += n
    return payload
