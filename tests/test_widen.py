"""Hidden layers widened to the framework's favourite width (``widen_hidden``) give the same outputs.

A backend with ``hidden_multiple`` (PyTorch on a CPU) runs the matmul and jit forwards on layers
padded with units that have zero weights in and out. These tests hold the padding to its promise:
the same outputs as the layers as they are (within float rounding: the products have other shapes,
so other BLAS kernels), the same rows refused by the checked forward, no padding where it would
change the result (a row-wise softmax, the output layer, an activation given as a function), and
no stale copy once the weights change.
"""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet import backends
from xpnet.model import Network, forward_checked, forward_matmul, init_params, widen_hidden

#: The parity tolerance against the float64 reference (relative): widening changes the products' shapes, so
#: their BLAS kernels and summation order, never the parity a backend must keep.
RTOL = {"float32": 1e-5, "float64": 1e-12}


def _xp():
    import array_api_compat.numpy as xp

    return xp


@pytest.mark.parametrize("spec", ["25:sigmoid,15:sigmoid,1:sigmoid", "25:relu,15:linear,10:softmax"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_widened_layers_give_the_same_outputs(spec, dtype):
    xp = _xp()
    params = init_params(3, Network.parse(spec), dtype)
    names = params.network.activations
    wide = widen_hidden(params.layers, names, 8, xp)
    assert [W.shape for W, _ in wide] == [(400, 32), (32, 16), (16, params.network.outputs)]
    assert [b.shape for _, b in wide] == [(32,), (16,), (params.network.outputs,)]
    X = np.random.default_rng(0).normal(size=(300, 400))
    want = forward_matmul(params.astype("float64").layers, X, names, xp)
    got = forward_matmul(wide, X.astype(dtype), names, xp)
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=0)


def test_a_rowwise_activation_a_function_and_the_output_layer_keep_their_width():
    xp = _xp()
    params = init_params(0, Network.parse("25:softmax,15:relu,3:sigmoid"))
    wide = widen_hidden(params.layers, params.network.activations, 8, xp)
    assert [W.shape for W, _ in wide] == [(400, 25), (25, 16), (16, 3)]
    as_function = widen_hidden(params.layers, [lambda z: z, "relu", "sigmoid"], 8, xp)
    assert [W.shape for W, _ in as_function] == [(400, 25), (25, 16), (16, 3)]


def test_widened_layers_refuse_the_same_rows():
    """A NaN or inf in a row still makes its first-layer sums non-finite (the added units' too), and a clean
    batch stays finite: the checked forward's flag is the same."""
    xp = _xp()
    params = init_params(seed=1)
    names = params.network.activations
    wide = widen_hidden(params.layers, names, 8, xp)
    X = np.random.default_rng(1).random((64, 400)).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        assert bool(forward_checked(wide, X, names, xp)[1])
        for bad in (np.nan, np.inf, -np.inf):
            Y = X.copy()
            Y[5, 399] = bad
            assert not bool(forward_checked(wide, Y, names, xp)[1])
            assert not bool(forward_checked(params.layers, Y, names, xp)[1])


@pytest.mark.parametrize("variant", ["matmul", "jit"])
def test_every_widening_backend_matches_the_float64_reference(backend, variant):
    if not backend.hidden_multiple:
        pytest.skip(f"{backend.name} on {backend.device} runs its layers as they are")
    model = xpnet.Model(init_params(seed=2), backend=backend)
    X = np.random.default_rng(2).random((512, 400)).astype(np.float32)  # from WIDEN_FROM_ROWS on
    assert X.shape[0] >= xpnet.api.WIDEN_FROM_ROWS
    want = xpnet.Model(init_params(seed=2), backend="numpy", dtype="float64").predict_proba(X)
    got = model.backend.to_numpy(model.forward_fn(variant)(model.layers, model.asarray(X)))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(model.predict_proba(X, variant), want, rtol=1e-5)


def test_weights_written_in_place_are_widened_again():
    """The widened copy is kept between calls; writing the weights in place must not leave it stale."""
    st = backends.status("torch", "cpu")  # the framework here whose arrays can be written in place
    if not st.available:
        pytest.skip(st.reason)
    model = xpnet.Model(init_params(seed=2), backend="torch")
    if not model.backend.hidden_multiple:
        pytest.skip("torch on cpu runs its layers as they are")
    X = np.random.default_rng(4).random((512, 400)).astype(np.float32)
    f, Xd = model.forward_fn("matmul"), model.asarray(X)
    before = model.backend.to_numpy(f(model.layers, Xd))
    (W1, _), (W2, b2), _ = model.layers
    W1.mul_(-1.0)
    b2.add_(0.5)
    host = model.params.map(model.backend.to_numpy)
    want = xpnet.Model(host, backend="numpy", dtype="float64").predict_proba(X)
    after = model.backend.to_numpy(f(model.layers, Xd))
    np.testing.assert_allclose(after, want, rtol=1e-5)
    assert np.abs(after - before).max() > 1e-3
    other = xpnet.Model(init_params(seed=5), backend="torch")  # other arrays, same function
    np.testing.assert_allclose(model.backend.to_numpy(f(other.layers, Xd)),
                               xpnet.Model(init_params(seed=5), backend="numpy", dtype="float64").predict_proba(X),
                               rtol=1e-5)


def test_tensors_made_in_inference_mode_run_as_they_are():
    """PyTorch keeps no write counter for them, so no widened copy could be known fresh: none is kept."""
    st = backends.status("torch", "cpu")
    if not st.available:
        pytest.skip(st.reason)
    import torch

    with torch.inference_mode():
        model = xpnet.Model(init_params(seed=6), backend="torch")
        assert all(W.is_inference() for W, _ in model.layers)
        X = np.random.default_rng(6).random((512, 400)).astype(np.float32)
        f = model.forward_fn("matmul")
        first = model.backend.to_numpy(f(model.layers, model.asarray(X)))
        model.layers[0][0].mul_(-1.0)
        second = model.backend.to_numpy(f(model.layers, model.asarray(X)))
    host = model.params.map(model.backend.to_numpy)
    want = xpnet.Model(host, backend="numpy", dtype="float64").predict_proba(X)
    np.testing.assert_allclose(second, want, rtol=1e-5)
    assert np.abs(second - first).max() > 1e-3
