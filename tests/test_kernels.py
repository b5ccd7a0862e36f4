"""The backends' fused kernels (``Backend.kernels``), and the premise of the scan-free checked forward.

A kernel replaces an Array API composition only where it meets the parity tolerances: each is checked
here against the float64 reference, relative error, at the extremes (sigmoid down to z = -80, where
``1 - tanh`` tricks and unguarded ``exp`` lose everything). The checked forward finds a NaN or an
infinity in X from the first layer's sums instead of scanning X: that holds only if every backend's
matrix product propagates them, zero weights included (``inf * 0`` is NaN; a BLAS that skipped zero
weights would return a finite sum), which is proved here on each backend's product, eager and compiled.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import xpnet
from xpnet import backends
from xpnet.model import ACTIVATIONS, ROWWISE, InputError, Network, bind_activations, forward_checked

N = 400
#: The float32 relative error the parity check allows a backend (issue: <= 1e-5 against float64).
RTOL = {"float32": 1e-5, "float64": 1e-12}


def _z(dtype: str) -> np.ndarray:
    """Pre-activations from -80 to 80 (4,004 of them, as a (572, 7) batch), with the extremes and +-1e-30."""
    grid = np.concatenate([np.linspace(-80, 80, 3990), [-80.0, -79.9, -60.0, -30.0, -17.3, -1e-30, 0.0, 1e-30,
                                                        17.3, 30.0, 60.0, 79.9, 80.0, 1.0]])
    return grid.astype(dtype).reshape(-1, 7)


def _reference(name: str, z: np.ndarray) -> np.ndarray:
    """The activation in float64 from the values the backend sees."""
    import array_api_compat.numpy as xp

    return np.asarray(ACTIVATIONS[name](z.astype(np.float64), xp))


def test_array_api_strict_has_no_kernels_and_keeps_the_standard_path():
    if not backends.status("array_api_strict", "cpu").available:
        pytest.skip(backends.status("array_api_strict", "cpu").reason)
    assert backends.get("array_api_strict").kernels() == {} == backends.get("array_api_strict").quiet_kernels()


@pytest.mark.parametrize("z", [-100.0, -1e4])
def test_numpys_quiet_sigmoid_needs_the_checked_forwards_errstate_and_the_plain_one_does_not(z):
    """Why there are two: below z = -88.7, exp(-z) overflows. The plain kernel quiets that itself, for any
    caller; the quiet one leaves it to the errstate of the checked forward that runs it (one per forward, not
    one per layer), and both give 0 there."""
    be = backends.get("numpy")
    x = np.array([z, 0.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert be.kernels()["sigmoid"](x).tolist() == [0.0, 0.5]
        assert be.without_nonfinite_warnings(be.quiet_kernels()["sigmoid"])(x).tolist() == [0.0, 0.5]
        with pytest.raises(RuntimeWarning, match="overflow encountered in exp"):
            be.quiet_kernels()["sigmoid"](x)


def test_the_checked_forward_warns_nothing_where_the_first_sums_are_far_below_zero():
    """The checked forward runs NumPy's quiet sigmoid: a sum of -150 (exp(150) overflows) warns nothing."""
    params = xpnet.init_params(seed=0)
    W1 = np.full_like(params.weights[0], -0.5)
    params = xpnet.Params(params.network, [W1, *params.weights[1:]], params.biases)
    X = np.ones((3, N), dtype=np.float32)  # every first-layer sum is -200 + b
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for variant in ("matmul", "jit"):
            got = xpnet.Model(params, "numpy").predict_proba(X, variant)
            want = xpnet.Model(params, "numpy", dtype="float64").predict_proba(X, variant)
            np.testing.assert_allclose(got, want, rtol=RTOL["float32"])


