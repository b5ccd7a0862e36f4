"""Training written once: gradients against autodiff and finite differences, Adam against
Keras, the same training on every backend, exact resumption, and the lab's accuracy on MNIST."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from xpnet import backends, data, model, train
from xpnet.model import LayerSpec, Network

SMALL = Network(6, (LayerSpec(5), LayerSpec(4), LayerSpec(1)))
#: The three losses: binary cross-entropy (the lab), softmax cross-entropy (the sequel), squared error.
NETWORKS = {
    "sigmoid-bce": SMALL,
    "relu-softmax-ce": Network.parse("5:relu,4:relu,3:softmax", input_dim=6),
    "sigmoid-linear-mse": Network.parse("5:sigmoid,4:linear,2:linear", input_dim=6),
}


def _problem(seed: int = 0, m: int = 7, network: Network = SMALL):
    params = model.init_params(seed, network, dtype="float64")
    rng = np.random.default_rng(seed)
    # biases that are not zero, so that their gradients are tested too
    params = model.Params(network, params.weights, tuple(rng.normal(0, 0.5, b.shape) for b in params.biases))
    X = rng.normal(0, 1, (m, 6))
    outputs = network.outputs
    if network.activations[-1] == "linear":
        y = rng.normal(0, 1, (m, outputs))
    else:
        y = train.targets(rng.integers(0, max(2, outputs), m), m, outputs)
    return params, X, y


def _hand_grads(params, X, y):
    import array_api_compat.numpy as xp

    _, grads = model.loss_and_grads(params.layers, X, y, params.network.activations, xp)
    return [g for pair in grads for g in pair]


def _rel_err(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(np.asarray(b))), 1e-300))


@pytest.mark.parametrize("network", NETWORKS.values(), ids=NETWORKS)
def test_gradients_match_central_finite_differences(network):
    import array_api_compat.numpy as xp

    params, X, y = _problem(network=network)
    flat = [a.copy() for pair in params.layers for a in pair]
    hand = _hand_grads(params, X, y)
    acts = params.network.activations
    h = 1e-6
    for k, a in enumerate(flat):
        numeric = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            for sign in (1, -1):
                shifted = [f.copy() for f in flat]
                shifted[k][idx] += sign * h
                layers = tuple(zip(shifted[0::2], shifted[1::2], strict=True))
                numeric[idx] += sign * float(model.loss(layers, X, y, acts, xp)) / (2 * h)
        assert _rel_err(hand[k], numeric) < 1e-7, f"parameter {k}"


@pytest.mark.parametrize("network", NETWORKS.values(), ids=NETWORKS)
def test_hand_derived_gradients_match_autodiff(backend, network):
    if backend.autodiff is None:
        pytest.skip(f"{backend.name} has no automatic differentiation")
    acts = network.activations

    def loss(flat):
        return model.loss(tuple(zip(flat[0::2], flat[1::2], strict=True)), X_, y_, acts, backend.xp)

    for seed in range(3):
        params, X, y = _problem(seed, network=network)
        X_, y_ = backend.asarray(X, "float64"), backend.asarray(y, "float64")
        auto = backend.grad(loss)([backend.asarray(a, "float64") for pair in params.layers for a in pair])
        for k, (hand, found) in enumerate(zip(_hand_grads(params, X, y), auto, strict=True)):
            assert _rel_err(hand, backend.to_numpy(found)) <= 1e-10, f"seed {seed}, parameter {k}"


def test_adam_step_matches_keras_adam():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=(3, 2)), [rng.normal(size=(3, 2)) for _ in range(5)]
    var = keras.Variable(w0.astype(np.float32))
    opt = keras.optimizers.Adam()
    import array_api_compat.numpy as xp

    p, m, v = (w0.astype(np.float32),), (np.zeros((3, 2), np.float32),), (np.zeros((3, 2), np.float32),)
    adam = model.Adam()
    for step, g in enumerate(grads, start=1):
        opt.apply_gradients([(keras.ops.convert_to_tensor(g.astype(np.float32)), var)])
        p, m, v = model.adam_update(p, (g.astype(np.float32),), m, v, np.float32(adam.alpha(step)), adam, xp)
    np.testing.assert_allclose(p[0], keras.ops.convert_to_numpy(var), rtol=1e-6)


@pytest.mark.parametrize("z, y, expected", [(1e4, 0.0, 1e4), (1e4, 1.0, 0.0), (-1e4, 1.0, 1e4), (-1e4, 0.0, 0.0),
                                            (0.0, 1.0, np.log(2)), (0.0, 0.0, np.log(2))])
def test_loss_is_finite_and_exact_at_extreme_logits(backend, dtype, z, y, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is right
            value = backend.to_numpy(model.training.bce_from_logits(backend.asarray(np.array([[z]]), dtype),
                                                           backend.asarray(np.array([[y]]), dtype), backend.xp))
    assert np.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-6, abs=1e-7)


@pytest.fixture(scope="module")
def builtin_split():
    return data.train_test_split(data.load_builtin(), test_fraction=0.2, seed=0)


@pytest.fixture(scope="module")
def numpy_run(builtin_split):
    tr, _ = builtin_split
    return train.fit(model.init_params(0), tr.X, tr.y, backend="numpy", dtype="float64")


#: Epochs a chunked (lazy) backend trains in these tests: each step builds and runs a graph of ~150 tasks
#: (about 0.3 s on 2 cores, where NumPy takes 0.1 ms), so its first epochs are compared with NumPy's.
CHUNKED_EPOCHS = 2


def test_training_is_the_same_on_every_backend_in_float64(backend, builtin_split, numpy_run):
    tr, te = builtin_split
    epochs = CHUNKED_EPOCHS if backend.chunked else 20
    ref_params, ref = numpy_run if epochs == 20 else train.fit(model.init_params(0), tr.X, tr.y, backend="numpy",
                                                               dtype="float64", epochs=epochs)
    params, history = train.fit(model.init_params(0), tr.X, tr.y, backend=backend.name, device=backend.device,
                                dtype="float64", epochs=epochs)
    assert len(history.losses) == epochs and history.losses[-1] < history.losses[0]
    np.testing.assert_allclose(history.losses, ref.losses, rtol=1e-6)
    np.testing.assert_array_equal(train_predictions(params, te.X), train_predictions(ref_params, te.X))


def train_predictions(params, X):
    from xpnet import Model

    return Model(params, "numpy", dtype="float64").predict(X)


def test_compiled_training_step_gives_the_eager_result(backend, builtin_split, numpy_run):
    if backend.compiler is None:
        pytest.skip(f"{backend.name} has no compiler")
    tr, _ = builtin_split
    _, ref = numpy_run
    epochs = CHUNKED_EPOCHS if backend.chunked else 5
    _, history = train.fit(model.init_params(0), tr.X, tr.y, backend=backend.name, device=backend.device,
                           dtype="float64", jit=True, epochs=epochs)
    np.testing.assert_allclose(history.losses, ref.losses[:epochs], rtol=1e-6)


def test_same_seed_gives_bit_identical_training(builtin_split):
    tr, _ = builtin_split
    a, ha = train.fit(model.init_params(3), tr.X, tr.y, seed=3, epochs=4)
    b, hb = train.fit(model.init_params(3), tr.X, tr.y, seed=3, epochs=4)
    assert ha.losses == hb.losses
    for x, z in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        np.testing.assert_array_equal(x, z)
    c, _ = train.fit(model.init_params(3), tr.X, tr.y, seed=4, epochs=4)
    assert not np.array_equal(a.weights[0], c.weights[0])  # the seed does change the batch order


def test_resuming_from_a_checkpoint_is_the_uninterrupted_run(tmp_path, builtin_split):
    tr, _ = builtin_split
    full, h_full = train.fit(model.init_params(0), tr.X, tr.y, epochs=6)
    ckpt = tmp_path / "w.npz.ckpt.npz"
    train.fit(model.init_params(0), tr.X, tr.y, epochs=2, checkpoint=ckpt)
    resumed, h_res = train.fit(model.init_params(0), tr.X, tr.y, epochs=6, checkpoint=ckpt, resume=True)
    assert h_res.losses == h_full.losses and len(h_res.epoch_seconds) == 4
    for x, z in zip(full.weights + full.biases, resumed.weights + resumed.biases, strict=True):
        np.testing.assert_array_equal(x, z)


def test_a_checkpoint_of_another_run_is_refused(tmp_path, builtin_split):
    tr, _ = builtin_split
    ckpt = tmp_path / "c.npz"
    train.fit(model.init_params(0), tr.X, tr.y, epochs=1, checkpoint=ckpt, seed=0)
    with pytest.raises(model.FileFormatError, match="belongs to another run"):
        train.fit(model.init_params(0), tr.X, tr.y, epochs=2, checkpoint=ckpt, seed=1, resume=True)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be a positive whole number"),
    ({"batch_size": 0}, "batch_size must be a positive whole number"),
])
def test_fit_rejects_bad_settings(kwargs, match, builtin_split):
    tr, _ = builtin_split
    with pytest.raises(ValueError, match=match):
        train.fit(model.init_params(0), tr.X, tr.y, **kwargs)


def test_fit_refuses_layers_it_has_no_loss_or_derivative_for():
    with pytest.raises(ValueError, match="no derivative for a hidden layer of 'softmax'"):
        train.fit(model.init_params(0, Network.parse("3:softmax,2:softmax", 4)), np.zeros((2, 4)), np.zeros(2))


def test_fit_refuses_labels_that_are_not_class_indices_of_the_output():
    net = Network.parse("3:relu,4:softmax", 4)
    with pytest.raises(ValueError, match=r"y\[1\] is 4"):
        train.fit(model.init_params(0, net), np.zeros((2, 4)), np.array([3, 4]))


def test_resume_without_a_checkpoint_says_so(tmp_path, builtin_split):
    tr, _ = builtin_split
    with pytest.raises(FileNotFoundError, match="nothing to resume: no checkpoint at"):
        train.fit(model.init_params(0), tr.X, tr.y, epochs=1, checkpoint=tmp_path / "none.npz", resume=True)


@pytest.mark.parametrize("z, label, expected", [
    ([[1e4, 0.0, -1e4]], 0, 0.0), ([[1e4, 0.0, -1e4]], 2, 2e4), ([[-1e4, -1e4, -1e4]], 1, np.log(3)),
    ([[0.0, 0.0]], 0, np.log(2)),
])
def test_softmax_loss_is_finite_and_exact_at_extreme_logits(backend, dtype, z, label, expected):
    z = np.array(z)
    target = train.targets(np.array([label]), 1, z.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            value = backend.to_numpy(model.training.softmax_ce_from_logits(
                backend.asarray(z, dtype), backend.asarray(target, dtype), backend.xp))
    assert value == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_the_record_of_a_fit_says_how_it_was_trained(builtin_split):
    tr, _ = builtin_split
    params, history = train.fit(model.init_params(0).with_record(data={"source": "test"}), tr.X, tr.y, epochs=2,
                                seed=5, batch_size=16)
    record = params.record
    assert record["data"] == {"source": "test"}
    assert record["training"] | {} == {"epochs": 2, "batch_size": 16, "seed": 5, "optimizer": "Adam(0.001)",
                                       "backend": "numpy", "device": "cpu", "dtype": "float32", "jit": False,
                                       "final_loss": history.losses[-1]}


@pytest.mark.slow  # the lab's 1000 steps on MNIST on every backend: 20 s on 2 cores
def test_lab_settings_on_mnist_zeros_and_ones_reach_99_percent_on_every_backend(mnist_dir):
    """The lab's fit (20 epochs, Adam 0.001, batch 32, float32) on a seeded split of the real MNIST test set."""
    digits = data.load(mnist_dir)
    tr, te = data.train_test_split(digits, test_fraction=0.2, seed=0)
    predictions = {}
    # a chunked (lazy) backend builds each step's graph, ~0.3 s a step: the lab's 1000 steps would take minutes; it
    # trains the same steps as NumPy in test_training_is_the_same_on_every_backend_in_float64
    eager = [name for name, device in backends.available() if device == "cpu" and not backends.get(name).chunked]
    for name in eager:
        compiles = backends.get(name).compiler is not None
        params, history = train.fit(model.init_params(0), tr.X, tr.y, backend=name, jit=compiles)
        assert history.losses[-1] < 0.03, f"{name}: final loss {history.losses[-1]}"
        assert train.accuracy(params, te.X, te.y) >= 0.99, name
        predictions[name] = train_predictions(params, te.X)
    for name, pred in predictions.items():
        np.testing.assert_array_equal(pred, predictions["numpy"], err_msg=name)


