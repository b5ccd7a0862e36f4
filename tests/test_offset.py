"""A user's X shared from its first aligned address (``OffsetRows``) gives X @ W and refuses the same batches.

XLA and TensorFlow share host memory only at 64 bytes, NumPy allocates at 16, so ``predict_proba``
hands them most of X as a view from its first aligned address (``xpnet.streaming.Staging``) rather
than a copy. These tests hold that to its promises: the sums are X @ W on every namespace, in both
forms (compiled and eager), whatever the offset; a finite batch stays finite and any NaN or inf
anywhere is found, with the error naming the first bad index of X; the view really shares X's
memory; and read-only or small inputs are copied as before.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet import streaming
from xpnet.model import OffsetRows, forward_checked, init_params, offset_first_layer, offset_sums

N = 400
RTOL = {"float32": 1e-5, "float64": 1e-12}


def _pieces(X: np.ndarray, j: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """OffsetRows' four arrays for X read j values in, on the host (what ``Staging`` shares or copies)."""
    m, n = X.shape
    body = X.reshape(-1)[j:j + (m - 1) * n].reshape(m - 1, n)
    columns, carried = np.arange(j, j + n), np.arange(k) - (k - j)
    columns[columns >= n] = n
    carried[carried < 0] = n
    return body, X[[0, m - 1]], columns.astype(np.int32), carried.astype(np.int32)


def _offset(X: np.ndarray, j: int, be=None, k: int = 16) -> OffsetRows:
    """OffsetRows of X on backend ``be``'s device (NumPy arrays as they are without one)."""
    pieces = _pieces(X, j, k)
    if be is None:
        return OffsetRows(*pieces)
    dtype = X.dtype.name
    return OffsetRows(*(be.asarray(a, dtype if a.dtype == X.dtype else "int32") for a in pieces))


def _unaligned(m: int, start: int, seed: int = 0, dtype: str = "float32") -> np.ndarray:
    """An (m, N) array starting ``start`` bytes past a 64-byte boundary (NumPy's own large arrays: 16)."""
    size = np.dtype(dtype).itemsize
    buffer = np.empty(m * N * size + 128, np.uint8)
    first = -buffer.ctypes.data % 64 + start
    X = buffer[first:first + m * N * size].view(dtype).reshape(m, N)
    X[...] = np.random.default_rng(seed).random((m, N))
    return X


@pytest.mark.parametrize("j", [1, 4, 12, 15])
@pytest.mark.parametrize("compiled", [False, True])
def test_offset_sums_are_x_at_w_on_every_backend(backend, dtype, j, compiled):
    if backend.chunked:
        pytest.skip(f"{backend.name} reads host rows in blocks of its own, never as OffsetRows")
    rng = np.random.default_rng(j)
    X = rng.normal(size=(37, N)).astype(dtype)
    W = rng.normal(size=(N, 32)).astype(dtype)
    want = X.astype(np.float64) @ W.astype(np.float64)
    got = backend.to_numpy(offset_sums(_offset(X, j, backend), backend.asarray(W, dtype), backend.xp, compiled))
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(want).max())


def test_a_finite_batch_stays_finite_and_any_bad_value_is_found():
    """The next row's first j values and the row before's last k - j meet zero weights: huge finite ones add exact
    zeros, while a NaN or inf there makes a neighbouring row non-finite too, which the checked forward refuses
    (its batch is bad anyway)."""
    import array_api_compat.numpy as xp

    params = init_params(seed=1)
    names = params.network.activations
    X = np.random.default_rng(1).random((40, N)).astype(np.float32)
    X[7, :12] = 1e30  # large but finite: against the zero weights of the row before, exact zeros
    X[6, -4:] = 1e30  # and against those of the carried sums of the row after
    for j in (4, 12):
        p, finite = forward_checked(params.layers, _offset(X, j), names, xp)
        assert bool(finite)
        np.testing.assert_allclose(p, forward_checked(params.layers, X, names, xp)[0], rtol=1e-5)
        for row, col in ((0, 0), (0, j - 1), (0, j), (5, 0), (5, j - 1), (5, 399), (39, 0), (39, 399)):
            for bad in (np.nan, np.inf, -np.inf):
                Y = X.copy()
                Y[row, col] = bad
                with np.errstate(invalid="ignore", over="ignore"):
                    assert not bool(forward_checked(params.layers, _offset(Y, j), names, xp)[1]), (j, row, col)


def _offset_backend(backend):
    if not backend.host_alignment or backend.device != "cpu":
        pytest.skip(f"{backend.name} on {backend.device} shares or copies host rows as they are")
    return backend


def _offset_from(monkeypatch, be, nbytes: int) -> None:
    """Give ``be`` OffsetRows from ``nbytes`` on, for compiled and eager forwards."""
    monkeypatch.setattr(be, "offset_from_bytes", nbytes)


