"""``xpnet.lab``: the lab's names accept what the lab passes and give its values, in NumPy's dtype, on every backend."""

from __future__ import annotations

import re

import numpy as np
import pytest

from xpnet import backends, lab, model
from xpnet.validation import InputError

LAB_A1 = [0.54735762, 0.57932425, 0.61063923]
LAB_AB = [[0.54735762, 0.57932425, 0.61063923], [0.57199613, 0.61301418, 0.65248946],
          [0.5962827, 0.64565631, 0.6921095], [0.62010643, 0.67699586, 0.72908792]]


def _labs_own_sigmoid():
    """The lab's activation, written for NumPy; on other backends xpnet matches it by name."""

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    return sigmoid


def my_sig(z):
    """A caller's own NumPy activation, named like none of xpnet's: it runs on NumPy copies."""
    return 1 / (1 + np.exp(-z))


def _kw(backend):
    return {"backend": backend.name, "device": backend.device}


def _lab_network(dtype):
    """The lab's three layers (seeded) and 3 inputs, in ``dtype``, with the float64 NumPy answer."""
    p = model.init_params(seed=2, dtype="float64")
    wb = [a for layer in p.layers for a in layer]
    X = np.random.default_rng(2).random((3, 400))
    A = X
    for W, b in zip(wb[0::2], wb[1::2], strict=True):
        A = 1 / (1 + np.exp(-(A @ W + b)))
    return X.astype(dtype), [a.astype(dtype) for a in wb], A


def _raises(message):
    """pytest.raises for xpnet's InputError with exactly ``message``."""
    return pytest.raises(InputError, match=f"^{re.escape(message)}$")


#: Each sequential function with an input of the lab's shape.
SEQUENTIAL = [(lab.my_sequential, np.ones(400)), (lab.my_sequential_v, np.ones((2, 400))),
              (lab.my_predict, np.ones((2, 400)))]


def test_lab_cells_give_the_published_values_on_every_backend(backend):
    kw = _kw(backend)
    x, W, b = 0.1 * np.arange(1, 3), 0.1 * np.arange(1, 7).reshape(2, 3), 0.1 * np.arange(1, 4)
    for g in (lab.sigmoid, _labs_own_sigmoid(), my_sig):
        a = lab.my_dense(x, W, b, g, **kw)
        assert isinstance(a, np.ndarray) and a.shape == (3,)
        np.testing.assert_allclose(a, LAB_A1, rtol=1e-7)
        A = lab.my_dense_v(0.1 * np.arange(1, 9).reshape(4, 2), W, b.reshape(1, 3), g, **kw)
        assert isinstance(A, np.ndarray) and A.shape == (4, 3)
        np.testing.assert_allclose(A, LAB_AB, rtol=1e-7)


def test_lab_functions_accept_integer_arrays_and_compute_in_float64(backend):
    kw = _kw(backend)
    x, W, b = np.array([1, 2]), np.array([[1, -3, 0], [2, 4, -1]]), np.array([-1, -2, 0])
    expected = 1 / (1 + np.exp(-(x @ W + b)))
    for g in (lab.sigmoid, my_sig):
        a = lab.my_dense(x, W, b, g, **kw)
        A = lab.my_dense_v(x[None, :], W, b, g, **kw)
        assert a.dtype == A.dtype == np.float64
        np.testing.assert_allclose(a, expected, rtol=1e-12)
        np.testing.assert_allclose(A, expected[None, :], rtol=1e-12)


def test_float32_in_is_float32_out_on_every_backend(backend):
    kw = _kw(backend)
    X, wb, expected = _lab_network(np.float32)
    for g in (lab.sigmoid, my_sig):
        a = lab.my_dense(X[0], wb[0], wb[1], g, **kw)
        A = lab.my_dense_v(X, wb[0], wb[1].reshape(1, -1), g, **kw)
        assert a.dtype == A.dtype == np.float32
        np.testing.assert_allclose(A[0], a, rtol=1e-5)
    for fn, x, want in ((lab.my_sequential, X[0], expected[0]), (lab.my_sequential_v, X, expected),
                        (lab.my_predict, X, expected)):
        out = fn(x, *wb, **kw)
        assert out.dtype == np.float32, fn.__name__
        np.testing.assert_allclose(out, want, rtol=1e-5)


