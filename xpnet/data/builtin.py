"""Real handwritten digits that need no download: scikit-learn's bundled UCI digits, at 20x20.

Why: xpnet must run offline, and the lab's own files are not shipped with it. scikit-learn ships
the UCI ML hand-written digits (8x8 images of 0..16, 1797 of them, all ten digits) in
``sklearn/datasets/data/digits.csv.gz``; they are upsampled to the lab's 20x20 and stored
column-major. They are coarser than the lab's, so a stand-in that lets everything run, not a
replacement for the lab's data.
"""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xpnet.data.classes import BINARY, check_classes, check_present, select_classes
from xpnet.data.digits import Digits, checked
from xpnet.data.errors import DataError
from xpnet.data.layout import SIDE, column_major

_SKLEARN_DIGITS = Path("datasets") / "data" / "digits.csv.gz"


def load_builtin(*, digits: str | Sequence[int] = BINARY) -> Digits:
    """The UCI digits among ``digits`` (file order), as 20x20 lab rows labelled with class indices.

    The file is read directly (scikit-learn is imported only when it cannot be found, to try
    ``sklearn.datasets.load_digits``). Images are upsampled by bilinear interpolation (pixel-centre
    aligned, edges clamped: ``R @ img @ R.T``) and scaled from 0..16 to 0..1. Deterministic.
    """
    classes = check_classes(digits)
    table, source = _sklearn_digits_table()
    images8, y = select_classes(table[:, :64].reshape(-1, 8, 8), table[:, 64], classes)
    check_present(y, classes, source)
    resize = _linear_matrix(SIDE, 8)
    images20 = np.clip(resize @ (images8 / 16.0) @ resize.T, 0.0, 1.0)
    return checked(column_major(images20), y, "builtin", source, classes)


def _sklearn_digits_table() -> tuple[np.ndarray, str]:
    """The (1797, 65) table: 64 pixels then the label; and its provenance."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / _SKLEARN_DIGITS
        if path.is_file():
            return _read_digits_csv(path), f"scikit-learn {path} (UCI ML hand-written digits)"
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise FileNotFoundError(
            "the builtin digits come from scikit-learn's bundled "
            f"sklearn/{_SKLEARN_DIGITS.as_posix()}, and scikit-learn is not installed"
        ) from error
    bunch = load_digits()
    table = np.column_stack([bunch.data, bunch.target])
    return table, "scikit-learn sklearn.datasets.load_digits() (UCI ML hand-written digits)"


def _read_digits_csv(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rt") as lines:
            table = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise DataError(f"cannot read scikit-learn's digits file {path}: {error}") from error
    if table.shape[1] != 65:
        raise DataError(f"{path}: expected 65 columns (8x8 pixels + label); got {table.shape}")
    return table


def _linear_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix of 1-D linear interpolation, pixel centres aligned and edges clamped; each
    row sums to 1."""
    centres = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    below = np.floor(centres).astype(int)
    above = np.minimum(below + 1, n_in - 1)
    weight = centres - below
    matrix = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    matrix[rows, below] += 1.0 - weight
    matrix[rows, above] += weight
    return matrix
