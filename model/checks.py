"""The errors the model raises for bad arguments, and the checks it makes itself.

``xpnet.validation`` (the public boundary's checks) builds on these, so that one error
class, :class:`InputError`, is raised for every bad input wherever it is found.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class InputError(ValueError):
    """Input that xpnet cannot use; the message says what is wrong and where."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong kind (a string where a number belongs); both an InputError and a TypeError."""


def check_seed(seed: Any, *, name: str = "seed") -> int:
    """A seed for ``np.random.default_rng``: a whole number >= 0 (the message names the argument)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"{name} must be a whole number >= 0, got {seed!r}")
    return int(seed)
