"""Options, fixtures and pytest-benchmark hooks of the benchmark suite (``pytest bench/``).

The suite is parametrized from the backend registry through :func:`xpnet.bench.cases.matrix`;
the ``--bench-*`` options (``options.py``, shared with ``xpnet bench``) narrow or widen it.
``pytest bench/ --benchmark-disable`` runs every default row once and checks its result (the
test suite's pass); ``xpnet bench`` runs it with timing. Physical limits are measured once per
run, before the first row.
"""

from __future__ import annotations

import collections
import os
from typing import Any

import numpy as np
import pytest

from xpnet import backends
from xpnet.bench import cases, harness, limits, machine
from xpnet.bench.options import SUITE_OPTIONS
from xpnet.model import init_params
from xpnet.parity import reference, sample_inputs
from xpnet.validation import split_names

_MATRIX = pytest.StashKey[list]()
_LIMITS = pytest.StashKey[dict]()
_METER = pytest.StashKey[harness.CpuMeter]()
_GATE = pytest.StashKey[harness.QuietGate]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xpnet-bench", "xpnet benchmarks (bench/)")
    for option in SUITE_OPTIONS:
        option.add_to(group.addoption, prefix="bench-")


def _names(config: pytest.Config, name: str) -> list[str] | None:
    return split_names(config.getoption(f"--bench-{name}"))


def matrix(config: pytest.Config) -> list[cases.Case]:
    """The run's cases, built once from the options."""
    if _MATRIX not in config.stash:
        dtypes, peers = _names(config, "dtypes"), _names(config, "peers") or list(cases.PEERS)
        config.stash[_MATRIX] = cases.matrix(
            sizes=cases.parse_sizes(config.getoption("--bench-sizes") or "default"),
            dtypes=dtypes or cases.DTYPES,
            backend_names=_names(config, "backends"),
            devices=_names(config, "devices"),
            peers=[] if peers == ["none"] else peers,
            explicit_dtypes=dtypes is not None,
        )
    return config.stash[_MATRIX]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``<impl>_case`` arguments get that implementation's rows.

    The large sizes are behind ``--bench-sizes`` alone, not also a marker: a ``-m 'not slow'`` in
    the project's addopts would otherwise drop them silently from a run that asked for them.
    """
    for impl in cases.IMPLS:
        argname = f"{impl}_case"
        if argname in metafunc.fixturenames:
            rows = [c for c in matrix(metafunc.config) if c.impl == impl]
            metafunc.parametrize(argname, [pytest.param(c, id=c.id) for c in rows])


def _case_of(item: pytest.Item) -> cases.Case | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    return next((v for v in params.values() if isinstance(v, cases.Case)), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run benchmark rows by (batch size, dtype, variant), in the slots they already hold among all items,
    so that the rows of one table run close in time, under the same machine conditions."""
    slots = [i for i, item in enumerate(items) if _case_of(item) is not None]
    ordered = sorted((items[i] for i in slots), key=lambda item: cases.order(_case_of(item)))
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> harness.Settings:
    """pytest-benchmark's own options: time per row, minimum rounds, disabled."""
    max_time = float(pytestconfig.getoption("benchmark_max_time"))
    disabled = pytestconfig.getoption("benchmark_disable") and not pytestconfig.getoption("benchmark_enable")
    gate = pytestconfig.stash[_GATE] = harness.QuietGate(pytestconfig.getoption("--bench-wait-quiet") or 0.0)
    return harness.Settings(
        max_time=max_time,
        min_rounds=int(pytestconfig.getoption("benchmark_min_rounds")),
        warmup=min(0.1, max_time / 4),
        disabled=bool(disabled),
        gate=gate,
    )


@pytest.fixture(scope="session")
def params() -> Any:
    """The lab network's seeded Keras-style weights, the same for every row."""
    return init_params(seed=0)


