"""The framework-free model on every backend: the lab's published values, stable sigmoid,
loop == matmul == jit, parameters and their files."""

from __future__ import annotations

import warnings
from functools import partial

import hypothesis.strategies as st
import numpy as np
import pytest
from helpers import TOLERANCES, assert_close
from hypothesis import HealthCheck, given, settings

import xpnet
from xpnet import model
from xpnet.model import LAB_NETWORK, FileFormatError, LayerSpec, Network, dense, dense_loop, sigmoid

# The lab's unit-test inputs and published outputs (C2_W1, my_dense and my_dense_v).
LAB_X1 = 0.1 * np.arange(1, 3)
LAB_W = 0.1 * np.arange(1, 7).reshape(2, 3)
LAB_B = 0.1 * np.arange(1, 4)
LAB_A1 = [0.54735762, 0.57932425, 0.61063923]
LAB_XB = 0.1 * np.arange(1, 9).reshape(4, 2)
LAB_AB = [[0.54735762, 0.57932425, 0.61063923], [0.57199613, 0.61301418, 0.65248946],
          [0.5962827, 0.64565631, 0.6921095], [0.62010643, 0.67699586, 0.72908792]]


def test_my_dense_gives_the_labs_published_values(backend, dtype):
    x, W, b = (backend.asarray(a, dtype) for a in (LAB_X1, LAB_W, LAB_B))
    g = partial(sigmoid, xp=backend.xp)
    assert_close(dense_loop(x, W, b, g, xp=backend.xp), LAB_A1, backend, "float32")
    assert_close(dense(x, W, b, g, xp=backend.xp), LAB_A1, backend, "float32")


def test_my_dense_v_gives_the_labs_published_values(backend, dtype):
    X, W, b = (backend.asarray(a, dtype) for a in (LAB_XB, LAB_W, LAB_B.reshape(1, 3)))
    assert_close(dense(X, W, b, partial(sigmoid, xp=backend.xp), xp=backend.xp), LAB_AB, backend, "float32")


@pytest.mark.parametrize("z", [-1e4, -1e3, -100.0, -88.8, -30.0, -1.0, 0.0, 1.0, 30.0, 88.8, 100.0, 1e3, 1e4])
def test_sigmoid_is_stable_and_exact_at_the_extremes(backend, dtype, z):
    x = backend.asarray(np.array([z, -z]), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning fails the test
        with np.errstate(over="raise", invalid="raise"):
            s = backend.to_numpy(sigmoid(x, backend.xp))
    assert np.isfinite(s).all() and ((0 <= s) & (s <= 1)).all()
    with np.errstate(over="ignore"):  # float64 exp overflowing to inf gives 1 / inf = 0: right
        exact = 1 / (1 + np.exp(-np.array([z, -z], dtype=np.float64)))
    tiny = np.finfo(dtype).tiny
    # full relative precision wherever the exact value is a normal number of the dtype
    normal = exact >= tiny
    np.testing.assert_allclose(s[normal], exact[normal], rtol=4 * np.finfo(dtype).eps)
    assert (s[~normal] <= tiny).all()


def test_sigmoid_propagates_nan_as_numpy_does(backend):
    s = backend.to_numpy(sigmoid(backend.asarray(np.array([np.nan, 0.0])), backend.xp))
    assert np.isnan(s[0]) and s[1] == 0.5


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 40), units=st.integers(1, 12), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_dense_loop_equals_dense_on_random_shapes_and_values(backend, n, units, seed, scale):
    rng = np.random.default_rng(seed)
    a, W, b = rng.normal(0, scale, n), rng.normal(0, scale, (n, units)), rng.normal(0, scale, units)
    with np.errstate(over="ignore"):  # exp overflowing to inf gives the right 0
        expected = 1 / (1 + np.exp(-(a @ W + b)))
    a_, W_, b_ = (backend.asarray(v, "float64") for v in (a, W, b))
    g = partial(sigmoid, xp=backend.xp)
    assert_close(dense_loop(a_, W_, b_, g, xp=backend.xp), expected, backend, "float64")
    assert_close(dense(a_, W_, b_, g, xp=backend.xp), expected, backend, "float64")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(widths=st.lists(st.integers(1, 9), min_size=2, max_size=4), m=st.integers(1, 5),
       seed=st.integers(0, 1000), data=st.data())
