"""The lab's own names, on any backend.

The Keras lab (handwritten 0/1 digits) defines ``my_dense``, ``my_dense_v``,
``my_sequential``, ``my_sequential_v`` and ``my_predict`` in NumPy. Here they take what
the lab passes (NumPy arrays, integer arrays included, biases shaped (j,) or (1, j)),
compute on ``backend`` (NumPy unless asked otherwise) and return NumPy arrays, so that
the lab's cells and unit tests run unchanged:

    >>> from xpnet.lab import my_dense, sigmoid
    >>> my_dense(x, W, b, sigmoid, backend="jax")

**Dtype.** The result has the dtype NumPy would give: ``np.result_type`` of the inputs,
so float32 arrays give float32 (and run at float32 speed), float64 or any mix with it
gives float64, and integer or boolean inputs, as the lab passes them, compute in float64.
float16, which the backends do not compute in, is widened to float32. ``dtype=`` chooses
another ("float32", "float64", "bfloat16" where the backend has it).

**Checks.** Every argument is checked before the backend is touched: real numbers, and
shapes that chain (a_in (n,) or A_in (m, n), W (n, j), b (j,) or (1, j); W1, W2, W3 in
sequence). A misfit raises :class:`xpnet.InputError` (a ``ValueError``) naming the argument,
the expected and the actual shape.

**Activations.** ``g`` is applied to the backend's arrays as follows. xpnet's own
activations (:func:`sigmoid` here, ``xpnet.model.ACTIVATIONS``) run on the device as
xpnet's numerically stable versions. On NumPy any other function is the caller's and is
called as it is. On other backends, a function named like one of xpnet's activations
(the lab's own ``sigmoid``) runs as xpnet's version on the device, and any other function
(``def my_sig(z): return 1 / (1 + np.exp(-z))``) is taken to be NumPy code: it is
computed on NumPy copies of the pre-activations and its result is copied back in the
computation's dtype. That is correct everywhere but costs two copies per call (one per
unit in ``my_dense``), slow on a GPU; for speed, use xpnet's activations or write the
function with ``xp`` and call ``xpnet.model.dense`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.model import ACTIVATIONS, dense, dense_loop, forward_loop, forward_matmul
from xpnet.model import sigmoid as _sigmoid
from xpnet.validation import InputError, InputTypeError, check_dtype_name, check_real_dtype, host_array

Activation = Callable[[Any], Any]
#: The sequential functions' layer arguments, in order: what error messages call them.
_LAYER_ARGS = ("W1", "b1", "W2", "b2", "W3", "b3")


def load_data(path: str | os.PathLike = "data", rows: int | None = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The lab's ``load_data()``: ``X`` (1000, 400) and ``y`` (1000, 1) from ``data/X.npy`` and ``data/y.npy``.

    ``path`` is the folder holding them (relative to the working directory, as in the lab).
    """
    from xpnet.data import load_lab

    digits = load_lab(path, rows=rows)
    return digits.X, digits.y


def sigmoid(z: Any, *, backend: str = "numpy", device: str | None = None) -> Any:
    """The stable sigmoid; NumPy in, NumPy out in NumPy's dtype (or a backend array in, the same kind out)."""
    if isinstance(z, np.ndarray | float | int | np.generic):
        (z,) = _host(z=z)
        be = backends.get(backend, device)
        return be.to_numpy(_sigmoid(be.asarray(z, _result_dtype(None, z)), be.xp))
    return _sigmoid(z)


def my_dense(a_in: Any, W: Any, b: Any, g: Activation, *, backend: str = "numpy",
             device: str | None = None, dtype: str | None = None) -> np.ndarray:
    """One example through a dense layer, unit by unit: a_in (n,), W (n, j), b (j,) or (1, j) -> (j,)."""
    a, W_, b_ = _host(a_in=a_in, W=W, b=b)
    b_ = _check_layer(W_, "W", b_, "b")
    _check_input(a, "a_in", W_, "W", rows=False)
    name = _result_dtype(dtype, a, W_, b_)
    be = backends.get(backend, device)
    a, W_, b_ = (be.asarray(x, name) for x in (a, W_, b_))
    return be.to_numpy(dense_loop(a, W_, b_, _activation(g, be, name), xp=be.xp))


def my_dense_v(A_in: Any, W: Any, b: Any, g: Activation, *, backend: str = "numpy",
               device: str | None = None, dtype: str | None = None) -> np.ndarray:
    """A batch through a dense layer in one matmul: A_in (m, n), W (n, j), b (j,) or (1, j) -> (m, j)."""
    A, W_, b_ = _host(A_in=A_in, W=W, b=b)
    b_ = _check_layer(W_, "W", b_, "b")
    _check_input(A, "A_in", W_, "W", rows=True)
    name = _result_dtype(dtype, A, W_, b_)
    be = backends.get(backend, device)
    A, W_, b_ = (be.asarray(x, name) for x in (A, W_, b_))
    return be.to_numpy(dense(A, W_, b_, _activation(g, be, name), xp=be.xp))


def my_sequential(x: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, *,
                  backend: str = "numpy", device: str | None = None, dtype: str | None = None) -> np.ndarray:
    """One example through the three sigmoid layers with ``my_dense``: x (n,) -> (j3,), (1,) in the lab."""
    return _forward(forward_loop, "x", x, (W1, b1, W2, b2, W3, b3), rows=False,
                    backend=backend, device=device, dtype=dtype)


