"""The lab's own names, on any backend.

The Keras lab (handwritten 0/1 digits) defines ``my_dense``, ``my_dense_v``,
``my_sequential``, ``my_sequential_v`` and ``my_predict`` in NumPy. Here they take what
the lab passes (NumPy arrays, integer arrays included, biases shaped (j,) or (1, j)),
compute on ``backend`` (NumPy unless asked otherwise, in float64 as the lab does), and
return NumPy arrays, so that the lab's cells and unit tests run unchanged:

    >>> from xpnet.lab import my_dense, sigmoid
    >>> my_dense(x, W, b, sigmoid, backend="jax")

The activation ``g`` is applied to the backend's arrays. xpnet's own activations (and,
on other backends than NumPy, any function named like one: the lab's ``sigmoid``) run as
xpnet's numerically stable versions written for every namespace.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.model import ACTIVATIONS, dense, dense_loop, forward_loop, forward_matmul
from xpnet.model import sigmoid as _sigmoid
from xpnet.validation import check_dtype_name

Activation = Callable[[Any], Any]


def load_data(path: str | os.PathLike = "data", rows: int | None = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The lab's ``load_data()``: ``X`` (1000, 400) and ``y`` (1000, 1) from ``data/X.npy`` and ``data/y.npy``.

    ``path`` is the folder holding them (relative to the working directory, as in the lab).
    """
    from xpnet.data import load_lab

    digits = load_lab(path, rows=rows)
    return digits.X, digits.y


def sigmoid(z: Any, *, backend: str = "numpy", device: str | None = None) -> Any:
    """The stable sigmoid; NumPy in, NumPy out (or a backend array in, the same kind out)."""
    if isinstance(z, np.ndarray | float | int | np.generic):
        if np.asarray(z).dtype.kind not in "biuf":
            raise ValueError(f"sigmoid needs real numbers, got dtype {np.asarray(z).dtype}")
        be = backends.get(backend, device)
        return be.to_numpy(_sigmoid(be.asarray(z, _dtype_of(z)), be.xp))
    return _sigmoid(z)


def my_dense(a_in: Any, W: Any, b: Any, g: Activation, *, backend: str = "numpy",
             device: str | None = None, dtype: str = "float64") -> np.ndarray:
    """One example through a dense layer, unit by unit: (n,), (n, j), (j,) -> (j,)."""
    be = backends.get(backend, device)
    a, W_, b_ = _put(be, dtype, a_in, W, _bias(b))
    _check_layer(tuple(a.shape), tuple(W_.shape), tuple(b_.shape))
    return be.to_numpy(dense_loop(a, W_, b_, _activation(g, be), xp=be.xp))


def my_dense_v(A_in: Any, W: Any, b: Any, g: Activation, *, backend: str = "numpy",
               device: str | None = None, dtype: str = "float64") -> np.ndarray:
    """A batch through a dense layer in one matmul: (m, n), (n, j), (j,) or (1, j) -> (m, j)."""
    be = backends.get(backend, device)
    A, W_, b_ = _put(be, dtype, A_in, W, _bias(b))
    return be.to_numpy(dense(A, W_, b_, _activation(g, be), xp=be.xp))


def my_sequential(x: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, *,
                  backend: str = "numpy", device: str | None = None, dtype: str = "float64") -> np.ndarray:
    """One example through the three sigmoid layers with ``my_dense``: (400,) -> (1,)."""
    return _forward(forward_loop, x, (W1, b1, W2, b2, W3, b3), backend, device, dtype)


def my_sequential_v(X: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, *,
                    backend: str = "numpy", device: str | None = None, dtype: str = "float64") -> np.ndarray:
    """A batch through the three sigmoid layers with ``my_dense_v``: (m, 400) -> (m, 1)."""
    return _forward(forward_matmul, X, (W1, b1, W2, b2, W3, b3), backend, device, dtype)


def my_predict(X: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, *,
               backend: str = "numpy", device: str | None = None, dtype: str = "float64") -> np.ndarray:
    """The lab's ``my_predict``: ``my_sequential`` on each example of X, probabilities (m, 1)."""
    return _forward(forward_loop, np.atleast_2d(X), (W1, b1, W2, b2, W3, b3), backend, device, dtype)


def _forward(fn: Callable, X: Any, wb: tuple[Any, ...], backend: str, device: str | None, dtype: str) -> np.ndarray:
    be = backends.get(backend, device)
    arrays = _put(be, dtype, X, *[_bias(a) if i % 2 else a for i, a in enumerate(wb)])
    X_, rest = arrays[0], arrays[1:]
    layers = tuple(zip(rest[0::2], rest[1::2], strict=True))
    return be.to_numpy(fn(layers, X_, ("sigmoid",) * len(layers), be.xp))


def _bias(b: Any) -> np.ndarray:
    """Biases as (j,): the lab passes (j,) and, to my_dense_v, (1, j)."""
    b = np.asarray(b)
    if b.ndim == 2 and b.shape[0] == 1:
        return b.reshape(-1)
    if b.ndim != 1:
        raise ValueError(f"b must have shape (j,) or (1, j), got {b.shape}")
    return b


def _check_layer(a_shape: tuple[int, ...], W_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """my_dense's shapes: a_in (n,), W (n, j), b (j,); the message names the array that does not fit."""
    if len(W_shape) != 2:
        raise ValueError(f"W must have shape (n, j), got {W_shape}")
    if a_shape != (W_shape[0],):
        raise ValueError(f"a_in must have shape ({W_shape[0]},) to match W {W_shape}, got {a_shape}")
    if b_shape != (W_shape[1],):
        raise ValueError(f"b must have shape ({W_shape[1]},) to match W {W_shape}, got {b_shape}")


def _put(be: backends.Backend, dtype: str, *arrays: Any) -> list[Any]:
    check_dtype_name(dtype)
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind not in "biuf":
            raise ValueError(f"expected real numbers, got an array of dtype {a.dtype}")
        out.append(be.asarray(a, dtype))
    return out


def _activation(g: Activation, be: backends.Backend) -> Activation:
    if be.name == "numpy" and g not in (sigmoid, *ACTIVATIONS.values()):
        return g  # the lab's own NumPy function, exactly as the lab calls it
    name = getattr(g, "__name__", None)
    if g is sigmoid or name in ACTIVATIONS:
        act = ACTIVATIONS["sigmoid" if g is sigmoid else name]
        return lambda z: act(z, be.xp)
    return g


def _dtype_of(z: Any) -> str:
    return "float32" if np.asarray(z).dtype == np.float32 else "float64"
