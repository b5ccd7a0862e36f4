"""Checks at the public boundary (API and command line), in one place.

Inside, the model trusts its inputs; here, what users pass is checked once, with an
error that names the problem: the expected and the actual shape, the bad dtype, the
first non-finite index, the first bad label. Every error is an :class:`InputError`
(a ``ValueError``; an argument of the wrong kind is also a ``TypeError``), so that the
command line reports all of them the same way: one line on stderr, exit status 2.

Messages follow one pattern, shared with ``xpnet.data.check_digits``:
``X must have shape (m, 400) or (400,), got (20, 20)``, ``y[7] is 2: labels must be 0 or 1``,
``X has a non-finite value (nan) at index (3, 7)``.

The scans are sized for big inputs: the finiteness check allocates nothing for finite
data (a min and a max), and the search for the first bad index goes block by block.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from xpnet.backends.base import DTYPES
from xpnet.model.checks import InputError, InputTypeError, check_seed

__all__ = [
    "InputError",
    "InputTypeError",
    "check_all_finite",
    "check_batch_size",
    "check_choice",
    "check_dtype_name",
    "check_feature_shape",
    "check_labels",
    "check_real_dtype",
    "check_seed",
    "check_threshold",
    "host_array",
    "host_features",
    "host_values",
    "split_names",
]

#: Float dtypes a model computes in: the backends' own list.
FLOAT_DTYPES = DTYPES

#: Elements examined at a time when looking for the first bad value: bounds the temporary mask.
_SCAN_ELEMENTS = 1 << 22


# -- arrays of features ----------------------------------------------------------------------


def host_array(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a NumPy array, never copying a NumPy array (a memmap stays a lazy memmap).

    Anything NumPy cannot read as one rectangular array (ragged lists, a GPU tensor)
    gives an InputError naming ``name`` and NumPy's reason.
    """
    if isinstance(X, np.ndarray):
        return X
    try:
        return np.asarray(X)
    except (ValueError, TypeError, RuntimeError) as err:
        raise InputError(
            f"{name} cannot be read as one numeric array ({type(err).__name__}: {err}); "
            "pass a NumPy array (or anything np.asarray reads), on the host"
        ) from err


def check_real_dtype(dtype: Any, name: str = "X") -> None:
    """Booleans, integers and floats pass; complex, object, string, datetime and structured are refused."""
    if np.dtype(dtype).kind not in "biuf":
        raise InputError(f"{name} must hold real numbers, got dtype {np.dtype(dtype)}")


def check_feature_shape(shape: tuple[int, ...], n_features: int, name: str = "X") -> None:
    """``shape`` is (m, n_features) or (n_features,); the error names both shapes and, for images passed
    instead of rows, the call that unrolls them (:func:`_unroll_hint`)."""
    shape = tuple(shape)
    if len(shape) in (1, 2) and shape[-1] == n_features:
        return
    hint = _unroll_hint(shape) if n_features == 400 else ""
    raise InputError(f"{name} must have shape (m, {n_features}) or ({n_features},), got {shape}{hint}")


def host_features(
    X: Any,
    n_features: int,
    *,
    name: str = "X",
    check_finite: bool = True,
    dtype: Any = None,
    row_offset: int = 0,
    max_abs: float | None = None,
) -> np.ndarray:
    """``X`` as a C-contiguous float NumPy array of shape (m, n_features) or (n_features,).

    Booleans and integers become floats; complex, object and string arrays are refused.
    ``dtype`` (e.g. ``np.float32``) is the float dtype to convert to; None keeps float
    input as it is and makes integers float64. With ``check_finite`` (SciPy's
    convention), NaN and inf are refused naming the first bad index, and so are finite
    values that overflow when narrowed to ``dtype`` (1e300 into float32) or that exceed
    ``max_abs`` (a bound past which the caller's computation overflows).
    ``row_offset`` is added to the reported row, for a chunk of a larger array.
    """
    a = host_array(X, name)
    check_real_dtype(a.dtype, name)
    check_feature_shape(a.shape, n_features, name)
    return host_values(a, name, check_finite=check_finite, dtype=dtype, row_offset=row_offset, max_abs=max_abs)