def _watch(monkeypatch, be) -> list:
    """Lower the size from which ``be`` is given OffsetRows to nothing, and record each one made."""
    _offset_from(monkeypatch, be, 0)
    made, build = [], streaming.Staging._offset_rows

    def recording(self, host, *args):
        rows = build(self, host, *args)
        made.append((host, rows))
        return rows

    monkeypatch.setattr(streaming.Staging, "_offset_rows", recording)
    return made


@pytest.mark.parametrize(("variant", "start", "precision"),  # j = 12, 15 and 4 values of 4 bytes, 6 of 8
                         [("matmul", 16, "float32"), ("jit", 4, "float32"), ("jit", 48, "float32"),
                          ("jit", 16, "float64")])
def test_predict_proba_shares_an_unaligned_x_and_gives_its_outputs(backend, variant, start, precision, monkeypatch):
    be = _offset_backend(backend)
    made = _watch(monkeypatch, be)
    X = _unaligned(300, start, dtype=precision)
    want = xpnet.Model(init_params(seed=3), backend="numpy", dtype="float64").predict_proba(X)
    model = xpnet.Model(init_params(seed=3), backend=be, dtype=precision)
    np.testing.assert_allclose(model.predict_proba(X, variant), want, rtol=RTOL[precision])
    (host, rows), = made
    assert isinstance(rows, OffsetRows)
    assert np.from_dlpack(rows.body).ctypes.data == X.ctypes.data + (64 - start)  # X's own memory, not a copy
    made.clear()
    np.testing.assert_allclose(model.predict_proba(X, variant, batch_size=64), want, rtol=RTOL[precision])
    assert len(made) == 5 and all(isinstance(rows, OffsetRows) for _, rows in made)


@pytest.mark.parametrize("variant", ["matmul", "jit"])
def test_the_error_names_the_first_bad_index_of_an_unaligned_x(backend, variant, monkeypatch):
    """NaN, +inf and -inf, at the body, the carried columns and the first and last rows (the flag comes from the
    outputs there: an infinite sum must become NaN before an activation makes it a finite 0 or 1)."""
    be = _offset_backend(backend)
    made = _watch(monkeypatch, be)
    model = xpnet.Model(init_params(seed=3), backend=be)
    bad_values = (np.nan, np.inf, -np.inf)
    for i, (row, col) in enumerate(((0, 0), (0, 11), (0, 12), (1, 3), (150, 0), (150, 399), (299, 5), (299, 399))):
        bad = bad_values[i % 3]
        X = _unaligned(300, 16, seed=row)
        X[row, col] = bad
        X[row + 1:, 2] = np.inf  # later bad values, the next row's head among them: the first is named
        with pytest.raises(xpnet.InputError, match=rf"X has a non-finite value \({bad}\) at index \({row}, {col}\)"):
            model.predict_proba(X, variant)
        with pytest.raises(xpnet.InputError, match=rf"at index \({row}, {col}\)"):
            model.predict_proba(X, variant, batch_size=100)
    assert made and all(isinstance(rows, OffsetRows) for _, rows in made)


def test_read_only_small_or_unchecked_rows_are_copied_as_before(backend, monkeypatch):
    be = _offset_backend(backend)
    made = _watch(monkeypatch, be)
    model = xpnet.Model(init_params(seed=4), backend=be)
    X = _unaligned(300, 16)
    want = model.predict_proba(X)
    made.clear()
    np.testing.assert_allclose(model.predict_proba(X, check_finite=False), want, rtol=1e-6)
    assert not made  # unchecked: a NaN must reach its own row only
    _offset_from(monkeypatch, be, X.nbytes + 1)
    np.testing.assert_allclose(model.predict_proba(X), want, rtol=1e-6)
    assert not made  # below the size from which sharing pays
    _offset_from(monkeypatch, be, 0)
    X.flags.writeable = False
    np.testing.assert_allclose(model.predict_proba(X), want, rtol=1e-6)
    if not be.shares_host(X.reshape(-1)[12:]):  # TensorFlow shares no read-only memory: a copy
        assert [rows for _, rows in made] == [None]


