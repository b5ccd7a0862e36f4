"""``Digits``: the one validated dataset every loader returns.

Why one class: whatever the source (the lab's files, MNIST, scikit-learn's digits), training and
evaluation see the same thing: X (m, 400) float32 rows in the lab's column-major layout, y (m, 1)
uint8 class indices, and ``classes``, the digit of each index. It is validated once, here, with
``xpnet.validation``'s checks, so the API, the command line and the data word a problem alike.
"""

from __future__ import annotations

import hashlib
import numbers
from dataclasses import dataclass

import numpy as np

from xpnet.data.classes import BINARY, check_classes
from xpnet.data.errors import DataError, data_errors
from xpnet.data.layout import N_FEATURES, SIDE
from xpnet.validation import check_all_finite, check_feature_shape, check_labels, check_real_dtype, host_values

FORMATS = ("lab", "mnist-idx", "mnist-npz", "builtin")
"""The values ``Digits.format`` can take."""


@dataclass(frozen=True, eq=False)
class Digits:
    """Digit images in the lab's layout with their class indices, validated on construction.

    Attributes:
        X: (m, 400) float32, C-contiguous. Row i is a 20x20 image stored column-major
            (``row = img.T.ravel()``), as in the lab's X.npy; values about 0..1.
        y: (m, 1) uint8 class indices 0..len(classes)-1; for classes (0, 1) the digits themselves.
        format: the format that was read: "lab", "mnist-idx", "mnist-npz" or "builtin".
        source: provenance in words: the path(s) read, or the package file.
        classes: the digit of each class index, e.g. (0, 1) (the default) or (0, 1, ..., 9).

    Construction validates (shape, dtype, finiteness, labels in range) and normalises: float64 X
    becomes float32, y of shape (m,) becomes (m, 1) uint8. ``eq=False``: equality is identity,
    since comparing arrays with ``==`` has no single truth value; compare ``fingerprint`` instead.
    """

    X: np.ndarray
    y: np.ndarray
    format: str
    source: str
    classes: tuple[int, ...] = BINARY

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise DataError(f"format must be one of {FORMATS}; got {self.format!r}")
        classes = check_classes(self.classes)
        with data_errors():
            X = _checked_features(self.X)
            y = check_labels(self.y, len(X), dtype=np.uint8, n_classes=len(classes))
            X = host_values(X, "X", dtype=np.float32)  # refuses NaN, inf and values beyond float32
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "classes", classes)

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        counts = np.bincount(self.y[:, 0], minlength=len(self.classes))
        per_digit = ", ".join(f"{d}: {n}" for d, n in zip(self.classes, counts, strict=True))
        return f"Digits(m={len(self)}, counts={{{per_digit}}}, format={self.format!r}, source={self.source!r})"

    @property
    def fingerprint(self) -> str:
        """Hex sha256 of X's bytes, y's bytes and the classes: the same data, and only it, gives the same
        fingerprint (a weights file records it to check it is applied to the data it was trained on)."""
        digest = hashlib.sha256(repr(("xpnet.data.Digits", self.X.shape, self.classes)).encode())
        digest.update(self.X)  # C-contiguous by construction: hashed in place, not copied
        digest.update(self.y)
        return digest.hexdigest()

    def image(self, i: int) -> np.ndarray:
        """Example ``i`` as a (20, 20) image the right way up: ``X[i].reshape(20, 20).T``, a view into X."""
        return self.X[i].reshape(SIDE, SIDE).T


def check_digits(X: np.ndarray, y: np.ndarray, n_classes: int = 2) -> None:
    """Check that X, y form a usable digit set; raise DataError if not.

    X: 2-D with 400 columns and at least one row, real numbers (bool, integer or float), finite.
    y: (m,) or (m, 1) numbers with m == len(X), class indices 0..n_classes-1. The checks are
    ``xpnet.validation``'s, so messages name the expected and actual shape or the first bad index.
    """
    with data_errors():
        X = _checked_features(X)
        check_all_finite(X, "X")
        check_labels(y, len(X), n_classes=n_classes)


def checked(X: np.ndarray, y: np.ndarray, format: str, source: str, classes: tuple[int, ...] = BINARY) -> Digits:
    """A Digits from a loader, its errors prefixed with ``source`` (the file they are about)."""
    with data_errors(source):
        return Digits(X, y, format, source, classes)


def check_rows(rows: object) -> int:
    """A positive whole number of rows."""
    if not isinstance(rows, numbers.Integral) or isinstance(rows, bool) or rows < 1:
        raise DataError(f"rows must be a positive integer or None; got {rows!r}")
    return int(rows)


def first_rows(d: Digits, rows: int | None) -> Digits:
    """The first ``rows`` examples of ``d`` (None: all of them)."""
    if rows is None:
        return d
    if check_rows(rows) > len(d):
        raise DataError(f"rows={rows} requested but {d.source} holds {len(d)} digits")
    return Digits(d.X[:rows], d.y[:rows], d.format, f"{d.source}, first {rows} digits", d.classes)


def _checked_features(X: np.ndarray) -> np.ndarray:
    """X as an array of real numbers of shape (m, 400), m >= 1 (values not scanned)."""
    X = np.asarray(X)
    check_real_dtype(X.dtype, "X")
    check_feature_shape(X.shape, N_FEATURES, "X")
    if X.ndim != 2:
        raise DataError(f"X must have shape (m, {N_FEATURES}), got {X.shape}: one digit is X.reshape(1, {N_FEATURES})")
    if len(X) == 0:
        raise DataError("X has no rows: there are no digits")
    return X
