"""The GPU path: CUDA graphs replay the forward, the device's clock times device work, TF32 stays off.

Run on every GPU (backend, device) xpnet knows; on a machine without one each test is skipped with
the framework's reason (``bench/gpu.sh`` runs this file first on the device machine). TF32 is
checked by behaviour for every backend in ``tests/test_backends.py``
(``test_float32_matmul_keeps_full_float32_precision``).
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

import xpnet
from xpnet import backends
from xpnet.model import init_params
from xpnet.parity import sample_inputs

GPU_PAIRS = [pair for pair in backends.pairs() if backends.device_kind(pair[1]) == "gpu"]


@pytest.fixture(params=GPU_PAIRS, ids=lambda pair: f"{pair[0]}-{pair[1]}")
def gpu_backend(request: pytest.FixtureRequest) -> backends.Backend:
    st = backends.status(*request.param)
    if not st.available:
        pytest.skip(st.reason)
    return backends.get(*request.param)


@pytest.mark.parametrize("m", [1, 64, 1000])
def test_a_cuda_graph_replays_the_forward_on_each_new_input(gpu_backend, m):
    be = gpu_backend
    if not be.graph_capture:
        pytest.skip(f"{be.name} records no CUDA graphs (its Backend.graph_capture is None)")
    model = xpnet.Model(init_params(seed=1), backend=be)
    eager = functools.partial(model.forward_fn("matmul"), model.layers)
    inputs = [model.asarray(sample_inputs(m, 400, seed=s)) for s in range(3)]
    replay = be.capture(eager, inputs[0])
    for x in inputs[::-1]:  # each replay computes on the input it is given, not on the one recorded
        want = be.to_numpy(be.sync(eager(x)))
        got = be.to_numpy(be.sync(replay(x)))  # read before the next replay overwrites it
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)


def test_the_device_clock_times_work_on_the_device(gpu_backend):
    be = gpu_backend
    clock = be.device_clock()
    if clock is None:
        pytest.skip(f"{be.name} exposes no CUDA events")
    a = be.asarray(np.random.default_rng(0).random((4096, 4096), dtype=np.float32))
    be.sync(be.xp.matmul(a, a))  # warm-up
    t0 = time.perf_counter()
    clock.start()
    be.xp.matmul(a, a)
    device = clock.stop()
    host = time.perf_counter() - t0
    assert 0 < device <= host  # 137 GFLOP, milliseconds on an H200: device time within the wall time


def test_rows_through_pinned_buffers_arrive_whole_and_the_forward_waits_for_them(gpu_backend, monkeypatch):
    """The real transfers (``Backend.transfers``): pieces copied on a stream of their own through two pinned
    buffers give the host's values exactly, and work queued right after on the current stream sees them all."""
    from xpnet.backends.pinned import PinnedUpload

    be = gpu_backend
    transfers = be.transfers()
    if transfers is None:
        pytest.skip(f"{be.name} on {be.device} has no pinned transfers")
    upload = PinnedUpload(transfers, piece_bytes=1 << 20)  # 655 rows a piece: 16 pieces
    for seed in range(3):
        X = sample_inputs(10_000, 400, seed=seed)
        got = upload(X, "float32")
        assert float(be.xp.sum(got[-1, :])) == pytest.approx(float(X[-1].sum(dtype=np.float64)), rel=1e-5)
        assert np.array_equal(be.to_numpy(got), X)
    model = xpnet.Model(init_params(seed=1), backend=be)
    X = sample_inputs(20_000, 400, seed=7)
    want = model.predict_proba(X)
    monkeypatch.setattr(be, "pinned_from_bytes", 0)
    for variant in ("matmul", "jit"):
        np.testing.assert_allclose(model.predict_proba(X, variant), want, rtol=1e-6, atol=0)
        np.testing.assert_allclose(model.predict_proba(X, variant, batch_size=3000), want, rtol=1e-6, atol=0)