def host_values(
    a: np.ndarray,
    name: str = "X",
    *,
    check_finite: bool = True,
    dtype: Any = None,
    row_offset: int = 0,
    max_abs: float | None = None,
) -> np.ndarray:
    """The values of a checked real array ``a``, converted to ``dtype``, native byte order, C-contiguous.

    The one place where data is read: a chunk of a memmap is read here and nowhere else.
    Conversion makes no copy when ``a`` is already what is asked for. The checks are
    those of :func:`host_features`, run before converting.
    """
    if dtype is None:
        target = np.dtype(np.float64) if a.dtype.kind in "biu" else a.dtype.newbyteorder("=")
    else:
        target = np.dtype(dtype)
    if check_finite and a.size:
        _check_values(a, target, max_abs, name, row_offset)
    return np.ascontiguousarray(a, dtype=target)


def check_all_finite(a: np.ndarray, name: str = "X", *, row_offset: int = 0) -> None:
    """Raise InputError naming the first index where ``a`` holds NaN or inf.

    Finite data costs two reductions and no temporary array; only a failing array is
    searched, block by block. ``row_offset`` shifts the reported row (axis 0).
    """
    if a.size == 0 or a.dtype.kind not in "fc":
        return
    if not (np.isfinite(a.min()) and np.isfinite(a.max())):
        _raise_non_finite(a, name, row_offset)


def _raise_non_finite(a: np.ndarray, name: str, row_offset: int) -> None:
    index = _first_bad(a, lambda block: ~np.isfinite(block))
    raise InputError(f"{name} has a non-finite value ({a[index]!s}) at index {_shifted(index, row_offset)}")


def _check_values(a: np.ndarray, target: np.dtype, max_abs: float | None, name: str, row_offset: int) -> None:
    """Refuse NaN and inf, finite values that overflow ``target`` (1e300 into float32, as ``data.py`` does) and
    values beyond ``max_abs``, naming the first bad index in row-major order, whichever the problem.

    Good data costs a min and a max; the first bad index does not depend on how X is chunked.
    """
    narrowing = a.dtype.kind == "f" and target.itemsize < a.dtype.itemsize
    fits = float(np.finfo(target).max) if narrowing else np.inf
    limit = min(fits, np.inf if max_abs is None else max_abs)
    if a.dtype.kind == "f" and limit >= float(np.finfo(a.dtype).max):
        limit = np.inf  # a float16 cannot exceed it (and comparing would cast the limit to inf, with a warning)
    lo, hi = a.min(), a.max()
    if np.isfinite(lo) and np.isfinite(hi) and max(-float(lo), float(hi)) <= limit:
        return
    index = _first_bad(a, lambda block: ~np.isfinite(block) | (np.abs(block) > limit))
    value = a[index]
    where = f"({value!s}) at index {_shifted(index, row_offset)}"
    if not np.isfinite(value):
        raise InputError(f"{name} has a non-finite value {where}")
    if abs(float(value)) > fits:
        raise InputError(f"{name} has a value too large for {target} {where}")
    raise InputError(
        f"{name} has a value too large for this network in {target} {where}: beyond +-{limit:.3g} the first "
        "layer's sums can overflow; scale the input down"
    )