#: Each kind of degenerate input with each extreme label; the default run takes one label per kind, both for
#: the large inputs (the saturating case), and ``-m slow`` the whole cross.
SLOW_DEGENERATE = {("all zero", 1.0), ("all identical", 0.0)}
DEGENERATE = [pytest.param(inputs, labels, marks=[pytest.mark.slow] if (inputs, labels) in SLOW_DEGENERATE else [])
              for inputs in ("all zero", "all identical", "large") for labels in (0.0, 1.0)]


#: float64 on every backend is ``-m slow`` (seconds of compilation each, 12 s for JAX, for the same code); the
#: default run trains float64 where NumPy computes, whose warnings are the ones this test turns into errors.
DEGENERATE_DTYPES = ["float32", pytest.param("float64", marks=pytest.mark.slow)]


@pytest.mark.parametrize("precision", DEGENERATE_DTYPES)
@pytest.mark.parametrize(("inputs", "labels"), DEGENERATE)
def test_training_on_degenerate_data_stays_finite_without_warnings(backend, precision, inputs, labels):
    """Pre-activations far out, labels all at one extreme, constant inputs: loss, gradients and Adam stay finite."""
    reason = backend.dtype_missing(precision)
    if reason:
        pytest.skip(reason)
    _train_degenerate(backend, precision, inputs, labels)


@pytest.mark.parametrize(("inputs", "labels"), DEGENERATE)
@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
def test_training_on_degenerate_data_stays_finite_in_float64_where_numpy_computes(name, inputs, labels):
    st = backends.status(name, "cpu")
    if not st.available:
        pytest.skip(st.reason)
    _train_degenerate(backends.get(name, "cpu"), "float64", inputs, labels)


def _train_degenerate(backend, dtype: str, inputs: str, labels: float) -> None:
    X = {"all zero": np.zeros((40, 6)), "all identical": np.full((40, 6), 0.7), "large": np.full((40, 6), 1e3)}[inputs]
    y = np.full((40, 1), labels)
    start = model.init_params(0, SMALL)
    params = model.Params(SMALL, [W * 50 for W in start.weights], start.biases)  # pre-activations far out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            trained, history = train.fit(params, X, y, backend=backend.name, device=backend.device, dtype=dtype,
                                         epochs=3, batch_size=16)
    assert np.isfinite(history.losses).all()
    assert all(np.isfinite(a).all() for a in trained.weights + trained.biases)