@pytest.mark.parametrize("quiet", [False, True], ids=["kernels", "quiet_kernels"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_kernel_meets_the_parity_tolerance_at_the_extremes(backend, dtype, quiet):
    """``quiet_kernels`` are the checked forward's, run as it runs them: inside ``without_nonfinite_warnings``."""
    if backend.dtype_missing(dtype):
        pytest.skip(backend.dtype_missing(dtype))
    kernels = backend.quiet_kernels() if quiet else backend.kernels()
    if not kernels:
        pytest.skip(f"{backend.name} uses the standard's compositions only")
    z = _z(dtype)
    for name in set(kernels) & set(ACTIVATIONS):
        fn = backend.without_nonfinite_warnings(kernels[name]) if quiet else kernels[name]
        got = backend.to_numpy(fn(backend.asarray(z, dtype))).astype(np.float64)
        want = _reference(name, z)
        tiny = np.finfo(dtype).tiny  # below it a float32 result is subnormal: absolute error then
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=tiny, err_msg=f"{backend.name} {name}")
        if name == "sigmoid":
            assert got[z == -80].min() > 0, "sigmoid(-80) is 1.8e-35, a normal float32: not 0"
    if "affine" in kernels:
        rng = np.random.default_rng(0)
        A, W, b = rng.normal(size=(33, N)), rng.normal(size=(N, 25)), rng.normal(size=25)
        args = [backend.asarray(a, dtype) for a in (A, W, b)]
        got = backend.to_numpy(kernels["affine"](*args))
        seen = [a.astype(dtype).astype(np.float64) for a in (A, W, b)]
        want = seen[0] @ seen[1] + seen[2]
        scale = np.abs(seen[0]) @ np.abs(seen[1]) + np.abs(seen[2])  # the sum's condition: no cancellation blow-up
        assert (np.abs(got - want) <= RTOL[dtype] * scale).all(), f"{backend.name} affine"
    if "all_finite" in kernels:
        # small, and large enough for a vectorised, threaded reduction with a tail (1031 x 33 is no multiple of 16)
        for shape in ((37, 25), (1031, 33)):
            Z = np.random.default_rng(2).uniform(-0.5, 0.5, size=shape) * float(np.finfo(dtype).max)  # huge, finite
            assert bool(kernels["all_finite"](backend.asarray(Z, dtype))), f"{backend.name} all_finite"
            last_row, last_col = shape[0] - 1, shape[1] - 1
            for row, col in ((0, 0), (shape[0] // 2, 7), (last_row, last_col), (last_row, 0)):
                for bad in (np.nan, np.inf, -np.inf):
                    Y = Z.copy()
                    Y[row, col] = bad
                    assert not bool(kernels["all_finite"](backend.asarray(Y, dtype))), (backend.name, row, col, bad)
        assert bool(kernels["all_finite"](backend.asarray(np.zeros((0, 25)), dtype))), "no values: all finite"


def _poisoned(dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X with one NaN, +inf or -inf per row, in every column in turn; W whose even rows are all zero.

    So every column holds each bad value once, half of them next to nothing but zero weights (where
    ``inf * 0`` must give NaN), the other half next to real ones.
    """
    rng = np.random.default_rng(1)
    W = rng.normal(size=(N, 25)).astype(dtype)
    W[0::2] = 0.0
    b = rng.normal(size=25).astype(dtype)
    X = np.tile(rng.random((1, N), dtype=np.float32).astype(dtype), (3 * N, 1))
    rows = np.arange(3 * N)
    X[rows, rows % N] = np.repeat([np.nan, np.inf, -np.inf], N).astype(dtype)
    return X, W, b


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_nan_or_inf_anywhere_in_a_row_makes_its_first_layer_sums_non_finite(backend, dtype):
    """The premise of the scan-free check, on the product (and fused affine) the checked forward runs."""
    if backend.dtype_missing(dtype):
        pytest.skip(backend.dtype_missing(dtype))
    X, W, b = _poisoned(dtype)
    Xd, Wd, bd = (backend.asarray(a, dtype) for a in (X, W, b))
    xp = backend.xp
    products = {"matmul": lambda X_, W_, b_: X_ @ W_ + b_}
    if "affine" in backend.kernels():
        products["affine"] = backend.kernels()["affine"]
    for what, product in products.items():
        def rows_finite(X_, W_, b_, product=product):
            return xp.all(xp.isfinite(product(X_, W_, b_)), axis=1)
        for how, fn in (("eager", rows_finite), ("compiled", backend.jit(rows_finite))):
            with np.errstate(invalid="ignore"):  # NumPy says "invalid value encountered": inf * 0, as it should
                finite = backend.to_numpy(fn(Xd, Wd, bd))
            assert not finite.any(), (f"{backend.name} {what} {how}: rows {np.flatnonzero(finite)[:5]} kept finite "
                                      "sums from a non-finite pixel")


def test_a_compiled_checked_forward_gives_nan_outputs_for_exactly_the_rows_it_refuses(backend):
    """The compiled form of the check (``forward_checked(compiled=True)``) makes a bad row's first activations NaN
    and reads its flag from the outputs. An infinite sum's sigmoid is a finite 0 or 1, so without that NaN a row
    with an inf next to non-zero weights would come out finite. Through the backend's own compiled product and
    kernels (sigmoid, relu, softmax), a row with a NaN or inf (next to zero weights or not) comes out NaN in
    every output, the flag is False, and every other row is the float64 reference's."""
    network = Network.parse("25:sigmoid,15:relu,10:softmax")
    params = xpnet.init_params(seed=3, network=network)
    W1 = params.weights[0].copy()
    W1[0::2] = 0.0  # even pixels meet only zero weights (inf * 0: NaN sums), odd ones none (+-inf sums)
    assert (W1[1::2] != 0).all()
    params = xpnet.Params(network, [W1, *params.weights[1:]], params.biases)
    X = np.random.default_rng(3).random((64, N), dtype=np.float32)
    bad = {3: (0, np.nan), 17: (1, np.inf), 40: (399, -np.inf), 50: (2, np.inf), 63: (397, np.inf)}  # (col, value)
    Y = X.copy()
    for row, (col, value) in bad.items():
        Y[row, col] = value
    want = xpnet.Model(params, "numpy", dtype="float64").predict_proba(X)
    xp, kernels = backend.xp, backend.kernels()
    names = bind_activations(network.activations, xp, kernels)
    layers = [(backend.asarray(W, "float32"), backend.asarray(b, "float32"))
              for W, b in zip(params.weights, params.biases, strict=True)]
    checked = backend.jit(lambda L, X_: forward_checked(L, X_, names, xp, kernels.get("affine"), compiled=True))
    p, finite = checked(layers, backend.asarray(X, "float32"))
    assert bool(finite)
    np.testing.assert_allclose(backend.to_numpy(p), want, rtol=RTOL["float32"], atol=1e-7)
    with warnings.catch_warnings():  # inf * 0, as it should; filters, not errstate: Dask computes in its threads
        warnings.simplefilter("ignore", RuntimeWarning)
        p, finite = checked(layers, backend.asarray(Y, "float32"))
        p, finite = backend.to_numpy(p), bool(finite)
    assert not finite
    assert np.flatnonzero(np.isnan(p).any(axis=1)).tolist() == sorted(bad) and np.isnan(p[sorted(bad)]).all()
    kept = np.setdiff1d(np.arange(len(X)), sorted(bad))
    np.testing.assert_allclose(p[kept], want[kept], rtol=RTOL["float32"], atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_activation_keeps_nan(backend, dtype):
    """A NaN in, a NaN out: an eager forward on OffsetRows whose framework applies the first activation after the
    compiled sums (``Backend.offset_eager_kernels``) marks a row to refuse with NaN sums, and only the NaN reaching
    the outputs refuses it. So every activation, the backend's kernels and the standard's, must keep it: a relu
    written ``where(z > 0, z, 0)`` or a ``max`` that drops NaN would pass a bad row as finite. Row-wise ones
    (softmax) keep it where it was, and leave rows without one finite."""
    if backend.dtype_missing(dtype):
        pytest.skip(backend.dtype_missing(dtype))
    z = np.linspace(-3, 3, 5 * 7).reshape(5, 7).astype(dtype)
    z[1, 0], z[3, 6] = np.nan, np.nan
    kinds = {"kernel": bind_activations(list(ACTIVATIONS), backend.xp, backend.kernels()),
             "quiet kernel": bind_activations(list(ACTIVATIONS), backend.xp, backend.quiet_kernels()),
             "standard": bind_activations(list(ACTIVATIONS), backend.xp)}
    for kind, bound in kinds.items():
        for name, g in zip(ACTIVATIONS, bound, strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                got = np.isnan(backend.to_numpy(g(backend.asarray(z, dtype))))
            want = np.isnan(z)
            if name in ROWWISE:  # the row's other values may be NaN too (NumPy) or not (TensorFlow): its NaN stays
                rows = want.any(axis=1)
                kept = got[want].all() and not got[~rows].any()
            else:
                kept = (got == want).all()
            where = f"NaN out at {np.argwhere(got).tolist()}, in at {np.argwhere(want).tolist()}"
            assert kept, f"{backend.name} {kind} {name}: {where}"


@pytest.mark.parametrize("variant", ["matmul", "jit"])
def test_the_scan_free_check_names_the_first_bad_value_next_to_zero_weights(backend, variant):
    """End to end: a NaN whose weights are all zero is still found, at its index, with the scan's message."""
    params = xpnet.init_params(seed=4)
    W1 = params.weights[0].copy()
    W1[7] = 0.0
    params = xpnet.Params(params.network, [W1, *params.weights[1:]], params.biases)
    m = xpnet.Model(params, backend)
    X = np.random.default_rng(2).random((50, N), dtype=np.float32)
    X[31, 7] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the error, not a warning of the product on the way
        with pytest.raises(InputError, match=re.escape("X has a non-finite value (nan) at index (31, 7)")):
            m.predict_proba(X, variant)
    X[31, 7] = np.inf
    with pytest.raises(InputError, match=re.escape("X has a non-finite value (inf) at index (31, 7)")):
        m.predict_proba(X, variant)
    X[31, 7] = 0.5
    np.testing.assert_allclose(m.predict_proba(X, variant), xpnet.Model(params).predict_proba(X), rtol=1e-5)