@pytest.fixture(scope="session")
def device_limits(pytestconfig: pytest.Config, settings: harness.Settings) -> dict[str, limits.DeviceLimits]:
    """Bandwidth and matmul peak of each device in the run, measured before the first row (small when disabled)."""
    rows = matrix(pytestconfig)
    devices = {c.device for c in rows}
    # every backend on those devices, not only the run's: the hardware's limit does not depend on --bench-backends
    pairs = [(n, d) for n, d in backends.pairs() if d in devices and backends.status(n, d).available]
    dtypes = sorted({c.dtype for c in rows}, key=cases.DTYPES.index)
    found = limits.measure(pairs, dtypes, quick=settings.disabled)
    pytestconfig.stash[_LIMITS] = found
    meter = harness.CpuMeter()
    meter.start()
    pytestconfig.stash[_METER] = meter
    return found


class HostInputs:
    """Seeded host inputs per batch size (rotated buffers) and the float64 reference of the first one.

    Kept while they fit in ``keep_bytes``; the largest sizes run last and evict the earlier ones. A batch of
    more than ``tile_rows`` rows repeats one seeded block of ``tile_rows`` (1.6 GB in float32 at the default,
    27 times an H200's 60 MB L2, so no row is read from a cache), and its reference repeats the block's:
    drawing 10^7 rows and computing their float64 reference would take about two minutes per benchmark process
    (10^6 rows: 3.2 s to draw, 8.3 s for the reference, on the 2-vCPU machine of BENCHMARKS.md).
    """

    def __init__(self, params: Any, keep_bytes: int = 1 << 30, tile_rows: int = 1_000_000) -> None:
        self.params, self.keep_bytes, self.tile_rows = params, keep_bytes, tile_rows
        self._cache: collections.OrderedDict[int, tuple[list[np.ndarray], np.ndarray]] = collections.OrderedDict()

    def get(self, m: int) -> tuple[list[np.ndarray], np.ndarray]:
        if m not in self._cache:
            n = self.params.network.input_dim
            count = harness.buffer_count(m * n * 4)
            while self._cache and self._bytes() + count * m * n * 4 > self.keep_bytes:
                self._cache.popitem(last=False)
            if m > self.tile_rows:
                block = sample_inputs(self.tile_rows, n, seed=0)
                ref = reference(self.params, block)  # np.resize repeats rows over the new shape, the last cut short
                self._cache[m] = ([np.resize(block, (m, n))], np.resize(ref, (m, *ref.shape[1:])))
            else:
                xs = [sample_inputs(m, n, seed=i) for i in range(count)]
                self._cache[m] = (xs, reference(self.params, xs[0]))
        return self._cache[m]

    def _bytes(self) -> int:
        return sum(sum(x.nbytes for x in xs) for xs, _ in self._cache.values())


@pytest.fixture(scope="session")
def host_inputs(params: Any) -> HostInputs:
    return HostInputs(params)


# -- pytest-benchmark hooks --------------------------------------------------------------------


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """CPU, BLAS libraries and their threads, GPUs and driver, backend and peer versions."""
    if _MATRIX in config.stash:
        pairs = sorted({(c.backend, c.device) for c in config.stash[_MATRIX] if c.impl in ("xpnet", "native")})
        machine_info["xpnet"] = machine.info(pairs)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """The measured limits and the run's options beside pytest-benchmark's own fields."""
    meter = config.stash.get(_METER, None)
    output_json["xpnet"] = {
        "limits": {dev: lim.to_dict() for dev, lim in config.stash.get(_LIMITS, {}).items()},
        "foreign_load": meter.stop() if meter else None,
        "waited_for_quiet_s": gate.waited if (gate := config.stash.get(_GATE, None)) else 0.0,
        "flop_per_example": limits.flop_per_example(),
        "options": {f"--bench-{o.name}": config.getoption(f"--bench-{o.name}") for o in SUITE_OPTIONS},
        "pid": os.getpid(),
    }


@pytest.hookimpl(wrapper=True)
def pytest_benchmark_group_stats(config: pytest.Config, benchmarks: Any, group_by: str) -> Any:
    """Tables in the order of the run (variant, dtype, batch size) instead of alphabetical."""
    groups = yield
    return sorted(groups, key=lambda pair: cases.group_order(pair[0]))
