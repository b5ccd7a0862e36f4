"""The lab's own folder: ``X.npy`` (5000, 400) and ``y.npy`` (5000, 1).

Why its own rule for 0 vs 1: the lab uses the first 1000 rows (500 zeros, then 500 ones) as they
are, and xpnet does the same, so a binary run sees exactly the lab's data. Its later rows hold the
digits 2..9 (the lab's multiclass sequel reads them all): any other set of digits reads every row
and keeps those digits. Files are read with ``allow_pickle=False``: a pickle is refused, never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xpnet.data.classes import BINARY, check_classes, check_present, select_classes
from xpnet.data.digits import Digits, check_rows, checked, first_rows
from xpnet.data.errors import DataError
from xpnet.data.paths import PathLike, existing

LAB_ROWS = 1000
"""Rows of the lab's X.npy that the lab uses for 0 vs 1: 500 zeros, then 500 ones."""


def load_lab(path: PathLike = "data", rows: int | None = None, *, digits: str | Sequence[int] = BINARY) -> Digits:
    """Load the lab's ``X.npy`` and ``y.npy`` from the folder ``path``.

    For digits (0, 1), the lab's way: the first ``rows`` rows of the files (None: the lab's 1000)
    as they are, whose labels must all be 0 or 1. For any other digits: every row is read, the
    examples of ``digits`` are kept, labelled with their class index, and ``rows`` (None: all)
    keeps the first of them. y may be (m, 1) or (m,), of any integer or float dtype. X is used as
    is (the lab's values run slightly outside 0..1).
    """
    classes = check_classes(digits)
    folder = existing(path)
    if not folder.is_dir():
        raise DataError(f"{folder} is a file; load_lab wants the folder holding X.npy and y.npy")
    X, y = _read_pair(folder)
    if classes == BINARY:
        return _first_file_rows(X, y, LAB_ROWS if rows is None else rows, folder)
    source = _source(folder)
    X, y = select_classes(X, y, classes)
    check_present(y, classes, source)
    return first_rows(checked(X, y, "lab", source, classes), rows)


def _first_file_rows(X: np.ndarray, y: np.ndarray, rows: int, folder: Path) -> Digits:
    """The first ``rows`` rows, as they are: checked() refuses labels other than 0 and 1."""
    if check_rows(rows) > len(X):
        raise DataError(f"rows={rows} requested but {folder / 'X.npy'} holds {len(X)} rows")
    return checked(X[:rows], y[:rows], "lab", f"{_source(folder)}, first {rows} rows")


def _source(folder: Path) -> str:
    return f"{folder / 'X.npy'} and {folder / 'y.npy'}"


def _read_pair(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    X = _read_npy(folder / "X.npy")
    y = _read_npy(folder / "y.npy")
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise DataError(
            f"{folder}: X.npy has shape {X.shape} but y.npy has shape {y.shape}; they need one label per row"
        )
    return X, y


def _read_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"lab data file missing: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"cannot read {path} as a plain NumPy array: {error}") from error
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataError(f"{path} is an .npz archive, not a single .npy array")
    return array
