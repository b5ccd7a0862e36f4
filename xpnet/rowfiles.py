"""Arrays of rows in files, read and written a block of rows at a time by any process: ``.npy`` and Zarr.

``xpnet score`` reads inputs bigger than memory and writes their outputs, in one process or on
the workers of a Dask cluster. What travels to a worker is a small handle (a path and the
header's shape, dtype and offset), never data: each block of rows is read from the file by the
process that computes it, and each block of outputs is written into its own rows of the output
by the process that computed it. A ``.npy`` block is one ``pread``/``pwrite`` of contiguous rows
(no memory map whose pages would count in a worker's memory); a Zarr array is its own handle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from xpnet.model.files import FileFormatError, existing_file
from xpnet.validation import InputError

#: The file formats by suffix: a NumPy ``.npy`` file, a Zarr store (a folder).
SUFFIXES = (".npy", ".zarr")


def kind_of(path: str | os.PathLike, what: str) -> str:
    """"npy" or "zarr" from ``path``'s suffix; InputError naming ``what`` (--input, --output) otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{what} must be a .npy file or a .zarr store, got {str(path)!r}")
    return suffix[1:]


class NpyRows:
    """The rows of a ``.npy`` file: ``shape``, ``dtype``, ``rows[lo:hi]`` read and ``rows[lo:hi] = block`` written
    in place, by whichever process holds the handle (it pickles as its path and header)."""

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...], dtype: np.dtype, offset: int,
                 fortran: bool = False) -> None:
        self.path, self.shape, self.dtype, self.offset, self.fortran = str(path), tuple(shape), dtype, offset, fortran

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def _row_items(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64))

    @classmethod
    def open(cls, path: str | os.PathLike) -> NpyRows:
        """The rows of an existing ``.npy``, its header checked (FileFormatError when it is not a whole .npy)."""
        path = existing_file(path, "a .npy file")
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)  # reads and checks the header, maps no page yet
        except PermissionError as err:
            raise PermissionError(f"cannot read {path}: permission denied") from err
        except (ValueError, OSError, SyntaxError, EOFError) as err:  # not a .npy, truncated, a pickle
            raise FileFormatError(f"{path} is not a valid .npy file ({type(err).__name__}: {err})") from err
        if not isinstance(mapped, np.memmap):
            raise FileFormatError(f"{path} is not a .npy file (an .npz archive?)")
        shape, dtype, offset = mapped.shape, mapped.dtype, mapped.offset
        fortran = mapped.ndim > 1 and not mapped.flags.c_contiguous
        del mapped
        return cls(path, shape, dtype, offset, fortran)

    @classmethod
    def create(cls, path: str | os.PathLike, shape: tuple[int, ...], dtype: Any) -> NpyRows:
        """A new ``.npy`` of ``shape`` (its rows zero until written; the file is sparse until then)."""
        dtype = np.dtype(dtype)
        with open(path, "wb") as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
            np.lib.format.write_array_header_2_0(f, header)
            offset = f.tell()
            f.truncate(offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
        return cls(path, shape, dtype, offset)

    def _rows(self, index: Any) -> tuple[int, int] | None:
        """(lo, hi) when ``index`` selects whole contiguous rows (what blocks of rows ask for), else None."""
        first, rest = (index[0], index[1:]) if isinstance(index, tuple) else (index, ())
        if self.fortran or not isinstance(first, slice) or first.step not in (None, 1):
            return None
        if any(not (isinstance(s, slice) and s.indices(n) == (0, n, 1)) for s, n in zip(rest, self.shape[1:],
                                                                                    strict=False)):
            return None
        lo, hi, _ = first.indices(self.shape[0])
        return lo, max(lo, hi)

    def __getitem__(self, index: Any) -> np.ndarray:
        rows = self._rows(index)
        if rows is None:  # any other selection: through a memory map, copied out
            return np.array(np.load(self.path, mmap_mode="r")[index])
        lo, hi = rows
        count = (hi - lo) * self._row_items
        with open(self.path, "rb") as f:
            f.seek(self.offset + lo * self._row_items * self.dtype.itemsize)
            block = np.fromfile(f, dtype=self.dtype, count=count)
        if block.size != count:
            raise FileFormatError(f"{self.path} is truncated: rows {lo}:{hi} could not be read")
        return block.reshape((hi - lo, *self.shape[1:]))

    def __setitem__(self, index: Any, block: Any) -> None:
        rows = self._rows(index)
        if rows is None:
            raise IndexError(f"{self.path}: only whole rows lo:hi are written, got {index!r}")
        lo, hi = rows
        data = np.ascontiguousarray(block, dtype=self.dtype)
        if data.size != (hi - lo) * self._row_items:
            raise ValueError(f"a block of shape {data.shape} does not fill rows {lo}:{hi} of {self.shape}")
        view = memoryview(data).cast("B")
        position = self.offset + lo * self._row_items * self.dtype.itemsize
        fd = os.open(self.path, os.O_WRONLY)
        try:
            while view:
                written = os.pwrite(fd, view, position)
                view, position = view[written:], position + written
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"NpyRows({self.path!r}, shape={self.shape}, dtype={self.dtype})"


def open_zarr(path: str | os.PathLike) -> Any:
    """An existing Zarr array, read-only; FileNotFoundError or FileFormatError naming the store."""
    zarr = _zarr()
    if not Path(path).exists():
        raise FileNotFoundError(f"no such Zarr store: {path}")
    try:
        found = zarr.open(str(path), mode="r")
    except Exception as err:  # zarr raises its own errors for missing or damaged metadata
        raise FileFormatError(f"{path} is not a valid Zarr array ({type(err).__name__}: {err})") from err
    if not isinstance(found, zarr.Array):
        raise FileFormatError(f"{path} is a Zarr group, not an array; give the array's own path")
    return found


def create_zarr(path: str | os.PathLike, shape: tuple[int, ...], dtype: Any, block_rows: int) -> Any:
    """A new Zarr array in the (empty) folder ``path``, chunked by ``block_rows`` rows so that blocks write apart."""
    zarr = _zarr()
    chunks = (max(1, min(block_rows, shape[0] or 1)), *shape[1:])
    return zarr.create_array(store=str(path), shape=shape, chunks=chunks, dtype=np.dtype(dtype), overwrite=True)


def _zarr() -> Any:
    try:
        import zarr
    except ImportError as err:
        raise ImportError(f'reading and writing .zarr needs zarr ({err}); install it with: pip install "xpnet[dask]"') \
            from err
    return zarr