def my_sequential_v(X: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, *,
                    backend: str = "numpy", device: str | None = None, dtype: str | None = None) -> np.ndarray:
    """A batch through the three sigmoid layers with ``my_dense_v``: X (m, n) -> (m, j3), (m, 1) in the lab."""
    return _forward(forward_matmul, "X", X, (W1, b1, W2, b2, W3, b3), rows=True,
                    backend=backend, device=device, dtype=dtype)


def my_predict(X: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any, b3: Any, *,
               backend: str = "numpy", device: str | None = None, dtype: str | None = None) -> np.ndarray:
    """The lab's ``my_predict``: ``my_sequential`` on each example of X (m, n), or of one example (n,): (m, 1)."""
    (X_,) = _host(X=X)
    return _forward(forward_loop, "X", np.atleast_2d(X_), (W1, b1, W2, b2, W3, b3), rows=True,
                    backend=backend, device=device, dtype=dtype)


def _forward(fn: Callable, x_name: str, X: Any, wb: Sequence[Any], *, rows: bool,
             backend: str, device: str | None, dtype: str | None) -> np.ndarray:
    """Check X and the W1, b1, W2, b2, W3, b3 chain on the host, then run ``fn`` with sigmoid layers on ``backend``."""
    X_, *host = _host(**{x_name: X}, **dict(zip(_LAYER_ARGS, wb, strict=True)))
    Ws, bs = host[0::2], host[1::2]
    bs = [_check_layer(W, f"W{i}", b, f"b{i}") for i, (W, b) in enumerate(zip(Ws, bs, strict=True), start=1)]
    _check_chain(Ws)
    _check_input(X_, x_name, Ws[0], "W1", rows=rows)
    name = _result_dtype(dtype, X_, *Ws, *bs)
    be = backends.get(backend, device)
    layers = tuple((be.asarray(W, name), be.asarray(b, name)) for W, b in zip(Ws, bs, strict=True))
    return be.to_numpy(fn(layers, be.asarray(X_, name), ("sigmoid",) * len(layers), be.xp))


# -- checks on the host, before the backend is touched -------------------------------------------


def _host(**arrays: Any) -> list[np.ndarray]:
    """Each argument as a NumPy array of real numbers (InputError naming the argument otherwise)."""
    out = []
    for name, x in arrays.items():
        a = host_array(x, name)
        check_real_dtype(a.dtype, name)
        out.append(a)
    return out


def _check_input(a: np.ndarray, a_name: str, W: np.ndarray, W_name: str, *, rows: bool) -> None:
    """The input's shape: (n,) for one example, (m, n) for a batch (``rows``), n being W's first dimension."""
    n = W.shape[0]
    fits = a.ndim == 2 and a.shape[1] == n if rows else a.shape == (n,)
    if not fits:
        expected = f"(m, {n})" if rows else f"({n},)"
        raise InputError(f"{a_name} must have shape {expected} to match {W_name} {W.shape}, got {a.shape}")


def _check_layer(W: np.ndarray, W_name: str, b: np.ndarray, b_name: str) -> np.ndarray:
    """W must be (n, j) and b (j,) or (1, j); returns b as (j,), the shape the model takes."""
    if W.ndim != 2:
        raise InputError(f"{W_name} must have shape (n, j), got {W.shape}")
    j = W.shape[1]
    if b.shape not in ((j,), (1, j)):
        raise InputError(f"{b_name} must have shape ({j},) or (1, {j}) to match {W_name} {W.shape}, got {b.shape}")
    return b.reshape(j)


def _check_chain(Ws: Sequence[np.ndarray]) -> None:
    """Each layer's W takes the previous layer's outputs: W{i+1} is (j_i, ...)."""
    for i in range(1, len(Ws)):
        prev, W = Ws[i - 1], Ws[i]
        if W.shape[0] != prev.shape[1]:
            raise InputError(
                f"W{i + 1} must have shape ({prev.shape[1]}, j) to follow W{i} {prev.shape}, got {W.shape}"
            )


def _result_dtype(dtype: Any, *arrays: np.ndarray) -> str:
    """The dtype to compute in: ``dtype`` when given, else NumPy's promotion of the inputs.

    Integers and booleans become float64 (what NumPy's ``exp`` makes of them); float16 becomes
    float32, the narrowest float every backend computes in.
    """
    if dtype is not None:
        return check_dtype_name(dtype)
    promoted = np.result_type(*arrays)
    if promoted.kind in "biu":
        return "float64"
    if promoted == np.float16:
        return "float32"
    return check_dtype_name(promoted)


# -- activations ---------------------------------------------------------------------------------


def _activation(g: Activation, be: backends.Backend, dtype: str) -> Activation:
    """``g`` as a function of the backend's arrays (the rules are in the module docstring)."""
    if not callable(g):
        raise InputTypeError(f"g must be an activation function (e.g. xpnet.lab.sigmoid), got {g!r}")
    # On NumPy the caller's function runs as the lab runs it; elsewhere a lab function named like
    # xpnet's runs as xpnet's, on the device, instead of on NumPy copies.
    act = _xpnet_activation(g, by_name=not be.owns(np.empty(0)))
    if act is not None:
        return lambda z: act(z, be.xp)
    return lambda z: be.asarray(g(be.to_numpy(z)), dtype)


def _xpnet_activation(g: Activation, *, by_name: bool) -> Callable[..., Any] | None:
    """xpnet's activation that ``g`` is (or, ``by_name``, is named like), None for the caller's own function."""
    if g is sigmoid:
        return ACTIVATIONS["sigmoid"]
    if g in ACTIVATIONS.values():
        return g
    name = getattr(g, "__name__", None)
    return ACTIVATIONS.get(name) if by_name and isinstance(name, str) else None
