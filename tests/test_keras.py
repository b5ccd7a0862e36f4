"""xpnet and the lab's Keras model with the same weights agree."""

from __future__ import annotations

import numpy as np
import pytest

import xpnet
from xpnet import model

keras = pytest.importorskip("keras", reason="Keras is not installed (pip install \"xpnet[tensorflow]\")")


@pytest.fixture(scope="module")
def params():
    return model.init_params(seed=7)


@pytest.fixture(scope="module")
def keras_model(params):
    return xpnet.to_keras(params)


def test_to_keras_builds_the_labs_model(keras_model):
    assert keras_model.name == "my_model"
    assert [layer.name for layer in keras_model.layers] == ["L1", "L2", "L3"]
    assert [layer.count_params() for layer in keras_model.layers] == [10025, 390, 16]
    assert keras_model.count_params() == 10431
    assert keras_model.input_shape == (None, 400)
    assert all(layer.activation.__name__ == "sigmoid" for layer in keras_model.layers)


def test_from_keras_reads_the_weights_back_exactly(params, keras_model):
    back = xpnet.from_keras(keras_model)
    assert back.network == params.network
    for a, b in zip(params.weights + params.biases, back.weights + back.biases, strict=True):
        np.testing.assert_array_equal(a, b)


def test_xpnet_and_keras_give_the_same_probabilities_and_predictions(backend, params, keras_model):
    X = np.random.default_rng(0).random((32, 400), dtype=np.float32)
    X[:, :200] *= 4.0  # spread the outputs away from 0.5 so both classes occur
    expected = keras_model.predict(X, verbose=0)
    m = xpnet.Model(params, backend)
    for variant in ("matmul", "jit"):
        np.testing.assert_allclose(m.predict_proba(X, variant), expected, rtol=1e-5)
    np.testing.assert_array_equal(m.predict(X), (expected >= 0.5).astype(np.int32))


def test_from_keras_refuses_layers_without_dense_weights():
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, use_bias=False)])
    with pytest.raises(ValueError, match="not a Dense layer with a bias"):
        xpnet.from_keras(conv)