def test_loop_and_matmul_forwards_agree_on_random_dense_networks(backend, widths, m, seed, data):
    """Any dense network of sigmoid, relu and linear layers, with a softmax output or not: the same code.

    (The jit variant compiles once per shape, seconds each for torch.compile: it is checked on fixed shapes.)
    """
    hidden = data.draw(st.lists(st.sampled_from(["sigmoid", "relu", "linear"]), min_size=len(widths) - 2,
                                max_size=len(widths) - 2))
    last = data.draw(st.sampled_from(["sigmoid", "relu", "linear", "softmax"]))
    net = Network(widths[0], tuple(LayerSpec(w, a) for w, a in zip(widths[1:], [*hidden, last], strict=True)))
    params = model.init_params(seed, net, dtype="float64")
    X = np.random.default_rng(seed).random((m, widths[0]))
    ref = _numpy_forward(params, X)
    m_ = xpnet.Model(params, backend, dtype="float64")
    for variant in ("loop", "matmul"):
        assert_close(m_.forward(X, variant), ref, backend, "float64")


def _numpy_forward(params, X):
    """The network in plain NumPy, written out here, independently of xpnet's forward."""
    a = X
    for (W, b), name in zip(params.layers, params.network.activations, strict=True):
        z = a @ W + b
        if name == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        elif name == "relu":
            a = np.maximum(z, 0)
        elif name == "softmax":
            e = np.exp(z - z.max(axis=-1, keepdims=True))
            a = e / e.sum(axis=-1, keepdims=True)
        else:
            a = z
    return a


def _loop_rows(backend, variant: str) -> int:
    """Rows of the 6 to run: all, but 2 for the loop on a lazy backend (Dask), where each example is a graph
    of ~500 tasks (0.8 s); the matmul and jit variants check all 6 there."""
    return 2 if variant == "loop" and backend.chunked else 6


def test_the_ten_digit_sequel_is_a_layer_list_and_runs_every_variant(backend, dtype):
    net = Network.parse("25:relu,15:relu,10:softmax")
    params = model.init_params(seed=2, network=net)
    assert params.count == 10_025 + 390 + 160
    X = np.random.default_rng(2).random((6, 400), dtype=np.float32)
    ref = _numpy_forward(params.astype("float64"), X.astype(np.float64))
    m = xpnet.Model(params, backend, dtype=dtype)
    for variant in ("loop", "matmul", "jit"):
        rows = _loop_rows(backend, variant)
        out = m.forward(X[:rows], variant)
        assert tuple(out.shape) == (rows, 10)
        assert_close(out, ref[:rows], backend, dtype)
    np.testing.assert_array_equal(m.predict(X), ref.argmax(axis=1))
    assert tuple(m.forward(X[0], "loop").shape) == (10,)


def test_the_lab_network_variants_agree_on_every_backend(backend, dtype):
    params = model.init_params(seed=1)
    X = np.random.default_rng(1).random((6, 400), dtype=np.float32)
    ref = xpnet.Model(params, "numpy", dtype="float64").predict_proba(X)
    m = xpnet.Model(params, backend, dtype=dtype)
    for variant in ("loop", "matmul", "jit"):
        rows = _loop_rows(backend, variant)
        out = m.forward(X[:rows], variant)
        assert tuple(out.shape) == (rows, 1)
        assert_close(out, ref[:rows], backend, dtype)
    np.testing.assert_array_equal(m.predict(X), (ref >= 0.5).astype(np.int32))
    # one example (n,) after batches, through every variant: a compiler that has seen batches must not lose the
    # vector's rank (TensorFlow's reduce_retracing relaxed it to unknown, and its matmul then failed)
    for variant in ("loop", "matmul", "jit"):
        one = m.forward(X[0], variant)
        assert tuple(one.shape) == (1,)
        assert_close(one, ref[0], backend, dtype)
    tol = TOLERANCES[dtype].max_rel_err  # and predict_proba's checked forwards, on host data (the loop is the lab's)
    for variant in ("matmul", "jit"):
        np.testing.assert_allclose(m.predict_proba(X[1], variant), ref[1], rtol=tol, atol=tol * 1e-2)


