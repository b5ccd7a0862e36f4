"""Keep the frameworks' own start-up chatter off the terminal of xpnet's commands.

TensorFlow, XLA and absl write their notices (oneDNN's "custom operations are on", absl's
"All log messages before absl::InitializeLog() is called ...", XLA's "computation placer already
registered") from C++ straight to file descriptor 2, at import and at first use, where no Python
filter reaches them; PyTorch and JAX add Python warnings and log records. Someone who ran
``xpnet run`` asked for a report, not for these, so the command line (and only the command line:
``import xpnet`` changes nothing) runs each command inside :func:`frameworks_quiet`:

* file descriptor 2 points at the null device, while ``sys.stderr``, which xpnet's own messages,
  progress bars, Python warnings and tracebacks use, writes to a duplicate of the real one;
* ``TF_CPP_MIN_LOG_LEVEL=2`` (unless set already) hides TensorFlow's info and warning logs;
* the frameworks' log records below ERROR, their Python warnings, and deprecation and future
  warnings of any library are not shown.

Nothing here changes how anything computes (oneDNN stays on). ``xpnet --debug`` skips all of it,
so the frameworks' messages are one flag away when something goes wrong.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import TextIO

#: The frameworks whose loggers and warnings are kept quiet (top-level module names).
FRAMEWORKS = ("absl", "tensorflow", "keras", "jax", "jaxlib", "torch", "onnx", "onnxruntime", "array_api_strict",
              "dask", "distributed")
_FRAMEWORK_MODULES = rf"({'|'.join(FRAMEWORKS)})(\..*)?$"


@contextlib.contextmanager
def frameworks_quiet() -> Iterator[None]:
    """Within this block, the frameworks' chatter does not reach the terminal; xpnet's own stderr output does."""
    with _environment("TF_CPP_MIN_LOG_LEVEL", "2"), warnings.catch_warnings(), _loggers_at(logging.ERROR), \
            native_stderr_to_null():
        warnings.filterwarnings("ignore", module=_FRAMEWORK_MODULES)
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category)
        yield


@contextlib.contextmanager
def native_stderr_to_null() -> Iterator[None]:
    """Point file descriptor 2 at the null device, keeping ``sys.stderr`` on the real one when it wrote to fd 2.

    C and C++ code writes to the descriptor; Python code writes to ``sys.stderr``, which is given a
    duplicate of the original descriptor, so only native output is dropped. A ``sys.stderr`` that was
    not on fd 2 (a test's capture, a redirection) is left as it is. Both are restored on exit.
    """
    _flush(sys.stderr)
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all: nothing to keep quiet
        yield
        return
    ours = _stream_on(saved, sys.stderr) if _writes_to_fd2(sys.stderr) else None
    previous = sys.stderr
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    if ours is not None:
        sys.stderr = ours
    try:
        yield
    finally:
        if ours is not None:
            _flush(ours)
            sys.stderr = previous
        os.dup2(saved, 2)
        os.close(saved)


def _writes_to_fd2(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _stream_on(fd: int, like: TextIO) -> TextIO:
    """A line-buffered text stream on ``fd`` (not closing it), with the encoding of ``like``."""
    return open(fd, "w", buffering=1, encoding=getattr(like, "encoding", None) or "utf-8",
                errors=getattr(like, "errors", None) or "backslashreplace", closefd=False)


def _flush(stream: TextIO | None) -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        stream.flush()


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` unless it is set already; removed again on exit if it was not."""
    was_set = name in os.environ
    os.environ.setdefault(name, value)
    try:
        yield
    finally:
        if not was_set:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _loggers_at(level: int) -> Iterator[None]:
    """The frameworks' Python loggers at ``level`` or above; their own levels restored on exit."""
    loggers = [logging.getLogger(name) for name in FRAMEWORKS]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(level, logger.level))
    try:
        yield
    finally:
        for logger, old in zip(loggers, before, strict=True):
            logger.setLevel(old)
