"""Files that are never half-written and never execute code when read.

A save writes a temporary file in the target's folder, flushes and fsyncs it, then
renames it over the target (atomic on POSIX and Windows), and fsyncs the folder: a
process killed at any moment leaves either the old file or the new one. A load reads
``.npz`` with ``allow_pickle=False``, so an object array (a pickle) is refused, never run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
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
    path = _file_path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; the result should look like any saved file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return path


def _file_mode(path: Path) -> int:
    """The mode of the file being replaced, or what ``open()`` would give a new one (0666 less the umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


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
    path = _file_path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a .npz file")
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except PermissionError as err:
        raise PermissionError(f"cannot read {path}: permission denied") from err
    if head != b"PK\x03\x04":  # every .npz is a zip archive; anything else np.load would try as a pickle
        raise FileFormatError(f"{path} is not a valid .npz file (no zip header; {len(head)} bytes read)")
    try:
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