def test_network_spec_is_the_lab_model():
    assert LAB_NETWORK.input_dim == 400
    assert [(s.units, s.activation, s.name) for s in LAB_NETWORK.layers] == [
        (25, "sigmoid", "L1"), (15, "sigmoid", "L2"), (1, "sigmoid", "L3")]
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        LayerSpec(3, "softplus")
    with pytest.raises(ValueError, match="positive whole number of units"):
        LayerSpec(0)


def test_init_params_is_seeded_glorot_uniform_with_zero_biases():
    p = model.init_params(seed=0)
    assert p.dtype == np.float32 and p.count == 10431
    assert [W.shape for W in p.weights] == [(400, 25), (25, 15), (15, 1)]
    for W, b, (n_in, n_out) in zip(p.weights, p.biases, [(400, 25), (25, 15), (15, 1)], strict=True):
        limit = np.sqrt(6 / (n_in + n_out))
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.9 * limit
        assert not b.any()
    # the variance of U(-l, l) is l^2 / 3 = 2 / (fan_in + fan_out)
    assert np.var(p.weights[0]) == pytest.approx(2 / 425, rel=0.05)
    np.testing.assert_array_equal(model.init_params(seed=0).weights[0], p.weights[0])
    assert not np.array_equal(model.init_params(seed=1).weights[0], p.weights[0])
    assert model.init_params(dtype="float64").dtype == np.float64


def test_params_map_moves_them_to_a_backend_and_back(backend):
    p = model.init_params(seed=3).with_record(note="kept")
    on = p.map(lambda a: backend.asarray(a, "float64"))
    assert all(model_owner == backend.name for model_owner in map(xpnet.backends.owner, on.weights))
    back = on.map(backend.to_numpy)
    np.testing.assert_array_equal(back.weights[1], p.weights[1].astype(np.float64))
    assert back.network == p.network and back.record == {"note": "kept"}


def test_params_with_wrong_shapes_name_the_layer():
    p = model.init_params()
    with pytest.raises(ValueError, match=r"W2 must have shape \(25, 15\), got \(25, 14\)"):
        model.Params(p.network, (p.weights[0], np.zeros((25, 14)), p.weights[2]), p.biases)
    with pytest.raises(ValueError, match="3 layers but got 2 weight"):
        model.Params(p.network, p.weights[:2], p.biases)


