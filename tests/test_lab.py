"""``xpnet.lab``: the lab's names accept what the lab passes and give its values on every backend."""

from __future__ import annotations

import numpy as np
import pytest

from xpnet import lab, model

LAB_A1 = [0.54735762, 0.57932425, 0.61063923]
LAB_AB = [[0.54735762, 0.57932425, 0.61063923], [0.57199613, 0.61301418, 0.65248946],
          [0.5962827, 0.64565631, 0.6921095], [0.62010643, 0.67699586, 0.72908792]]


def _labs_own_sigmoid():
    """The lab's activation, written for NumPy; on other backends xpnet matches it by name."""

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    return sigmoid


def test_lab_cells_give_the_published_values_on_every_backend(backend):
    kw = {"backend": backend.name, "device": backend.device}
    x, W, b = 0.1 * np.arange(1, 3), 0.1 * np.arange(1, 7).reshape(2, 3), 0.1 * np.arange(1, 4)
    for g in (lab.sigmoid, _labs_own_sigmoid()):
        a = lab.my_dense(x, W, b, g, **kw)
        assert isinstance(a, np.ndarray) and a.shape == (3,)
        np.testing.assert_allclose(a, LAB_A1, rtol=1e-7)
        A = lab.my_dense_v(0.1 * np.arange(1, 9).reshape(4, 2), W, b.reshape(1, 3), g, **kw)
        assert isinstance(A, np.ndarray) and A.shape == (4, 3)
        np.testing.assert_allclose(A, LAB_AB, rtol=1e-7)


def test_lab_functions_accept_integer_arrays(backend):
    kw = {"backend": backend.name, "device": backend.device}
    x, W, b = np.array([1, 2]), np.array([[1, -3, 0], [2, 4, -1]]), np.array([-1, -2, 0])
    expected = 1 / (1 + np.exp(-(x @ W + b)))
    np.testing.assert_allclose(lab.my_dense(x, W, b, lab.sigmoid, **kw), expected, rtol=1e-12)
    np.testing.assert_allclose(lab.my_dense_v(x[None, :], W, b, lab.sigmoid, **kw), expected[None, :], rtol=1e-12)


def test_lab_sequential_loop_and_vectorised_agree_with_the_model(backend):
    kw = {"backend": backend.name, "device": backend.device}
    p = model.init_params(seed=2, dtype="float64")
    wb = [a for layer in p.layers for a in layer]
    X = np.random.default_rng(2).random((3, 400))
    expected = (1 / (1 + np.exp(-(1 / (1 + np.exp(-(1 / (1 + np.exp(-(X @ wb[0] + wb[1]))) @ wb[2] + wb[3])))
                                  @ wb[4] + wb[5]))))
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
    with pytest.raises(ValueError, match=r"b must have shape \(j,\) or \(1, j\), got \(2, 3\)"):
        lab.my_dense_v(np.ones((1, 2)), np.ones((2, 3)), np.ones((2, 3)), lab.sigmoid)
    with pytest.raises(ValueError, match="expected real numbers, got an array of dtype <U1"):
        lab.my_dense(np.array(["a", "b"]), np.ones((2, 3)), np.ones(3), lab.sigmoid)


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
