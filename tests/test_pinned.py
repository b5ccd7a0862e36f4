"""Host rows through pinned buffers (``backends.pinned.PinnedUpload``): the pipeline's order, proven on the CPU.

A GPU's copies run on a stream while the host goes on; here a fake ``Transfers`` does each copy on a worker
thread a little later, as a copy engine would, so that a buffer written again before its transfer has read it
gives wrong rows. ``tests/test_gpu.py`` runs the real ones (CuPy's and PyTorch's) on a GPU.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

import xpnet
from xpnet.backends.pinned import PinnedUpload
from xpnet.model import init_params


class FakeTransfers:
    """``Transfers`` on the host: "device" arrays are NumPy arrays, each copy runs on one worker thread (in order,
    as on one stream) ``delay`` seconds after it is queued, and an event is its Future."""

    def __init__(self, delay: float = 0.002) -> None:
        self.delay, self.pinned_calls = delay, []
        self.worker = ThreadPoolExecutor(max_workers=1)

    def pinned(self, nbytes: int) -> tuple[np.ndarray, np.ndarray]:
        self.pinned_calls.append(nbytes)
        buffer = np.full(nbytes, 0xFF, np.uint8)  # NaNs if a copy read it before it was written
        return buffer, buffer

    def empty(self, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        return np.full(shape, np.nan, dtype)  # NaN where no copy wrote (np.empty may reuse an earlier X's memory)

    def copy_in(self, dst: np.ndarray, lo: int, hi: int, buffer: np.ndarray, nbytes: int) -> Future:
        def transfer() -> None:
            time.sleep(self.delay)
            dst[lo:hi] = buffer[:nbytes].view(dst.dtype).reshape(hi - lo, dst.shape[1])

        return self.worker.submit(transfer)

    def host_waits(self, event: Future) -> None:
        event.result()

    def device_waits(self, event: Future) -> None:
        event.result()  # the "device" here is the host: what comes next reads dst on the host


def _rows(m: int, n: int = 400, seed: int = 0, dtype: str = "float32") -> np.ndarray:
    return np.random.default_rng(seed).random((m, n)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rows_arrive_whole_through_two_buffers_pinned_once(dtype):
    fake = FakeTransfers()
    upload = PinnedUpload(fake, piece_bytes=64 << 10)  # 40 or 20 rows a piece: 25 or 50 pieces
    for seed in range(3):
        X = _rows(1000, seed=seed, dtype=dtype)
        got = upload(X, dtype)
        assert got.dtype == X.dtype and np.array_equal(got, X)
    row_bytes = 400 * X.itemsize
    assert fake.pinned_calls == [(64 << 10) // row_bytes * row_bytes] * 2  # two buffers, pinned at the first call
    small = _rows(7, seed=9, dtype=dtype)  # one piece, shorter than a buffer
    assert np.array_equal(upload(small, dtype), small) and len(fake.pinned_calls) == 2


@pytest.mark.parametrize("threads", [2, 3])
def test_each_piece_copied_by_several_threads_arrives_whole(threads):
    fake = FakeTransfers()
    upload = PinnedUpload(fake, piece_bytes=64 << 10, threads=threads)
    for seed in range(2):
        X = _rows(1001, seed=seed)
        assert np.array_equal(upload(X, "float32"), X)
    tiny = _rows(3)  # fewer rows than two per thread: one thread copies them
    assert np.array_equal(upload(tiny, "float32"), tiny)
    with pytest.raises(ValueError, match="threads must be at least 1"):
        PinnedUpload(fake, threads=0)


def test_a_buffer_written_again_before_its_transfer_read_it_would_give_wrong_rows():
    """The control: without the wait for a buffer's last transfer, the fake's late copies read the next piece's
    values, so the test above can fail."""
    fake = FakeTransfers()
    fake.host_waits = lambda event: None
    X = _rows(1000)
    got = PinnedUpload(fake, piece_bytes=64 << 10)(X, "float32")
    assert not np.array_equal(got, X)


def test_pieces_larger_than_the_rows_and_rows_larger_than_a_piece():
    fake = FakeTransfers(delay=0.0)
    X = _rows(5, n=3000)  # a row (12 kB) wider than a piece: one row a piece
    assert np.array_equal(PinnedUpload(fake, piece_bytes=4096)(X, "float32"), X)
    assert fake.pinned_calls == [12000, 12000]
    assert np.array_equal(PinnedUpload(fake)(X, "float32"), X)  # the whole X in the first buffer


def test_rows_that_are_not_c_contiguous_rows_of_the_dtype_are_refused():
    upload = PinnedUpload(FakeTransfers(delay=0.0))
    with pytest.raises(ValueError, match="C-contiguous rows"):
        upload(_rows(10).T, "float32")
    with pytest.raises(ValueError, match="of float64; got float32"):
        upload(_rows(10), "float64")


def test_predict_proba_through_pinned_buffers_gives_the_same_outputs_and_names_a_bad_value(monkeypatch):
    """The Model's staging takes the pinned path from ``pinned_from_bytes`` on (whole batches and chunks), checked
    as before: here on NumPy with the fake transfers, since that path is only ever on for a GPU."""
    model = xpnet.Model(init_params(seed=2), backend="numpy")
    X = _rows(600, seed=4)
    want = model.predict_proba(X)
    fake = FakeTransfers(delay=0.0005)
    uploads = []
    real_call = PinnedUpload.__call__

    def counting(self, host, dtype):
        uploads.append(host.shape)
        return real_call(self, host, dtype)

    monkeypatch.setattr(PinnedUpload, "__call__", counting)
    be = model.backend
    monkeypatch.setattr(be, "pinned_from_bytes", 100 * 400 * 4)
    monkeypatch.setattr(be, "transfers", lambda: fake)
    np.testing.assert_allclose(model.predict_proba(X), want, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X, batch_size=250), want, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X[:50]), want[:50], rtol=1e-6)  # below the size: as before
    assert uploads == [(600, 400), (250, 400), (250, 400), (100, 400)]
    bad = X.copy()
    bad[321, 7] = np.inf
    with pytest.raises(xpnet.InputError, match=r"at index \(321, 7\)"):
        model.predict_proba(bad)


def test_a_backend_that_asks_for_pinned_buffers_without_transfers_says_so(monkeypatch):
    model = xpnet.Model(init_params(seed=2), backend="numpy")
    monkeypatch.setattr(model.backend, "pinned_from_bytes", 0)
    with pytest.raises(ValueError, match="sets pinned_from_bytes but has no transfers"):
        model.predict_proba(_rows(10))


def test_every_backend_on_the_host_has_no_transfers_and_no_pinned_path(backend):
    """Pinned buffers are for a device across a bus: on the CPU there is nothing to transfer."""
    if xpnet.backends.device_kind(backend.device) != "cpu":
        pytest.skip(f"{backend.name} on {backend.device}: tests/test_gpu.py")
    assert backend.transfers() is None and backend.pinned_from_bytes is None


def test_the_fake_runs_copies_after_they_are_queued():
    """The fake must be late, or the control above proves nothing."""
    fake, seen = FakeTransfers(delay=0.01), []
    dst, buffer = np.zeros((1, 2), np.float32), np.ones(8, np.uint8)
    event = fake.copy_in(dst, 0, 1, buffer, 8)
    seen.append(dst.copy())
    fake.host_waits(event)
    assert not seen[0].any() and dst.all()