def test_the_result_dtype_is_numpys_promotion_unless_dtype_is_given():
    x, W, b = np.ones(2, np.float32), np.ones((2, 3), np.float32), np.ones(3, np.float32)
    assert lab.my_dense(x, W, b.astype(np.float64), lab.sigmoid).dtype == np.float64  # any float64 wins
    assert lab.my_dense(x, W, np.ones(3, np.int8), lab.sigmoid).dtype == np.float32  # as np.result_type
    assert lab.my_dense(x.astype(np.float16), W.astype(np.float16), b, lab.sigmoid).dtype == np.float32
    assert lab.my_dense(x, W, b, lab.sigmoid, dtype="float64").dtype == np.float64
    assert lab.my_dense_v(np.ones((2, 2)), W, b, lab.sigmoid, dtype=np.float32).dtype == np.float32
    assert lab.sigmoid(np.zeros(2, np.float32)).dtype == np.float32


def test_lab_sequential_loop_and_vectorised_agree_with_the_model(backend):
    kw = _kw(backend)
    X, wb, expected = _lab_network(np.float64)
    np.testing.assert_allclose(lab.my_sequential(X[0], *wb, **kw), expected[0], rtol=1e-12)
    np.testing.assert_allclose(lab.my_sequential_v(X, *wb, **kw), expected, rtol=1e-12)
    np.testing.assert_allclose(lab.my_predict(X, *wb, **kw), expected, rtol=1e-12)
    wb[1] = wb[1].reshape(1, -1)  # (1, j) biases as the lab's my_dense_v cells pass them
    np.testing.assert_allclose(lab.my_sequential_v(X, *wb, **kw), expected, rtol=1e-12)


def test_lab_sigmoid_is_numpy_in_numpy_out():
    s = lab.sigmoid(np.array([-1e4, 0.0, 1e4]))
    assert isinstance(s, np.ndarray)
    np.testing.assert_array_equal(s, [0.0, 0.5, 1.0])
    assert lab.sigmoid(0.0) == 0.5


def test_lab_rejects_bad_biases_and_non_numbers():
    with _raises("b must have shape (3,) or (1, 3) to match W (2, 3), got (2, 3)"):
        lab.my_dense_v(np.ones((1, 2)), np.ones((2, 3)), np.ones((2, 3)), lab.sigmoid)
    with _raises("a_in must hold real numbers, got dtype <U1"):
        lab.my_dense(np.array(["a", "b"]), np.ones((2, 3)), np.ones(3), lab.sigmoid)
    with pytest.raises(TypeError, match="g must be an activation function"):
        lab.my_dense(np.ones(2), np.ones((2, 3)), np.ones(3), "sigmoid")


def test_a_wrong_length_bias_is_xpnets_error_on_every_backend(backend):
    kw = _kw(backend)
    with _raises("b must have shape (3,) or (1, 3) to match W (2, 3), got (4,)"):
        lab.my_dense_v(np.ones((5, 2)), np.ones((2, 3)), np.ones(4), lab.sigmoid, **kw)
    with _raises("b must have shape (3,) or (1, 3) to match W (2, 3), got (1, 2)"):
        lab.my_dense(np.ones(2), np.ones((2, 3)), np.ones((1, 2)), my_sig, **kw)
    _, wb, _ = _lab_network(np.float64)
    wb[3] = np.ones(14)
    for fn, x in SEQUENTIAL:
        with _raises("b2 must have shape (15,) or (1, 15) to match W2 (25, 15), got (14,)"):
            fn(x, *wb, **kw)


