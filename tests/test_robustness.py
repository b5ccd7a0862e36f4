"""Bad input gets a clear error at every public entry point; good input gets the right answer.

1. A table of hand-picked bad inputs per entry point, each asserting the error type and a
   message naming the problem.
2. Property tests (hypothesis, with the Array API strategies over NumPy and
   array-api-strict) driving ``Model.predict_proba`` and ``xpnet.model.sigmoid`` with random
   shapes, dtypes and values on every available backend: the right answer or the
   documented error, never anything else.
3. Numerics through the whole network: all-zero and all-identical inputs, up to +-1e4,
   give no warning, inf or NaN on any backend, float32 and float64.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import array_api_strict
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.extra.array_api import make_strategies_namespace

import xpnet
from xpnet import backends, data, lab, model, parity
from xpnet.backends import BackendUnavailable
from xpnet.model import FileFormatError
from xpnet.validation import InputError, InputTypeError, check_labels

N = 400
NAMESPACES = {"numpy": np, "array_api_strict": array_api_strict}
XPS = {name: make_strategies_namespace(xp) for name, xp in NAMESPACES.items()}


# -- 1. the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """One bad input: ``call(ctx)`` must raise ``error`` with a message matching ``match``."""

    entry: str
    name: str
    call: Callable[[SimpleNamespace], Any]
    error: type[BaseException] | tuple[type[BaseException], ...]
    match: str


def _nan_at(shape: tuple[int, ...], index: tuple[int, ...], value: float = np.nan, dtype: Any = np.float32):
    X = np.zeros(shape, dtype)
    X[index] = value
    return X


def _weights(c: SimpleNamespace, **changes: Any) -> Path:
    """A copy of a good weights file with some arrays replaced (None removes one)."""
    arrays = dict(np.load(c.good))
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = c.tmp / f"w{len(list(c.tmp.iterdir()))}.npz"
    np.savez(path, **arrays)
    return path


def _params_with(W2: np.ndarray) -> model.Params:
    p = model.init_params()
    return model.Params(p.network, (p.weights[0], W2, p.weights[2]), p.biases)


def _absent_device() -> tuple[str, str]:
    """A (backend, device) whose framework is installed but whose device is not here."""
    for name, device in backends.pairs():
        st_ = backends.status(name, device)
        if not st_.available and st_.version is not None:
            return name, device
    pytest.skip("every device of every installed framework is present here")


def _missing_framework() -> str:
    for name in backends.names():
        if backends.backend_class(name).installed_version() is None:
            return name
    pytest.skip("every optional framework is installed here")


SHAPE = r"X must have shape \(m, 400\) or \(400,\), got "

# X cases shared by predict_proba, predict (and, for shapes and dtypes, forward): (name, X, error, match)
X_CASES: list[tuple[str, Callable[[SimpleNamespace], Any], type[BaseException], str]] = [
    ("images not unrolled", lambda c: np.zeros((3, 20, 20)), InputError, SHAPE + r"\(3, 20, 20\); unroll 20x20"),
    ("one 20x20 image", lambda c: np.zeros((20, 20)), InputError, SHAPE + r"\(20, 20\); unroll"),
    ("401 columns", lambda c: np.zeros((5, 401)), InputError, SHAPE + r"\(5, 401\)"),
    ("column vector", lambda c: np.zeros((400, 1)), InputError, SHAPE + r"\(400, 1\)"),
    ("scalar", lambda c: 3.0, InputError, SHAPE + r"\(\)"),
    ("3-D batch", lambda c: np.zeros((2, 3, 400)), InputError, SHAPE + r"\(2, 3, 400\)"),
    ("complex", lambda c: np.zeros((2, 400), complex), InputError, "must hold real numbers, got dtype complex128"),
    ("object", lambda c: np.array([None] * 400), InputError, "must hold real numbers, got dtype object"),
    ("None", lambda c: None, InputError, "must hold real numbers, got dtype object"),
    ("strings", lambda c: np.array(["0.5"] * 400), InputError, "must hold real numbers, got dtype <U3"),
    ("datetimes", lambda c: np.zeros((1, 400), "datetime64[s]"), InputError,
     r"must hold real numbers, got dtype datetime64\[s\]"),
    ("ragged list", lambda c: [[0.0] * 400, [0.0] * 399], InputError,
     "X cannot be read as one numeric array .*inhomogeneous"),
    ("strict complex on its own backend",
     lambda c: c.strict.backend.xp.zeros((2, 400), dtype=array_api_strict.complex64), InputError,
     "must hold real numbers, got dtype complex64"),
    ("strict array of the wrong shape", lambda c: c.strict.backend.xp.zeros((2, 399)), InputError,
     SHAPE + r"\(2, 399\)"),
]
X_VALUE_CASES: list[tuple[str, Callable[[SimpleNamespace], Any], type[BaseException], str]] = [
    ("NaN", lambda c: _nan_at((6, 400), (3, 7)), InputError, r"X has a non-finite value \(nan\) at index \(3, 7\)"),
    ("-inf", lambda c: _nan_at((2, 400), (1, 399), -np.inf), InputError,
     r"non-finite value \(-inf\) at index \(1, 399\)"),
    ("NaN in one example", lambda c: _nan_at((400,), (5,)), InputError, r"non-finite value \(nan\) at index \(5,\)"),
    ("inf in float16", lambda c: _nan_at((1, 400), (0, 9), np.inf, np.float16), InputError,
     r"non-finite value \(inf\) at index \(0, 9\)"),
    ("NaN in a later memmap chunk", lambda c: c.memmap_with_nan, InputError,
     r"non-finite value \(nan\) at index \(150, 3\)"),
    ("NaN on the strict backend", lambda c: c.strict.asarray(_nan_at((4, 400), (2, 0))), InputError,
     r"non-finite value \(nan\) at index \(2, 0\)"),
    ("1e300 into float32", lambda c: _nan_at((2, 400), (1, 2), 1e300, np.float64), InputError,
     r"X has a value too large for float32 \(1e\+300\) at index \(1, 2\)"),
    ("3e38 overflows the first layer", lambda c: _overflowing_row(c.m), InputError,
     r"too large for this network in float32 \(3e\+38\) at index \(0, \d+\): beyond \+-.* overflow"),
    ("a tensor that requires grad", lambda c: _torch_tensor_with_grad(), InputError,
     "X cannot be read as one numeric array .*requires grad"),
]


def _overflowing_row(m: xpnet.Model) -> np.ndarray:
    """One row whose first unit's sum overflows float32: 3e38 at every pixel with a positive weight into it.

    (A value beyond the bound that overflows nothing is scored: the scan-free path refuses what overflows.)"""
    W = np.asarray(m.params.layers[0][0])
    return np.where(W[:, 0] > 0, np.float32(3e38), np.float32(0))[None, :]


def _torch_tensor_with_grad() -> Any:
    torch = pytest.importorskip("torch")
    return torch.zeros((2, 400), requires_grad=True)


def _x_entry_cases() -> list[Bad]:
    cases = []
    calls = {
        "Model.predict_proba": lambda c, X: c.m.predict_proba(X, batch_size=64),
        "Model.predict": lambda c, X: c.m.predict(X, batch_size=64),
        "Model.forward": lambda c, X: c.m.forward(X),
    }
    for entry, call in calls.items():
        for name, make, error, match in X_CASES + (X_VALUE_CASES if entry != "Model.forward" else []):
            strict = name.startswith("strict") or "strict backend" in name
            cases.append(Bad(entry, name, _on(call, make, strict), error, match))
    return cases


def _on(call: Callable, make: Callable, strict: bool) -> Callable[[SimpleNamespace], Any]:
    """``call`` on the numpy model, or on the array-api-strict model for that backend's own arrays."""
    def run(c: SimpleNamespace) -> Any:
        target = SimpleNamespace(**{**vars(c), "m": c.strict}) if strict else c
        return call(target, make(c))
    return run


