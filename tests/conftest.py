"""Fixtures parametrized from the backend registry.

Every (backend, device) xpnet knows becomes a test parameter; one that cannot run here
is skipped with its reason (framework not installed, device absent), so a new backend
or device is tested without editing a test, and nothing passes silently.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from xpnet import backends

#: The real MNIST test set, where CI and developers keep it (never copied into the repo).
MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def _ids(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-{pair[1]}"


@pytest.fixture(params=backends.pairs(), ids=_ids)
def backend(request: pytest.FixtureRequest) -> backends.Backend:
    """Each (backend, device) xpnet knows; skipped with the reason when it cannot run here."""
    name, device = request.param
    st = backends.status(name, device)
    if not st.available:
        pytest.skip(st.reason)
    return backends.get(name, device)


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest, backend: backends.Backend) -> str:
    reason = backend.dtype_missing(request.param)
    if reason:
        pytest.skip(reason)
    return request.param


@pytest.fixture
def mnist_dir() -> Path:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"the MNIST test set is not at {MNIST_DIR}")
    return MNIST_DIR


def pytest_configure(config: pytest.Config) -> None:
    """One JAX compilation cache for the whole run, made here and removed at its end.

    Each process compiles every eager operation and every jitted forward anew (a new ``Model`` is a new
    function to ``jax.jit``), 60 ms each on this CPU; with a persistent cache, an executable with the same
    program is loaded instead, across Models, across the two ``pytest -n 2`` workers (which inherit this
    environment from the process that starts them) and in the ``xpnet`` subprocesses tests start: 10% of
    the JAX tests' time. The compiled code is the same. A cache the user set is used as it is.
    """
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:  # the user's, or this run's, set by the xdist controller
        return
    path = tempfile.mkdtemp(prefix="xpnet-tests-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # default 1 s: none of ours
    config.add_cleanup(lambda: shutil.rmtree(path, ignore_errors=True))


#: Tests that start a long subprocess of their own (``xpnet run``, about a minute): run first, so that under
#: ``pytest -n 2`` their worker's minute overlaps the other worker's tests instead of trailing after them.
LONG_FIRST = ("tests/test_run_report.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONG_FIRST))  # stable: the rest keep their order