BAD_DENSE = [  # (function, a_in or A_in, W, b, the message)
    (lab.my_dense, np.ones(3), np.ones((2, 3)), np.ones(3), "a_in must have shape (2,) to match W (2, 3), got (3,)"),
    (lab.my_dense, np.ones((1, 2)), np.ones((2, 3)), np.ones(3),
     "a_in must have shape (2,) to match W (2, 3), got (1, 2)"),
    (lab.my_dense, np.ones(2), np.ones(6), np.ones(3), "W must have shape (n, j), got (6,)"),
    (lab.my_dense_v, np.ones(2), np.ones((2, 3)), np.ones(3),
     "A_in must have shape (m, 2) to match W (2, 3), got (2,)"),
    (lab.my_dense_v, np.ones((4, 3)), np.ones((2, 3)), np.ones(3),
     "A_in must have shape (m, 2) to match W (2, 3), got (4, 3)"),
    (lab.my_dense_v, np.ones((4, 2)), np.ones((2, 3)), np.ones((3, 1)),
     "b must have shape (3,) or (1, 3) to match W (2, 3), got (3, 1)"),
]


@pytest.fixture
def no_backend(monkeypatch):
    """Fails a test that asks for a backend: the arguments must be checked first."""
    monkeypatch.setattr(backends, "get", lambda *a, **k: pytest.fail("a backend was asked for before the checks"))


@pytest.mark.parametrize(("fn", "a", "W", "b", "message"), BAD_DENSE, ids=lambda v: getattr(v, "__name__", None))
def test_every_dense_argument_is_checked_before_the_backend_is_touched(no_backend, fn, a, W, b, message):
    with _raises(message):
        fn(a, W, b, lab.sigmoid)


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (0, np.ones((400, 24)), "b1 must have shape (24,) or (1, 24) to match W1 (400, 24), got (25,)"),
        (2, np.ones((24, 15)), "W2 must have shape (25, j) to follow W1 (400, 25), got (24, 15)"),
        (4, np.ones((15, 1, 1)), "W3 must have shape (n, j), got (15, 1, 1)"),
        (5, np.ones(2), "b3 must have shape (1,) or (1, 1) to match W3 (15, 1), got (2,)"),
    ],
)
def test_the_sequential_chain_is_checked_before_the_backend_is_touched(no_backend, index, value, message):
    _, wb, _ = _lab_network(np.float64)
    wb[index] = value
    for fn, x in SEQUENTIAL:
        with _raises(message):
            fn(x, *wb)


def test_the_sequential_input_must_match_w1(no_backend):
    _, wb, _ = _lab_network(np.float64)
    with _raises("x must have shape (400,) to match W1 (400, 25), got (2, 400)"):
        lab.my_sequential(np.ones((2, 400)), *wb)
    with _raises("X must have shape (m, 400) to match W1 (400, 25), got (401,)"):
        lab.my_sequential_v(np.ones(401), *wb)
    with _raises("X must have shape (m, 400) to match W1 (400, 25), got (1, 401)"):
        lab.my_predict(np.ones(401), *wb)  # one example, as the lab's my_predict of one row


def test_load_data_reads_the_labs_folder_like_the_lab(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    y = np.concatenate([np.zeros(500), np.ones(500), rng.integers(2, 10, 4000)]).reshape(-1, 1)
    np.save(tmp_path / "data" / "X.npy", rng.random((5000, 400)))
    np.save(tmp_path / "data" / "y.npy", y)
    monkeypatch.chdir(tmp_path)
    X, y1 = lab.load_data()
    assert X.shape == (1000, 400) and y1.shape == (1000, 1)
    assert y1[:500].sum() == 0 and y1[500:].sum() == 500
    X2, _ = lab.load_data(tmp_path / "data")
    np.testing.assert_array_equal(X, X2)