X2 = np.zeros((2, N), np.float32)

TABLE: list[Bad] = [
    *_x_entry_cases(),
    # Model.predict_proba / predict / forward: the other arguments
    Bad("Model.predict_proba", "unknown variant", lambda c: c.m.predict_proba(X2, "fast"), InputError,
        "unknown variant 'fast'; known variants: loop, matmul, jit"),
    Bad("Model.predict_proba", "variant None", lambda c: c.m.predict_proba(X2, None), InputError,
        "unknown variant None; known variants"),
    Bad("Model.predict_proba", "batch_size 0", lambda c: c.m.predict_proba(X2, batch_size=0), InputError,
        "batch_size must be a positive whole number or None, got 0"),
    Bad("Model.predict_proba", "batch_size -3", lambda c: c.m.predict_proba(X2, batch_size=-3), InputError,
        "batch_size must be a positive whole number or None, got -3"),
    Bad("Model.predict_proba", "batch_size 2.5", lambda c: c.m.predict_proba(X2, batch_size=2.5), InputTypeError,
        "batch_size must be a positive whole number or None, got 2.5"),
    Bad("Model.predict_proba", "batch_size '8'", lambda c: c.m.predict_proba(X2, batch_size="8"), InputTypeError,
        "got '8'"),
    Bad("Model.predict_proba", "batch_size True", lambda c: c.m.predict_proba(X2, batch_size=True), InputTypeError,
        "got True"),
    Bad("Model.predict", "threshold NaN", lambda c: c.m.predict(X2, threshold=float("nan")), InputError,
        "threshold must be a number between 0 and 1, got nan"),
    Bad("Model.predict", "threshold 1.5", lambda c: c.m.predict(X2, threshold=1.5), InputError,
        "threshold must be a number between 0 and 1, got 1.5"),
    Bad("Model.predict", "threshold -0.1", lambda c: c.m.predict(X2, threshold=-0.1), InputError, "got -0.1"),
    Bad("Model.predict", "threshold '0.5'", lambda c: c.m.predict(X2, threshold="0.5"), InputTypeError, "got '0.5'"),
    Bad("Model.predict", "batch_size 0", lambda c: c.m.predict(X2, batch_size=0), InputError, "batch_size must be"),
    Bad("Model.forward", "unknown variant", lambda c: c.m.forward(X2, "jax"), InputError, "unknown variant 'jax'"),
    Bad("Model.forward", "batch_size 0", lambda c: c.m.forward(X2, batch_size=0), InputError, "batch_size must be"),
    Bad("Model.forward_fn", "unknown variant", lambda c: c.m.forward_fn("Loop"), InputError, "unknown variant 'Loop'"),
    Bad("Model.asarray", "401 columns", lambda c: c.m.asarray(np.zeros((1, 401))), InputError, SHAPE + r"\(1, 401\)"),
    # xpnet.Model(...)
    Bad("xpnet.Model", "a path as params", lambda c: xpnet.Model("weights.npz"), InputTypeError,
        r"params must be xpnet Params \(from xpnet.init_params or xpnet.load\), got str; read a weights file with "
        r"xpnet.load\(path\)"),
    Bad("xpnet.Model", "an array as params", lambda c: xpnet.Model(np.zeros(3)), InputTypeError, "got ndarray"),
    Bad("xpnet.Model", "unknown backend", lambda c: xpnet.Model(backend="mxnet"), ValueError,
        "unknown backend 'mxnet'; known backends: numpy, jax, tensorflow, torch, cupy, array_api_strict"),
    Bad("xpnet.Model", "backend 3", lambda c: xpnet.Model(backend=3), InputTypeError,
        "backend must be a backend name .* or a Backend, got 3"),
    Bad("xpnet.Model", "unknown device", lambda c: xpnet.Model(backend="numpy", device="tpu"), ValueError,
        "unknown device 'tpu' for backend 'numpy'; known devices: cpu"),
    Bad("xpnet.Model", "device 0", lambda c: xpnet.Model(device=0), InputTypeError,
        "device must be a device name such as 'cpu' or 'gpu', or None, got 0"),
    Bad("xpnet.Model", "absent device", lambda c: xpnet.Model(backend=_absent_device()[0], device=_absent_device()[1]),
        BackendUnavailable, r"on (gpu|cuda): "),
    Bad("xpnet.Model", "framework not installed", lambda c: xpnet.Model(backend=_missing_framework()),
        BackendUnavailable, r"is not installed .*; install it with: pip install \"xpnet\[\w+\]\""),
    Bad("xpnet.Model", "dtype float16", lambda c: xpnet.Model(dtype="float16"), InputError,
        "unknown dtype 'float16'; known dtypes: float32, float64, bfloat16"),
    Bad("xpnet.Model", "dtype int32", lambda c: xpnet.Model(dtype="int32"), InputError, "unknown dtype 'int32'"),
    Bad("xpnet.Model", "dtype None", lambda c: xpnet.Model(dtype=None), InputError, "unknown dtype None"),
    Bad("xpnet.Model", "dtype complex64", lambda c: xpnet.Model(dtype=np.complex64), InputError, "unknown dtype"),
    Bad("xpnet.Model", "bfloat16 where the backend has none", lambda c: xpnet.Model(backend="numpy", dtype="bfloat16"),
        BackendUnavailable, "numpy on cpu: bfloat16 is not supported"),
    Bad("xpnet.Model", "NaN in the weights", lambda c: xpnet.Model(_params_with(_nan_at((25, 15), (3, 4)))),
        InputError, r"params W2 has a non-finite value \(nan\) at index \(3, 4\)"),
    Bad("xpnet.Model", "complex weights", lambda c: xpnet.Model(_params_with(np.zeros((25, 15), complex))),
        InputError, "params W2 must hold real numbers, got dtype complex128"),
    # xpnet.backends.get
    Bad("backends.get", "unknown backend", lambda c: backends.get("mxnet"), ValueError, "unknown backend 'mxnet'"),
    Bad("backends.get", "unknown device", lambda c: backends.get("jax", "tpu"), ValueError,
        "unknown device 'tpu' for backend 'jax'; known devices: cpu, gpu"),
    Bad("backends.get", "device 5", lambda c: backends.get("numpy", 5), TypeError,
        r"device must be a device name \(cpu\) or None, got 5"),
    Bad("backends.get", "absent device", lambda c: backends.get(*_absent_device()), BackendUnavailable, " on "),
    Bad("backends.get", "framework not installed", lambda c: backends.get(_missing_framework()), BackendUnavailable,
        r"pip install \"xpnet\[\w+\]\""),
    Bad("backends.available", "unknown name", lambda c: backends.available(["numpy", "mxnet"]), ValueError,
        "unknown backend 'mxnet'"),
    # xpnet.model.load (the cases of tests/test_model.py are not repeated)
    Bad("model.load", "path None", lambda c: model.load(None), TypeError,
        r"path must be a file name \(str or os.PathLike\), got NoneType"),
    Bad("model.load", "path 123", lambda c: model.load(123), TypeError, "path must be a file name .* got int"),
    Bad("model.load", "empty file", lambda c: model.load(c.empty), FileFormatError, r"no zip header; 0 bytes read"),
    Bad("model.load", "a .npy, not a .npz", lambda c: model.load(c.npy), FileFormatError, "no zip header"),
    Bad("model.load", "a zip of text", lambda c: model.load(c.text_zip), FileFormatError,
        "its member 'readme.txt' is not a .npy array"),
    Bad("model.load", "corrupted compressed member", lambda c: model.load(c.corrupt_compressed), FileFormatError,
        r"not a valid .npz file \(truncated or corrupted"),
    Bad("model.load", "header declaring 4 PB", lambda c: model.load(c.huge_header), FileFormatError,
        r"not a valid .npz file \(truncated or corrupted: MemoryError"),
    Bad("model.load", "a broken symlink", lambda c: model.load(c.dangling), FileNotFoundError, "no such file"),
    Bad("model.load", "format version 3", lambda c: model.load(_weights(c, format_version=np.asarray(3))),
        FileFormatError, "weights file format 3, this xpnet reads 1, 2"),
    Bad("model.load", "unknown activation", lambda c: model.load(
        _weights(c, activations=np.asarray(["sigmoid", "softplus", "sigmoid"]))), FileFormatError,
        "unknown activation 'softplus'; known activations: sigmoid, linear, relu, softmax"),
    Bad("model.load", "float16 weights", lambda c: model.load(_weights(c, W1=np.zeros((400, 25), np.float16))),
        FileFormatError, "W1 has dtype float16, expected float32 or float64"),
    Bad("model.load", "inf bias", lambda c: model.load(_weights(c, b1=np.full(25, np.inf, np.float32))),
        FileFormatError, r"b1 has a non-finite value at index \(0,\)"),
    Bad("model.load", "a W4 without b4", lambda c: model.load(_weights(c, W4=np.zeros((1, 1), np.float32))),
        FileFormatError, r"unexpected contents \(missing \['b4'\]"),
    Bad("model.load", "format version a string", lambda c: model.load(_weights(c, format_version=np.asarray("one"))),
        FileFormatError, "format_version"),
    Bad("model.load", "format version 2-D", lambda c: model.load(_weights(c, format_version=np.zeros((2, 2)))),
        FileFormatError, "format_version"),
    Bad("model.load", "W1 1-D", lambda c: model.load(_weights(c, W1=np.zeros(400, np.float32))), FileFormatError,
        "W1 must have shape"),
    Bad("model.load", "two activations for three layers", lambda c: model.load(
        _weights(c, activations=np.asarray(["sigmoid", "sigmoid"]))), FileFormatError, "activations"),
    Bad("model.load", "no weights at all", lambda c: model.load(
        _weights(c, W1=None, W2=None, W3=None, b1=None, b2=None, b3=None)), FileFormatError, "no layers|W1"),
    Bad("model.load", "network of the wrong type", lambda c: model.load(c.good, network="400-25-15-1"), TypeError,
        "network"),
    # xpnet.model.save
    Bad("model.save", "into a folder", lambda c: model.save(model.init_params(), c.tmp), IsADirectoryError,
        "it is a directory"),
    Bad("model.save", "folder missing", lambda c: model.save(model.init_params(), c.tmp / "no" / "w.npz"),
        FileNotFoundError, "folder .*no does not exist"),
    Bad("model.save", "path None", lambda c: model.save(model.init_params(), None), TypeError,
        "path must be a file name"),
    Bad("model.save", "a dict as params", lambda c: model.save({"W1": np.zeros(3)}, c.tmp / "s.npz"), TypeError,
        "params"),
    # xpnet.model.init_params
    Bad("model.init_params", "dtype float16", lambda c: model.init_params(dtype="float16"), ValueError,
        "dtype must be one of float32, float64, got 'float16'"),
    Bad("model.init_params", "seed -1", lambda c: model.init_params(seed=-1), ValueError, "seed"),
    Bad("model.init_params", "network a string", lambda c: model.init_params(network="400-25-15-1"), TypeError,
        "network"),
    # xpnet.model.sigmoid
    Bad("model.sigmoid", "a list", lambda c: model.sigmoid([0.0, 1.0]), TypeError, "list is not a supported array"),
    Bad("model.sigmoid", "None", lambda c: model.sigmoid(None), TypeError, "requires at least one non-scalar array"),
    # xpnet.lab
    Bad("lab.my_dense", "W rows != len(a_in)", lambda c: lab.my_dense(np.ones(3), np.ones((2, 4)), np.ones(4),
        lab.sigmoid), ValueError, r"a_in must have shape \(2,\) to match W \(2, 4\), got \(3,\)"),
    Bad("lab.my_dense", "complex a_in", lambda c: lab.my_dense(np.ones(2, complex), np.ones((2, 4)), np.ones(4),
        lab.sigmoid), ValueError, "a_in must hold real numbers, got dtype complex128"),
    Bad("lab.my_dense", "strings", lambda c: lab.my_dense("abc", np.ones((2, 4)), np.ones(4), lab.sigmoid),
        ValueError, "must hold real numbers, got dtype <U3"),
    Bad("lab.my_dense", "b of 3 dims", lambda c: lab.my_dense(np.ones(2), np.ones((2, 4)), np.ones((1, 1, 4)),
        lab.sigmoid), ValueError, r"b must have shape \(4,\) or \(1, 4\) to match W \(2, 4\), got \(1, 1, 4\)"),
    Bad("lab.my_dense", "unknown backend", lambda c: lab.my_dense(np.ones(2), np.ones((2, 4)), np.ones(4),
        lab.sigmoid, backend="mxnet"), ValueError, "unknown backend 'mxnet'"),
    Bad("lab.my_dense", "b shorter than W's columns", lambda c: lab.my_dense(np.ones(2), np.ones((2, 4)), np.ones(3),
        lab.sigmoid), ValueError, "b"),
    Bad("lab.my_dense", "W 1-D", lambda c: lab.my_dense(np.ones(2), np.ones(2), np.ones(4), lab.sigmoid),
        ValueError, "W"),
    Bad("lab.my_dense", "dtype int32", lambda c: lab.my_dense(np.ones(2), np.ones((2, 4)), np.ones(4), lab.sigmoid,
        dtype="int32"), ValueError, "dtype"),
    Bad("lab.my_dense_v", "A_in columns != W rows", lambda c: lab.my_dense_v(np.ones((5, 3)), np.ones((2, 4)),
        np.ones(4), lab.sigmoid), ValueError, r"A_in must have shape \(m, 2\) to match W \(2, 4\), got \(5, 3\)"),
    Bad("lab.my_sequential", "399 features", lambda c: lab.my_sequential(np.ones(399), *c.wb), ValueError,
        r"x must have shape \(400,\) to match W1 \(400, 25\), got \(399,\)"),
    Bad("lab.my_sequential_v", "399 features", lambda c: lab.my_sequential_v(np.ones((3, 399)), *c.wb), ValueError,
        r"X must have shape \(m, 400\) to match W1 \(400, 25\), got \(3, 399\)"),
    Bad("lab.my_predict", "images not unrolled", lambda c: lab.my_predict(np.ones((3, 20, 20)), *c.wb), ValueError,
        r"X must have shape \(m, 400\) to match W1 \(400, 25\), got \(3, 20, 20\)"),
    Bad("lab.sigmoid", "a string", lambda c: lab.sigmoid("a"), TypeError, "str is not a supported array type"),
    Bad("lab.sigmoid", "complex", lambda c: lab.sigmoid(np.ones(2, complex)), ValueError, "real"),
    Bad("lab.load_data", "missing folder", lambda c: lab.load_data(c.tmp / "nowhere"), FileNotFoundError,
        "no such file or folder"),
    # xpnet.parity.check
    Bad("parity.check", "unknown backend", lambda c: parity.check(["mxnet"]), ValueError, "unknown backend 'mxnet'"),
    Bad("parity.check", "unknown variant", lambda c: parity.check(["numpy"], variants=["fast"]), ValueError,
        "unknown variant 'fast'"),
    Bad("parity.check", "unknown dtype", lambda c: parity.check(["numpy"], dtypes=["float16"]), ValueError,
        "unknown dtype 'float16'"),
    Bad("parity.check", "X not unrolled", lambda c: parity.check(["numpy"], X=np.zeros((2, 20, 20))), InputError,
        SHAPE + r"\(2, 20, 20\)"),
    Bad("parity.check", "NaN in X", lambda c: parity.check(["numpy"], X=_nan_at((2, 400), (1, 1))), InputError,
        r"non-finite value \(nan\) at index \(1, 1\)"),
    Bad("parity.check", "one backend name as a string", lambda c: parity.check("numpy"), TypeError, "list"),
    Bad("parity.check", "unknown device", lambda c: parity.check(["numpy"], devices=["tpu"]), ValueError, "tpu"),
    Bad("parity.check", "a string as params", lambda c: parity.check(["numpy"], params="w.npz"), TypeError, "params"),
    # xpnet.data (its own tests cover the loaders' file formats in depth)
    Bad("data.load", "missing path", lambda c: data.load(c.tmp / "nowhere"), FileNotFoundError,
        "no such file or folder"),
    Bad("data.load", "rows 0", lambda c: data.load(rows=0), data.DataError,
        "rows must be a positive integer or None; got 0"),
    Bad("data.load", "rows True", lambda c: data.load(rows=True), data.DataError, "got True"),
    Bad("data.load", "a folder of nothing", lambda c: data.load(c.empty_dir), data.DataError,
        "no digit data recognised at"),
    Bad("data.load_lab", "pickled X.npy", lambda c: data.load_lab(c.pickled_lab), data.DataError,
        "cannot read .*X.npy as a plain NumPy array"),
    Bad("data.load_mnist_npz", "a folder", lambda c: data.load_mnist_npz(c.empty_dir), data.DataError,
        "is a folder; load_mnist_npz wants an .npz file"),
    Bad("data.load_mnist_idx", "unknown split", lambda c: data.load_mnist_idx(c.empty_dir, split="validation"),
        data.DataError, r"split must be one of \('train', 'test', 'all'\); got 'validation'"),
    Bad("data.train_test_split", "fraction 0", lambda c: data.train_test_split(c.digits, 0), data.DataError,
        "test_fraction must be a number strictly between 0 and 1; got 0"),
    Bad("data.train_test_split", "fraction '0.2'", lambda c: data.train_test_split(c.digits, "0.2"), data.DataError,
        "got '0.2'"),
    Bad("data.train_test_split", "a tuple, not Digits", lambda c: data.train_test_split((X2, np.zeros(2))), TypeError,
        "Digits"),
    Bad("data.train_test_split", "seed -1", lambda c: data.train_test_split(c.digits, 0.2, seed=-1), ValueError,
        "seed"),
    # xpnet.validation.check_labels (what xpnet.train calls)
    Bad("check_labels", "labels (3, 2)", lambda c: check_labels(np.zeros((3, 2)), 3), InputError,
        r"y must have shape \(m,\) or \(m, 1\); got \(3, 2\)"),
    Bad("check_labels", "string labels", lambda c: check_labels(np.array(["0", "1"]), 2), InputError,
        "y must hold numbers; got dtype <U1"),
    Bad("check_labels", "complex labels", lambda c: check_labels(np.zeros(2, complex), 2), InputError,
        "y must hold numbers; got dtype complex128"),
    Bad("check_labels", "3 labels for 4 rows", lambda c: check_labels([0, 1, 1], 4), InputError,
        "y has 3 labels but X has 4 rows"),
    Bad("check_labels", "a 2", lambda c: check_labels([0, 2, 1], 3), InputError, r"y\[1\] is 2: labels must be 0 or 1"),
    Bad("check_labels", "a NaN", lambda c: check_labels([0.0, 1.0, np.nan], 3), InputError, r"y\[2\] is nan"),
    Bad("check_labels", "a 0.5", lambda c: check_labels(np.array([[0.5]]), 1), InputError, r"y\[0\] is 0.5"),
    Bad("check_labels", "a -1", lambda c: check_labels(np.array([-1, 0]), 2), InputError, r"y\[0\] is -1"),
    Bad("check_labels", "ragged", lambda c: check_labels([[0], [1, 1]], 2), InputError,
        "y cannot be read as one numeric array"),
]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The models and files the table's cases use (built once)."""
    tmp = tmp_path_factory.mktemp("bad")
    files = tmp_path_factory.mktemp("files")
    good = model.save(model.init_params(), files / "good.npz")
    (files / "empty.npz").write_bytes(b"")
    np.save(files / "x.npy", np.zeros(3))
    with zipfile.ZipFile(files / "text.npz", "w") as z:
        z.writestr("readme.txt", "hello")
    arrays = dict(np.load(good))
    np.savez_compressed(files / "c.npz", **arrays)
    corrupt = bytearray((files / "c.npz").read_bytes())
    corrupt[300] ^= 0xFF
    (files / "corrupt.npz").write_bytes(bytes(corrupt))
    (files / "dangling.npz").symlink_to(files / "gone.npz")
    huge = files / "huge.npz"
    with zipfile.ZipFile(huge, "w") as z:
        for key, value in arrays.items():
            import io

            buf = io.BytesIO()
            if key == "W1":  # a header declaring 10^15 float32 (4 PB), then a few bytes
                np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                                           "shape": (10**12, 10**3)})
                buf.write(b"\0" * 100)
            else:
                np.save(buf, value)
            z.writestr(f"{key}.npy", buf.getvalue())
    mm = files / "nan_later.npy"
    np.save(mm, _nan_at((200, N), (150, 3)))
    (files / "empty_dir").mkdir()
    (files / "lab").mkdir()
    np.save(files / "lab" / "X.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    np.save(files / "lab" / "y.npy", np.zeros(2))
    p = model.init_params()
    return SimpleNamespace(
        tmp=tmp, good=good, empty=files / "empty.npz", npy=files / "x.npy", text_zip=files / "text.npz",
        corrupt_compressed=files / "corrupt.npz", dangling=files / "dangling.npz", huge_header=huge,
        memmap_with_nan=np.load(mm, mmap_mode="r"), empty_dir=files / "empty_dir", pickled_lab=files / "lab",
        digits=data.load(), m=xpnet.Model(p, "numpy"), strict=xpnet.Model(p, "array_api_strict"),
        wb=[a for pair in p.layers for a in pair],
    )


@pytest.mark.filterwarnings("ignore:Casting complex values to real:numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("case", TABLE, ids=[f"{c.entry}: {c.name}" for c in TABLE])
def test_bad_input_gets_a_clear_error(ctx, case: Bad):
    with pytest.raises(case.error, match=case.match):
        case.call(ctx)


def test_the_table_covers_every_public_entry_point():
    entries = {c.entry for c in TABLE}
    for entry in ("xpnet.Model", "Model.predict_proba", "Model.predict", "Model.forward", "model.load",
                  "model.save", "model.init_params", "model.sigmoid", "lab.my_dense", "lab.my_dense_v",
                  "lab.my_sequential", "lab.my_sequential_v", "lab.my_predict", "lab.sigmoid", "lab.load_data",
                  "parity.check", "backends.get", "data.load", "data.load_lab", "data.load_mnist_idx",
                  "data.load_mnist_npz", "data.train_test_split", "check_labels"):
        assert entry in entries, entry


def test_input_errors_are_value_errors_and_type_errors_are_both():
    assert issubclass(InputError, ValueError)
    assert issubclass(InputTypeError, InputError) and issubclass(InputTypeError, TypeError)


# -- the labels check says what xpnet.data says ---------------------------------------------


@pytest.mark.parametrize("y", [np.zeros((4, 2)), np.array(["0", "1", "1", "0"]), np.zeros(3), np.array([0, 1, 2, 0]),
                               np.array([0.0, np.nan, 1.0, 0.0])], ids=["shape", "dtype", "length", "value", "nan"])
def test_check_labels_and_data_check_digits_word_each_problem_the_same(y):
    with pytest.raises(data.DataError) as theirs:
        data.check_digits(np.zeros((4, N)), y)
    with pytest.raises(InputError) as ours:
        check_labels(y, 4)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("y", [[0, 1, 1], np.array([[False], [True], [True]]), np.array([0.0, 1.0, 1.0], np.float32),
                               np.array([0, 1, 1], np.uint8)])
def test_check_labels_accepts_bools_ints_and_floats_as_an_m_by_1_float_array(y):
    out = check_labels(y, 3)
    assert out.shape == (3, 1) and out.dtype == np.float64
    np.testing.assert_array_equal(out[:, 0], [0.0, 1.0, 1.0])
    assert check_labels(y, None, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("variant", ["matmul", "jit"])
def test_a_row_within_the_input_bound_that_overflows_a_later_layer_is_named_in_every_variant(backend, variant):
    """The input bound covers the first layer only, so huge later weights can still overflow a finite row. The
    eager checked forward lets its first layer pass, and a compiled one refuses the row through its outputs
    (``forward_checked``); either way the error names the row, in the same words."""
    network = model.Network.parse("25:relu,15:relu,1:linear")
    params = xpnet.init_params(seed=2, network=network)
    params = xpnet.Params(network, [params.weights[0], *(W * 1e20 for W in params.weights[1:])], params.biases)
    X = np.zeros((6, N), np.float32)
    X[4] = np.random.default_rng(4).random(N, dtype=np.float32)
    m = xpnet.Model(params, backend)
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(InputError, match=re.escape("X row 4 is finite but overflows float32 inside the network")):
        m.predict_proba(X, variant)


# -- documented behaviour that is not an error ------------------------------------------------


def test_forward_does_not_scan_and_lets_nan_propagate_as_numpy_does(backend):
    m = xpnet.Model(backend=backend)
    X = _nan_at((3, N), (1, 7))
    with np.errstate(invalid="ignore"):
        p = backend.to_numpy(m.forward(X))
        q = m.predict_proba(X, check_finite=False)
    assert np.isnan(p[1, 0]) and np.isfinite(p[[0, 2]]).all()
    np.testing.assert_array_equal(np.isnan(q), np.isnan(p))


def test_empty_input_gives_an_empty_answer_in_every_variant(backend):
    m = xpnet.Model(backend=backend)
    for variant in ("loop", "matmul", "jit"):
        p = m.predict_proba(np.zeros((0, N), np.float32), variant)
        assert p.shape == (0, 1) and p.dtype == np.float32
    assert m.predict(np.zeros((0, N))).shape == (0, 1)


def test_integer_boolean_float16_big_endian_and_strided_inputs_are_converted(backend):
    m = xpnet.Model(xpnet.init_params(seed=5), backend)
    X = (np.random.default_rng(0).random((4, N)) > 0.5)
    expected = m.predict_proba(X.astype(np.float32))
    Xf = np.asfortranarray(X.astype(np.float32))
    reversed_ = np.ascontiguousarray(X[:, ::-1].astype(np.float32))[:, ::-1]  # negative strides
    for variant in (X, X.astype(np.int64), X.astype(np.uint8), X.astype(np.float16), X.astype(">f8"), Xf, reversed_,
                    X.tolist()):
        np.testing.assert_allclose(m.predict_proba(variant), expected, rtol=1e-6)


# -- 2. property tests ------------------------------------------------------------------------

_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])

_SHAPES = st.one_of(
    st.tuples(st.integers(0, 5), st.just(N)),
    st.just((N,)),
    st.tuples(st.integers(0, 3), st.integers(1, 450).filter(lambda n: n != N)),
    st.tuples(st.integers(1, 2), st.integers(1, 3), st.just(N)),
    st.just(()),
)


def _documented_error(x: np.ndarray, m: xpnet.Model) -> str | None:
    """The message the API documents for ``x``, or None when ``x`` must be answered."""
    if x.dtype.kind == "c":
        return f"must hold real numbers, got dtype {x.dtype}"
    if x.ndim not in (1, 2) or x.shape[-1] != N:
        return re.escape(f"must have shape (m, {N}) or ({N},), got {x.shape}")
    bad = _bad_values(x, m)  # the first of either, in row-major order
    return _value_error(x, tuple(int(i) for i in np.argwhere(bad)[0])) if bad.any() else None


def _bad_values(x: np.ndarray, m: xpnet.Model) -> np.ndarray:
    """Where x is NaN or infinite, or beyond the model's input bound."""
    x64 = x.astype(np.float64)
    return ~np.isfinite(x64) | (np.abs(x64) > m._place.max_abs)


def _value_error(x: np.ndarray, index: tuple[int, ...]) -> str:
    if not np.isfinite(x[index]):
        return re.escape(f"has a non-finite value ({x[index]!s}) at index {index}")
    return re.escape("has a value too large for ") + r".*" + re.escape(f"({x[index]!s}) at index {index}")


def _errors_of_unscanned_chunks(x: np.ndarray, m: xpnet.Model, batch_size: int | None) -> list[str]:
    """The messages X in the model's dtype may get when it holds a NaN or inf and values beyond the input bound.

    Such X is not scanned (``Model.predict_proba``): a chunk with only values beyond the bound is refused only
    if its sums overflow, and answered otherwise; the chunk with the first NaN or inf is refused. A refused
    chunk is scanned and names its own first bad value. So the error names the first bad value of one of the
    chunks up to the one holding the first NaN or inf (each chunk ``batch_size`` rows; one chunk without it).
    """
    bad, rows = _bad_values(x, m), (x if x.ndim == 2 else x.reshape(1, -1))
    stop = int(np.argwhere(~np.isfinite(rows.astype(np.float64)))[0][0])  # the row of the first NaN or inf
    step = batch_size or len(rows)
    found = []
    for lo in range(0, stop - stop % step + 1, step):
        where = np.argwhere(bad[lo:lo + step] if x.ndim == 2 else bad)
        if len(where):
            index = tuple(int(i) for i in where[0])
            found.append(_value_error(x, (index[0] + lo, index[1]) if x.ndim == 2 else index))
    return found


def _only_beyond_the_bound(x: np.ndarray, m: xpnet.Model) -> bool:
    """Whether x's only problem is finite values beyond the model's input bound (none too large for its dtype).

    Such X is refused where it is scanned; where the forward checks its first layer instead (X already in
    the model's dtype, the matmul and jit variants), it is refused only if its sums do overflow, and answered
    otherwise: either outcome is documented (``Model.predict_proba``)."""
    if x.dtype.kind not in "biuf" or x.ndim not in (1, 2) or x.shape[-1] != N:
        return False
    x64 = x.astype(np.float64)
    fits = float(np.finfo(m.dtype).max) if m.dtype != "bfloat16" else np.inf
    return bool(np.isfinite(x64).all() and np.abs(x64).max(initial=0) <= fits)


def _host(x: Any) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else np.from_dlpack(x)


@_SETTINGS
@given(payload=st.data())
def test_predict_proba_answers_any_array_right_or_with_the_documented_error(backend, dtype, payload):
    """Any shape, any Array API dtype, any values (NaN, inf, huge, subnormal), NumPy or array-api-strict arrays."""
    xps = XPS[payload.draw(st.sampled_from(sorted(XPS)), label="namespace")]
    x = payload.draw(xps.arrays(dtype=xps.scalar_dtypes(), shape=_SHAPES), label="X")
    m = _model(backend, dtype)
    host = _host(x)
    expected_error = _documented_error(host, m)
    batch_size = payload.draw(st.sampled_from([None, 1, 2]), label="batch_size")
    if expected_error is not None and _only_beyond_the_bound(host, m):
        try:
            p = m.predict_proba(x, batch_size=batch_size)
        except InputError as err:
            assert re.search(expected_error, str(err)), str(err)
            return
    elif expected_error is not None:
        with pytest.raises(InputError) as raised:
            m.predict_proba(x, batch_size=batch_size)
        unscanned = host.dtype == np.dtype(m.dtype) and not backend.chunked and host.ndim in (1, 2) and \
            host.shape[-1] == N and not np.isfinite(host).all()
        accepted = _errors_of_unscanned_chunks(host, m, batch_size) if unscanned else [expected_error]
        assert expected_error in accepted  # the first of either kind is always one of them
        assert any(re.search(e, str(raised.value)) for e in accepted), (str(raised.value), accepted)
        return
    else:
        p = m.predict_proba(x, batch_size=batch_size)
    assert p.shape == ((len(host), 1) if host.ndim == 2 else (1,))
    assert np.isfinite(p).all() and ((0 <= p) & (p <= 1)).all()


_MODELS: dict[tuple[str, str, str], xpnet.Model] = {}


def _model(backend: backends.Backend, dtype: str) -> xpnet.Model:
    key = (backend.name, backend.device, dtype)
    if key not in _MODELS:
        _MODELS[key] = xpnet.Model(xpnet.init_params(seed=9), backend, dtype=dtype)
    return _MODELS[key]


def _reference(x: np.ndarray, dtype: str) -> np.ndarray:
    """float64 NumPy probabilities for the values the model sees (x converted to its dtype)."""
    import array_api_compat.numpy as xp

    host = xpnet.init_params(seed=9).astype("float64")
    seen = np.atleast_2d(x).astype(dtype).astype(np.float64)
    p = np.asarray(model.forward_matmul(host.layers, seen, host.network.activations, xp))
    return p if x.ndim == 2 else p[0]


@_SETTINGS
@given(payload=st.data())
def test_predict_proba_of_moderate_values_matches_float64_numpy(backend, dtype, payload):
    namespace = payload.draw(st.sampled_from(sorted(XPS)), label="namespace")
    xps = XPS[namespace]
    kind = payload.draw(st.sampled_from(["bool", "int8", "int64", "uint8", "float32", "float64"]), label="dtype")
    elements = {} if kind == "bool" else {"min_value": 0 if kind == "uint8" else -50, "max_value": 50}
    if kind.startswith("float"):
        elements.update(allow_nan=False, allow_infinity=False)
    shape = payload.draw(st.one_of(st.tuples(st.integers(1, 6), st.just(N)), st.just((N,))), label="shape")
    x = payload.draw(xps.arrays(dtype=getattr(NAMESPACES[namespace], kind), shape=shape, elements=elements), label="X")
    batch_size = payload.draw(st.sampled_from([None, 1, 4]), label="batch_size")
    p = _model(backend, dtype).predict_proba(x, batch_size=batch_size)
    tol = 1e-3 if dtype == "float32" else 1e-10  # |x| <= 50: sums up to ~1e3 lose float32 digits
    np.testing.assert_allclose(p, _reference(_host(x), dtype), rtol=tol, atol=tol)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.data())