def test_an_eager_forward_sums_offset_rows_in_one_compiled_call(backend, monkeypatch):
    """Eager, each of OffsetRows' steps would be a call and a pass of its own (1.36x to 1.48x the forward on
    device rows at m = 10^5): the eager forward's first layer of OffsetRows (sums, bias, activation, NaN in rows
    to refuse) is one call compiled by the backend, once per Model, while its other layers stay eager (with the
    big product given from outside, and the activation applied after, where the backend's eager kernels are the
    faster, ``offset_eager_kernels``); and a backend without a compiler is never given them."""
    be = _offset_backend(backend)
    made = _watch(monkeypatch, be)
    compiled, given_product, jit = [], [], be.jit

    def recording_jit(fn):
        fast = jit(fn)

        def call(*args, **kwargs):
            compiled.append(fn)
            given_product.append(kwargs.get("own") is not None)
            return fast(*args, **kwargs)

        return call

    monkeypatch.setattr(be, "jit", recording_jit)
    X = _unaligned(300, 16)
    model = xpnet.Model(init_params(seed=4), backend=be)
    want = xpnet.Model(init_params(seed=4), backend="numpy", dtype="float64").predict_proba(X)
    for _ in range(2):
        np.testing.assert_allclose(model.predict_proba(X, "matmul"), want, rtol=RTOL["float32"])
    assert [isinstance(rows, OffsetRows) for _, rows in made] == [True, True]
    assert len(compiled) == 2 and all(fn.func is offset_first_layer for fn in compiled)  # one call each, one function
    assert given_product == [be.offset_eager_kernels] * 2
    made.clear()
    monkeypatch.setattr(type(be), "compiler", None)
    np.testing.assert_allclose(xpnet.Model(init_params(seed=4), backend=be).predict_proba(X, "matmul"), want,
                               rtol=RTOL["float32"])
    assert not made  # copied into an aligned buffer instead


def test_the_eager_products_weights_are_kept_per_weights_and_offset(backend, monkeypatch):
    """``offset_weights`` (0.8 ms a call, made eagerly in TensorFlow) is made once for the model's own W and an
    offset, again when either changes, and never kept for other layers or arrays whose writes no one can tell."""
    from xpnet import api

    be = _offset_backend(backend)
    model = xpnet.Model(init_params(seed=6), backend=be)
    made, real = [], api.offset_weights
    monkeypatch.setattr(api, "offset_weights", lambda *args: made.append(args) or real(*args))
    weights, W, n = model._kept_offset_weights(be.xp), model.params.layers[0][0], 400

    def columns(j: int) -> object:
        c = np.arange(j, j + n)
        c[c >= n] = n
        return be.asarray(c.astype(np.int32), "int32")

    by3, by12 = columns(3), columns(12)
    first = weights(W, by3)
    assert weights(W, by3) is first and len(made) == 1
    np.testing.assert_array_equal(be.to_numpy(first), be.to_numpy(real(W, by3, be.xp)))
    weights(W, by12)
    assert len(made) == 2 and weights(W, by12) is not first and len(made) == 2
    weights(W, by3)
    assert len(made) == 3  # the last one is kept, not every one
    other = be.asarray(be.to_numpy(W), "float32")  # the same values, not the model's own array
    weights(other, by3), weights(other, by3)
    assert len(made) == 5
    monkeypatch.setattr(be, "array_version", lambda a: None)
    weights(W, by3), weights(W, by3)
    assert len(made) == 7


def test_each_thread_reuses_its_own_copy_buffer_and_gets_its_own_rows_outputs(backend):
    """A small unaligned X is copied into an aligned buffer that the Model keeps between calls (its fresh pages
    cost more than the copy); the framework reads it until the result is fetched, so each thread has its own."""
    import threading

    be = _offset_backend(backend)
    model = xpnet.Model(init_params(seed=5), backend=be)
    reference = xpnet.Model(init_params(seed=5), backend="numpy", dtype="float64")
    inputs = [_unaligned(40 + i, 16, seed=i) for i in range(4)]  # far below offset_from_bytes: copied
    wants = [reference.predict_proba(X) for X in inputs]
    model.predict_proba(inputs[-1])  # the largest first: the buffer grows only for a larger X
    kept = model._stage().buffer
    for X, want in zip(inputs, wants, strict=True):  # other sizes and values through one buffer
        np.testing.assert_allclose(model.predict_proba(X, "jit"), want, rtol=RTOL["float32"])
    assert kept is not None and model._stage().buffer is kept

    failures, buffers = [], set()

    def calls(i: int) -> None:
        for r in range(30):
            X, want = inputs[(i + r) % 4], wants[(i + r) % 4]
            got = model.predict_proba(X)
            if not np.allclose(got, want, rtol=RTOL["float32"], atol=0):
                failures.append((i, r))
        buffers.add(id(model._stage().buffer))

    threads = [threading.Thread(target=calls, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(buffers) == 4


def test_a_kept_staging_lets_go_of_a_buffer_above_its_limit(backend, monkeypatch):
    be = _offset_backend(backend)
    stage = streaming.Staging(be, "float32")
    stage.rows(_unaligned(64, 16))
    small = stage.buffer  # its rows and the alignment's slack
    monkeypatch.setattr(streaming, "KEEP_STAGING_BYTES", small.nbytes - be.host_alignment)
    stage.keep_small()
    assert stage.buffer is small
    monkeypatch.setattr(streaming, "KEEP_STAGING_BYTES", small.nbytes - be.host_alignment - 1)
    stage.keep_small()
    assert stage.buffer is None