def _first_bad(a: np.ndarray, is_bad: Any) -> tuple[int, ...]:
    """The first index (row-major) where ``is_bad`` holds, searching a bounded block of rows at a time."""
    if a.ndim == 0:
        return ()
    rows = max(1, _SCAN_ELEMENTS // max(1, a.size // max(1, len(a))))
    for lo in range(0, len(a), rows):
        hits = np.argwhere(is_bad(a[lo:lo + rows]))
        if hits.size:
            first = hits[0]
            return (lo + int(first[0]), *(int(i) for i in first[1:]))
    raise AssertionError("no bad value found after a reduction said there was one")  # pragma: no cover


def _shifted(index: tuple[int, ...], row_offset: int) -> tuple[int, ...]:
    return (index[0] + row_offset, *index[1:]) if index and row_offset else index


# -- labels ------------------------------------------------------------------------------------


def check_labels(
    y: Any, m: int | None, *, name: str = "y", dtype: Any = np.float64, n_classes: int = 2
) -> np.ndarray:
    """Labels ``y`` of shape (m,) or (m, 1), class indices 0..n_classes-1, as an (m, 1) array of ``dtype``.

    Booleans, integers and floats are accepted (1.0 and True are a 1); anything else, a
    length other than ``m`` (the rows of X; None skips that check) or a value that is not
    a class index (2 when there are two classes, 0.5, NaN) is refused, naming the first bad
    index and its value. ``xpnet.data`` checks its labels here too, so both word each
    problem the same: ``y[7] is 2: labels must be 0 or 1``,
    ``y[7] is 12: labels must be class indices 0..9``.
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise InputError(f"n_classes must be a whole number >= 2, got {n_classes!r}")
    a = check_label_vector(y, m, name=name)
    bad = ~((a >= 0) & (a <= n_classes - 1))  # also True for NaN
    if a.dtype.kind == "f":
        bad |= a != np.trunc(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        wanted = "0 or 1" if n_classes == 2 else f"class indices 0..{n_classes - 1}"
        raise InputError(f"{name}[{i}] is {a[i].item()!r}: labels must be {wanted}")
    return a.astype(dtype).reshape(-1, 1)


# -- scalar arguments --------------------------------------------------------------------------


def check_batch_size(batch_size: Any, *, name: str = "batch_size", allow_none: bool = True) -> int | None:
    """A positive whole number of rows (or None, meaning "choose", where allowed)."""
    if batch_size is None and allow_none:
        return None
    wanted = "a positive whole number" + (" or None" if allow_none else "")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise InputTypeError(f"{name} must be {wanted}, got {batch_size!r}")
    if batch_size < 1:
        raise InputError(f"{name} must be {wanted}, got {batch_size!r}")
    return int(batch_size)


def check_threshold(threshold: Any, *, name: str = "threshold") -> float:
    """A probability threshold: a real number in [0, 1] (NaN would silently make every prediction 0)."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise InputTypeError(f"{name} must be a number between 0 and 1, got {threshold!r}")
    if not 0.0 <= float(threshold) <= 1.0:  # also False for NaN
        raise InputError(f"{name} must be a number between 0 and 1, got {threshold!r}")
    return float(threshold)


def check_choice(value: Any, choices: Iterable[str], what: str) -> str:
    """``value`` is one of ``choices``: "unknown variant 'fast'; known variants: loop, matmul, jit"."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"unknown {what} {value!r}; known {what}s: {', '.join(choices)}")
    return value


def check_dtype_name(dtype: Any, choices: Iterable[str] = FLOAT_DTYPES) -> str:
    """The name of a float dtype a model computes in: "float32", np.float32 and np.dtype("f4") are "float32"."""
    choices = tuple(choices)
    name = dtype
    if dtype is not None and not isinstance(dtype, str):
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = dtype
    if not isinstance(name, str) or name not in choices:
        raise InputError(f"unknown dtype {dtype!r}; known dtypes: {', '.join(choices)}")
    return name


# -- helpers for the checks above (also used by xpnet.data) -------------------------------------


def check_label_vector(y: Any, m: int | None = None, *, name: str = "y") -> np.ndarray:
    """``y`` of shape (m,) or (m, 1) holding numbers (or bools), as a 1-D NumPy view; any values.

    The shape, dtype and length part of :func:`check_labels`, for callers that keep some
    labels and drop others (``xpnet.data`` selecting digits) before checking values.
    """
    a = host_array(y, name)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InputError(f"{name} must have shape (m,) or (m, 1); got {a.shape}")
    if a.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold numbers; got dtype {a.dtype}")
    if m is not None and len(a) != m:
        raise InputError(f"{name} has {len(a)} labels but X has {m} rows")
    return a


def _unroll_hint(shape: tuple[int, ...]) -> str:
    """How to turn images of this shape into the lab's rows of 400, or "" when it is not images.

    The lab stores a 20x20 image column-major (``row = image.T.ravel()``). For a batch that
    is ``X.transpose(0, 2, 1)``, not ``X.T``, which would also reverse the batch axis and
    scramble the rows. MNIST's 28x28 images need cropping and resizing as well.
    """
    if shape == (20, 20):
        return "; unroll the 20x20 image to a row of 400 in the lab's column-major layout: image.T.reshape(400)"
    if len(shape) == 3 and shape[1:] == (20, 20):
        return ("; unroll 20x20 images to rows of 400 in the lab's column-major layout: "
                "X.transpose(0, 2, 1).reshape(-1, 400)")
    if shape == (28, 28):
        return "; crop, centre and resize the 28x28 MNIST image to a lab row: xpnet.data.to_lab_layout(image[None])"
    if len(shape) == 3 and shape[1:] == (28, 28):
        return "; crop, centre and resize 28x28 MNIST images to lab rows: xpnet.data.to_lab_layout(images)"
    return ""


# -- command-line lists ------------------------------------------------------------------------


def split_names(text: str | None) -> list[str] | None:
    """The items of a comma-separated option, spaces and empty items dropped; None stays None.

    ``"numpy, jax,"`` gives ``["numpy", "jax"]``, and ``""`` gives ``[]``, which the caller refuses or
    reads as "none" as its option means.
    """
    return None if text is None else [item.strip() for item in text.split(",") if item.strip()]