def test_sigmoid_of_any_finite_or_infinite_array_is_in_0_1_with_no_warning(backend, dtype, payload):
    xps = XPS["numpy"]
    # shapes of each rank from a few (an element-wise function: the values are what vary); each new shape is a
    # compilation per operation on JAX, which drew 30 of them in 7 s
    shape = payload.draw(st.sampled_from([(), (5,), (2, 3), (2, 2, 2)]), label="shape")
    z = payload.draw(xps.arrays(dtype=getattr(np, dtype), shape=shape, elements={"allow_nan": False}), label="z")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s = backend.to_numpy(model.sigmoid(backend.asarray(z, dtype), backend.xp))
    assert s.shape == z.shape and np.isfinite(s).all() and ((0 <= s) & (s <= 1)).all()
    z64 = z.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # the branch np.where drops may overflow
        exact = np.where(z64 >= 0, 1 / (1 + np.exp(-z64)), np.exp(z64) / (1 + np.exp(z64)))
    normal = exact >= np.finfo(dtype).tiny
    np.testing.assert_allclose(s[normal], exact[normal], rtol=4 * np.finfo(dtype).eps)
    assert (s[~normal] <= np.finfo(dtype).tiny).all()


# -- 3. numerics through the whole network ------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 1.0, -1.0, 0.5, 255.0, 1e4, -1e4])
def test_all_identical_inputs_give_identical_finite_rows_with_no_warning(backend, dtype, value):
    """Constant rows, up to +-1e4 (pre-activations of about +-1e4 in the first layer), all zero included."""
    m = _model(backend, dtype)
    X = np.full((5, N), value, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            # the jit variant (a compilation per shape and dtype) is checked on fixed shapes in test_model.py
            outs = [m.predict_proba(X, "matmul")]
            if not backend.chunked:  # a lazy backend's loop is a graph of ~500 tasks per row: test_model checks it
                outs.append(m.predict_proba(X[:2], "loop"))
    for p in outs:
        assert np.isfinite(p).all() and ((0 <= p) & (p <= 1)).all()
        # identical rows, identical answers (to the last bits: BLAS kernels may treat the tail rows apart)
        np.testing.assert_allclose(p, np.broadcast_to(p[:1], p.shape), rtol=16 * np.finfo(dtype).eps, atol=0)
    reference = _reference(X[:1], dtype)
    tol = (1e-3 if abs(value) > 100 else 1e-5) if dtype == "float32" else 1e-10
    np.testing.assert_allclose(outs[0][:1], reference, rtol=tol, atol=tol * 1e-2)
    first_layer = np.full(N, value) @ xpnet.init_params(seed=9).weights[0].astype(np.float64)
    if abs(value) == 1e4:
        assert np.abs(first_layer).max() > 1e4  # the extremes the issue asks for are reached
