"""Checks at the public boundary (API and command line), in one place.

Inside, the model trusts its inputs; here, what users pass is checked once, with an
error that names the problem: the expected and the actual shape, the bad dtype, the
first non-finite index.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class InputError(ValueError):
    """Input that xpnet cannot use; the message says what is wrong and where."""


def host_features(X: Any, n_features: int, *, name: str = "X", check_finite: bool = True) -> np.ndarray:
    """``X`` as a float NumPy array of shape (m, n_features) or (n_features,).

    Integers and booleans become float64 (the backend then casts to its dtype); complex,
    object and string arrays are refused. With ``check_finite``, NaN and inf are refused,
    naming the first bad index (SciPy's ``check_finite`` convention).
    """
    a = np.asarray(X)
    if a.dtype.kind in "biu":
        a = a.astype(np.float64)
    elif a.dtype.kind != "f":
        raise InputError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.ndim not in (1, 2) or a.shape[-1] != n_features:
        expected = f"(m, {n_features}) or ({n_features},)"
        hint = ""
        if a.shape[-2:] == (20, 20) and n_features == 400:
            hint = "; unroll 20x20 images to rows of 400 in the lab's layout: image.T.reshape(-1, 400)"
        raise InputError(f"{name} must have shape {expected}, got {a.shape}{hint}")
    if check_finite:
        check_all_finite(a, name)
    return a


def check_all_finite(a: np.ndarray, name: str) -> None:
    """Raise InputError naming the first index where ``a`` holds NaN or inf."""
    if not np.isfinite(a).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise InputError(f"{name} has a non-finite value ({a[first]}) at index {first}")
