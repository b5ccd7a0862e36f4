"""The seeded, stratified train/test split.

Why stratified: with few examples per digit, a plain random split can leave a digit nearly absent
from one part; splitting each class separately keeps every class's share in both parts. Why
seeded: the same seed gives the same split, so a run can be repeated and a held-out set stays
held out.
"""

from __future__ import annotations

import numbers

import numpy as np

from xpnet.data.digits import Digits
from xpnet.data.errors import DataError, data_errors
from xpnet.validation import check_seed


def train_test_split(d: Digits, test_fraction: float = 0.2, seed: int = 0) -> tuple[Digits, Digits]:
    """Split into (train, test), stratified over every class and reproducible.

    Each class, in class-index order, is shuffled with ``np.random.default_rng(seed)`` and
    ``round(n_class * test_fraction)`` of it goes to test, so both parts keep the class balance;
    each part is then shuffled. Same seed, same split. Both parts keep ``d.classes``. Raises
    DataError unless 0 < test_fraction < 1 and both parts are non-empty.
    """
    if not isinstance(d, Digits):
        raise TypeError(f"train_test_split takes Digits (from xpnet.data.load), got {type(d).__name__}")
    _check_fraction(test_fraction)
    with data_errors():
        rng = np.random.default_rng(check_seed(seed))
    test_parts, train_parts = [], []
    for index in range(len(d.classes)):
        members = rng.permutation(np.flatnonzero(d.y[:, 0] == index))
        n_test = int(round(len(members) * test_fraction))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    for name, part in (("train", train), ("test", test)):
        if len(part) == 0:
            raise DataError(f"test_fraction={test_fraction} of {len(d)} digits leaves the {name} part empty")
    return _part(d, train, "train", test_fraction, seed), _part(d, test, "test", test_fraction, seed)


def _check_fraction(test_fraction: float) -> None:
    is_real = isinstance(test_fraction, numbers.Real) and not isinstance(test_fraction, bool)
    if not (is_real and 0 < test_fraction < 1):
        raise DataError(f"test_fraction must be a number strictly between 0 and 1; got {test_fraction!r}")


def _part(d: Digits, rows: np.ndarray, name: str, test_fraction: float, seed: int) -> Digits:
    source = f"{d.source} [{name} part, test_fraction={test_fraction}, seed={seed}]"
    return Digits(d.X[rows], d.y[rows], d.format, source, d.classes)
