"""Files that are never half-written and never execute code when read.

A save writes a temporary file (or folder) in the target's folder, flushes and fsyncs it, then
renames it over the target (atomic on POSIX and Windows), and fsyncs the folder: a
process killed at any moment leaves either the old file or the new one. A load reads
``.npz`` with ``allow_pickle=False``, so an object array (a pickle) is refused, never run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from .checks import InputError


class FileFormatError(InputError):
    """A file that exists but is not what xpnet expects; the message names the file and the problem."""


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then move it over ``path`` atomically.

    The temporary file is ``.<name>.<random>.tmp`` in the same folder (a rename is atomic only
    within one file system); it is flushed and fsynced before the rename, and the folder after
    it. A process killed with SIGKILL mid-write leaves that temporary file behind (nothing runs
    on SIGKILL) but never a partial ``path``.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
    return Path(path)


@contextmanager
def atomic_path(path: str | os.PathLike, *, folder: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` to write in any way (a file, or a folder with ``folder``), moved over
    ``path`` atomically when the block ends, removed when it raises.

    For writers that need a path rather than a file object: several processes writing rows of
    one ``.npy``, a Zarr store (a folder of chunk files). What was written is fsynced before the
    rename, and the folder after it. A folder replaces an existing ``path`` in two renames (the old
    one aside, then the new one in, then the old one deleted): ``path`` may be briefly absent, never partial.
    """
    path = _file_path(path)
    if path.is_dir() and not folder:
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {parent} does not exist")
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        tmp = Path(name)
    try:
        os.chmod(tmp, _file_mode(path, folder))  # mkstemp makes 0600: the result should look like any saved file
        yield tmp
        _fsync_tree(tmp)
        _replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_folder(parent)


def _replace(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` over ``path``; a folder that exists is moved aside first (a rename cannot replace one)."""
    if not (tmp.is_dir() and path.exists()):
        os.replace(tmp, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
    os.replace(path, old / path.name)
    os.replace(tmp, path)
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_tree(path: Path) -> None:
    """fsync a file, or every file and folder under a folder: what was written reaches the disk before the rename."""
    files = [path] if not path.is_dir() else [p for p in path.rglob("*") if p.is_file()]
    for name in files:
        fd = os.open(name, os.O_RDONLY)  # fsync through any descriptor flushes the file (Linux, macOS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    if path.is_dir():
        for folder in (path, *(p for p in path.rglob("*") if p.is_dir())):
            _fsync_folder(folder)


def _file_mode(path: Path, folder: bool = False) -> int:
    """The mode of the file being replaced, or what ``open()`` (``mkdir()``) would give a new one: 0666 (0777)
    less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return (0o777 if folder else 0o666) & ~umask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); folders cannot be opened on Windows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to an uncompressed ``.npz`` atomically."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file, refusing pickles, with an error naming what is wrong.

    Missing file: FileNotFoundError; a folder: IsADirectoryError; unreadable:
    PermissionError; anything that is not a well-formed ``.npz`` of plain arrays (no zip
    header, truncated, corrupted, a pickled object array): FileFormatError. Every member's
    CRC is checked as it is read, so a damaged file never loads as different numbers.
    Arrays come back in native byte order, which every backend accepts.
    """
    path = existing_file(path, "a .npz file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except PermissionError as err:
        raise PermissionError(f"cannot read {path}: permission denied") from err
    if head != b"PK\x03\x04":  # every .npz is a zip archive; anything else np.load would try as a pickle
        raise FileFormatError(f"{path} is not a valid .npz file (no zip header; {len(head)} bytes read)")
    try:
        with warnings.catch_warnings():
            # NumPy parses each member's header as a Python literal: a damaged one can warn about an invalid
            # escape sequence (SyntaxWarning or DeprecationWarning) on the way to the error reported below
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            with np.load(path, allow_pickle=False) as data:
                return {key: _native(path, key, data[key]) for key in data.files}
    except FileFormatError:
        raise
    except PermissionError as err:
        raise PermissionError(f"cannot read {path}: permission denied") from err
    except ValueError as err:
        if "pickle" in str(err).lower() or "object arrays" in str(err):
            raise FileFormatError(f"{path} holds a pickled object array, which xpnet refuses to load") from err
        raise FileFormatError(f"{path} is not a valid .npz file ({err})") from err
    except Exception as err:
        # zipfile, zlib, tokenize (NumPy parses the array header with it) and NumPy itself each raise
        # their own errors on damaged bytes: BadZipFile, zlib.error, TokenError, NotImplementedError
        # (an unknown compression method), EOFError, MemoryError (a header declaring a huge shape)...
        raise FileFormatError(
            f"{path} is not a valid .npz file (truncated or corrupted: {type(err).__name__}: {err})"
        ) from err


def existing_file(path: Any, kind: str) -> Path:
    """``path`` as a Path to a file that exists; IsADirectoryError or FileNotFoundError naming it, and what it
    should have been (``kind``: "a .npz file")."""
    path = _file_path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not {kind}")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    return path


def _file_path(path: Any) -> Path:
    """``path`` as a Path; a TypeError naming the argument for anything that is not a file name."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__}: {path!r}")
    return Path(path)


def _native(path: Path, key: str, a: Any) -> np.ndarray:
    """``a`` in native byte order (a big-endian ``>f4`` from another machine becomes ``float32``).

    A zip member that is not a ``.npy`` comes back from NumPy as raw bytes: refused, named.
    """
    if not isinstance(a, np.ndarray):
        raise FileFormatError(f"{path} is not a valid .npz file (its member {key!r} is not a .npy array)")
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))
