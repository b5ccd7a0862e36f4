"""Assertions shared by the tests (imported as ``from helpers import ...``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from xpnet import backends

#: Tolerances of results against float64 NumPy, by dtype (the parity tolerances, in one place).
from xpnet.parity import TOLERANCES  # noqa: E402


def assert_close(actual: Any, expected: Any, backend: backends.Backend, dtype: str) -> None:
    """``actual`` is an array of ``backend`` (not a silent NumPy fallback) and matches ``expected``."""
    assert backends.owner(actual) == backend.name, f"result is a {type(actual)}, not a {backend.name} array"
    rtol = TOLERANCES[dtype].max_rel_err
    np.testing.assert_allclose(backend.to_numpy(actual), np.asarray(expected), rtol=rtol, atol=rtol * 1e-2)
