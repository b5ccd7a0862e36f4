"""The one error class of ``xpnet.data``, and the bridge from ``xpnet.validation``'s checks.

Why: the data package does not write its own checks of shapes, dtypes, finiteness and labels; it
calls those of ``xpnet.validation``, which raise ``InputError``. ``DataError`` is an ``InputError``
(so the CLI and the API report both the same way), and ``data_errors`` turns the checks' errors
into DataErrors, prefixed with the file they came from where there is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from xpnet.validation import InputError


class DataError(InputError):
    """Digit data that xpnet cannot use: unknown format, bad shape, dtype, values or labels.

    The message names the file or the offending index. An ``InputError``, hence a ``ValueError``.
    """


@contextmanager
def data_errors(source: str | None = None) -> Iterator[None]:
    """Re-raise an InputError from the block as a DataError, its message prefixed with ``source``."""
    try:
        yield
    except InputError as error:
        if source is None and isinstance(error, DataError):
            raise
        raise DataError(f"{source}: {error}" if source else str(error)) from error
