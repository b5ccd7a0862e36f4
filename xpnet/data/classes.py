"""Which digits to tell apart, and the selection of their examples.

Why: the lab tells 0 from 1; its multiclass sequel tells all ten digits apart. A set of digits
(``classes``) is a tuple such as (0, 1) or (3, 5, 8); an example's label is its CLASS INDEX, the
position of its digit in that tuple, so for (0, 1) the labels are the digits themselves and binary
callers see the 0/1 labels they always did. ``parse_digits`` reads the command line's "0-9" or
"3,5,8"; ``select_classes`` keeps the examples of the chosen digits and relabels them.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

import numpy as np

from xpnet.data.errors import DataError, data_errors
from xpnet.validation import check_label_vector

BINARY = (0, 1)
"""The lab's digits: 0 vs 1."""
ALL_DIGITS = tuple(range(10))
"""The multiclass sequel's digits: 0 to 9."""

_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_digits(text: str) -> tuple[int, ...]:
    """Read a set of digits: "0,1" -> (0, 1); "0-9" -> (0, ..., 9); "0-2,7" -> (0, 1, 2, 7).

    Items are single digits or ascending ranges, separated by commas; the order written is the
    order of the class indices. Raises DataError naming the problem: an item that is neither, a
    digit outside 0..9, one named twice, or fewer than two digits.
    """
    if not isinstance(text, str):
        raise DataError(f"digits must be text such as '0,1' or '0-9'; got {text!r}")
    found: list[int] = []
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            raise DataError(
                f"cannot read {item.strip()!r} in digits {text!r}: write digits such as '0,1', '0-9' or '3,5,8'"
            )
        low = int(match[1])
        high = low if match[2] is None else int(match[2])
        if high < low:
            raise DataError(f"the range {item.strip()!r} in digits {text!r} runs backwards; write {high}-{low}")
        found.extend(range(low, high + 1))
    return check_classes(found)


def check_classes(digits: str | Sequence[int]) -> tuple[int, ...]:
    """``digits`` as a tuple of two or more different digits 0..9 (text goes through ``parse_digits``)."""
    if isinstance(digits, str):
        return parse_digits(digits)
    if not isinstance(digits, Sequence) or not all(_is_int(d) for d in digits):
        raise DataError(f"digits must be a sequence of whole numbers such as (0, 1); got {digits!r}")
    digits = tuple(int(d) for d in digits)
    outside = [d for d in digits if not 0 <= d <= 9]
    if outside:
        raise DataError(f"digit {outside[0]} is outside 0..9 in digits {digits}")
    twice = [d for i, d in enumerate(digits) if d in digits[:i]]
    if twice:
        raise DataError(f"digit {twice[0]} is named twice in digits {digits}")
    if len(digits) < 2:
        raise DataError(f"a classifier needs at least two digits to tell apart; got {digits}")
    return digits


def select_classes(X: np.ndarray, y: np.ndarray, classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Keep the examples whose label is one of ``classes``, labelled with its class index.

    X has one example per leading index (any shape); y is (m,) or (m, 1) of numbers. Returns
    (X kept, (k, 1) uint8 class indices: i where the label is ``classes[i]``), in file order.
    """
    X = np.asarray(X)
    with data_errors():
        labels = check_label_vector(y, None)
    classes = tuple(classes)
    if len(set(classes)) != len(classes) or not all(_is_int(c) for c in classes):
        raise DataError(f"classes must be different whole numbers; got {classes!r}")
    if X.ndim == 0 or len(X) != len(labels):
        raise DataError(f"X has shape {X.shape} but y has {len(labels)} labels")
    index = np.full(len(labels), -1, dtype=np.int16)
    for i, label in enumerate(classes):
        index[labels == label] = i
    keep = index >= 0
    return X[keep], index[keep].astype(np.uint8).reshape(-1, 1)


def select_binary(X: np.ndarray, y: np.ndarray, classes: tuple[int, int] = BINARY) -> tuple[np.ndarray, np.ndarray]:
    """``select_classes`` for exactly two labels: 0 for ``classes[0]``, 1 for ``classes[1]``."""
    if len(classes) != 2 or classes[0] == classes[1]:
        raise DataError(f"classes must be two different labels; got {classes!r}")
    return select_classes(X, y, classes)


def check_present(index: np.ndarray, classes: Sequence[int], source: str) -> None:
    """Refuse a selection in which a requested digit has no example, naming the digit(s)."""
    counts = np.bincount(np.asarray(index).ravel(), minlength=len(classes))
    missing = [f"{d}s" for d, n in zip(classes, counts, strict=True) if n == 0]
    if missing:
        words = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} or {missing[-1]}"
        raise DataError(f"no {words} found in {source}")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