def test_save_and_load_round_trip_exactly(tmp_path):
    p = model.init_params(seed=5)
    path = model.save(p, tmp_path / "w.npz")
    q = model.load(path, network=LAB_NETWORK)
    assert q.network == p.network
    for a, b in zip(p.weights + p.biases, q.weights + q.biases, strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert [f.name for f in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left


def test_load_refuses_pickles_without_running_them(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "w.npz"
    arrays = {k: v for k, v in np.load(model.save(model.init_params(), tmp_path / "ok.npz")).items()}
    arrays["W1"] = np.array([Exploit()], dtype=object)
    np.savez(bad, **arrays)
    with pytest.raises(FileFormatError, match="pickled object array"):
        model.load(bad)
    assert not marker.exists()


@pytest.mark.parametrize("problem, match", [
    ("missing", "no such file"),
    ("directory", "is a directory"),
    ("truncated", "not a valid .npz file"),
    ("garbage", "not a valid .npz file"),
    ("extra_key", r"unexpected contents \(missing \[\], unexpected \['C1'\]\)"),
    ("missing_key", r"missing \['b2'\]"),
    ("bad_shape", r"b2 must have shape \(15,\), got \(14,\)"),
    ("int_dtype", "W1 has dtype int64, expected float32 or float64"),
    ("nan", r"W3 has a non-finite value at index \(4, 0\)"),
    ("other_network", r"holds a network 400-25-14-1 .* expected 400-25-15-1"),
])
def test_bad_weights_files_get_specific_errors(tmp_path, problem, match):
    good = model.save(model.init_params(), tmp_path / "good.npz")
    arrays = dict(np.load(good))
    path = tmp_path / "w.npz"
    if problem == "directory":
        path.mkdir()
    elif problem == "truncated":
        path.write_bytes(good.read_bytes()[:700])
    elif problem == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif problem != "missing":
        if problem == "extra_key":
            arrays["C1"] = np.zeros(1)
        elif problem == "missing_key":
            del arrays["b2"]
        elif problem == "bad_shape":
            arrays["b2"] = np.zeros(14, np.float32)
        elif problem == "int_dtype":
            arrays["W1"] = arrays["W1"].astype(np.int64)
        elif problem == "nan":
            arrays["W3"] = arrays["W3"].copy()
            arrays["W3"][4, 0] = np.nan
        elif problem == "other_network":
            arrays["W2"], arrays["b2"], arrays["W3"] = (np.zeros((25, 14), np.float32), np.zeros(14, np.float32),
                                                        np.zeros((14, 1), np.float32))
        np.savez(path, **arrays)
    with pytest.raises((FileFormatError, FileNotFoundError, IsADirectoryError), match=match):
        model.load(path, network=LAB_NETWORK)


@pytest.mark.parametrize("what", ["network", "params", "model"])
def test_summary_shows_the_keras_parameter_counts(what):
    params = model.init_params()
    text = {"network": lambda: model.summary(), "params": lambda: xpnet.summary(params),
            "model": lambda: xpnet.summary(xpnet.Model(params))}[what]()
    assert 'Model: "my_model"' in text
    for row in ("L1 (Dense)", "(None, 25)", "10,025", "L2 (Dense)", "390", "L3 (Dense)", "16",
                "Total params: 10,431"):
        assert row in text


def test_model_forward_checks_the_input_shape():
    m = xpnet.Model()
    with pytest.raises(ValueError, match=r"shape \(m, 400\) or \(400,\), got \(20, 20\); unroll"):
        m.predict(np.zeros((20, 20)))
    with pytest.raises(ValueError, match=r"got \(1000, 401\)"):
        m.predict(np.zeros((1000, 401)))
    with pytest.raises(ValueError, match="unknown variant 'fast'"):
        m.predict(np.zeros((1, 400)), variant="fast")
    with pytest.raises(ValueError, match="must hold real numbers, got dtype complex128"):
        m.predict(np.zeros((1, 400), complex))


def test_jit_variant_is_compiled_once_and_reused(backend, monkeypatch):
    compilations = []
    jit = backend.jit
    monkeypatch.setattr(backend, "jit", lambda fn: compilations.append(fn) or jit(fn))
    m = xpnet.Model(backend=backend)
    X = np.random.default_rng(0).random((4, 400), dtype=np.float32)
    first = m.predict_proba(X, "jit")  # the checked forward (it also says whether the first layer is finite)
    for _ in range(3):
        np.testing.assert_array_equal(m.predict_proba(X, "jit"), first)
    assert len(compilations) == 1
    # the plain forward: compiled once more (or the same one, where predict_proba scans X instead), then reused
    np.testing.assert_allclose(backend.to_numpy(m.forward_fn("jit")(m.layers, m.asarray(X))), first, rtol=1e-6)
    assert len(compilations) <= 2
    made = len(compilations)
    for _ in range(3):
        m.forward_fn("jit")(m.layers, m.asarray(X))
        m.predict_proba(X, "jit")
    assert len(compilations) == made


def test_saved_files_get_ordinary_permissions(tmp_path):
    path = model.save(model.init_params(), tmp_path / "w.npz")
    umask = __import__("os").umask(0)
    __import__("os").umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    model.save(model.init_params(seed=1), path)
    assert path.stat().st_mode & 0o777 == 0o640  # replacing a file keeps its mode


def test_results_are_ordinary_numpy_arrays_on_every_backend(backend):
    m = xpnet.Model(backend=backend)
    X = np.random.default_rng(3).random((5, 400), dtype=np.float32)
    variants = ("matmul", "jit") if backend.compiler else ("matmul",)
    for out in [m.predict_proba(X, v) for v in variants] + [m.predict(X), m.predict_proba(X[0])]:
        assert type(out) is np.ndarray and out.flags.writeable  # a user may write into them, as into NumPy's own
        out[...] = 0  # an XLA buffer's read-only view would refuse this


def test_predict_from_proba_thresholds_at_one_half_on_every_backend(backend):
    proba = backend.asarray(np.array([[0.0], [0.4999], [0.5], [0.93]]))
    out = backend.to_numpy(model.predict_from_proba(proba, backend.xp))
    np.testing.assert_array_equal(out, [[0], [0], [1], [1]])


def test_network_parse_reads_units_and_activations():
    net = Network.parse("25:relu, 15:relu,10:softmax")
    assert (net.input_dim, net.outputs, net.activations) == (400, 10, ("relu", "relu", "softmax"))
    assert net.spec == "25:relu,15:relu,10:softmax" and Network.parse(LAB_NETWORK.spec) == LAB_NETWORK
    assert str(LAB_NETWORK) == "400-25-15-1 (sigmoid, sigmoid, sigmoid)"
    for bad, match in (("25", "write units:activation"), ("25:tanh", "unknown activation 'tanh'"),
                       ("0:relu", "positive whole number"), ("", "layers must be text")):
        with pytest.raises(ValueError, match=match):
            Network.parse(bad)


@pytest.mark.parametrize("z", [[0.0, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4 + 1, -1e4]])
def test_softmax_is_stable_and_sums_to_one(backend, dtype, z):
    with np.errstate(over="raise", invalid="raise"):
        out = backend.to_numpy(model.softmax(backend.asarray(np.array([z]), dtype), backend.xp))
    expected = np.exp(np.array(z) - max(z))
    expected /= expected.sum()
    np.testing.assert_allclose(out[0], expected, rtol=1e-6, atol=1e-30)


def test_predict_from_proba_takes_the_argmax_of_several_outputs(backend):
    proba = backend.asarray(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]))
    np.testing.assert_array_equal(backend.to_numpy(model.predict_from_proba(proba, backend.xp)), [1, 0])


def test_weights_files_carry_the_network_and_the_training_record(tmp_path):
    net = Network.parse("7:relu,3:softmax", input_dim=400)
    p = model.init_params(1, net).with_record(data={"classes": [0, 1, 2], "fingerprint": "abc"})
    q = model.load(model.save(p, tmp_path / "w.npz"))
    assert q.network == net and q.record == p.record
    old = dict(np.load(tmp_path / "w.npz"))  # a file of format 1 (before records) still loads, with none
    del old["record"]
    old["format_version"] = np.asarray(1)
    np.savez(tmp_path / "old.npz", **old)
    assert model.load(tmp_path / "old.npz").record == {}
    with pytest.raises(TypeError, match="JSON serializable"):
        p.with_record(bad=object())


def test_without_xp_the_namespace_is_found_from_the_arrays_or_the_error_says_to_pass_it(backend):
    """array-api-compat finds NumPy, JAX, PyTorch, CuPy and array-api-strict; TensorFlow needs xp=, and says so."""
    z = backend.asarray(np.array([0.0, 2.0]))
    try:
        found = sigmoid(z)
    except TypeError as err:
        assert "pass it as xp=" in str(err)
        return
    np.testing.assert_allclose(backend.to_numpy(found), backend.to_numpy(sigmoid(z, backend.xp)))
