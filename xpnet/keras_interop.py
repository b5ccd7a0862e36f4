"""Keras models with xpnet's weights, and xpnet weights from Keras models (``xpnet.to_keras``, ``xpnet.from_keras``).

A user-facing bridge like ``xpnet.lab``: it knows the network and Keras, so it lives on
the user's side of the layers, not in the model (which imports no framework) nor in the
backends (which know no network). Keras is imported only when a function is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xpnet.backends import to_numpy
from xpnet.model import LayerSpec, Network, Params


def _keras() -> Any:
    try:
        import keras
    except ImportError as err:
        from xpnet.backends import BackendUnavailable

        raise BackendUnavailable(
            f"Keras is not installed ({err}); install it with: pip install \"xpnet[tensorflow]\""
        ) from err
    return keras


def to_keras(params: Params, name: str = "my_model") -> Any:
    """The lab's Sequential model (``Input((400,))``, Dense layers ``L1``, ``L2``, ``L3``) holding ``params``."""
    keras = _keras()
    host = params.map(to_numpy)
    net = params.network
    model = keras.Sequential(
        [keras.Input(shape=(net.input_dim,))]
        + [
            keras.layers.Dense(spec.units, activation=spec.activation, name=layer_name)
            for spec, layer_name in zip(net.layers, net.layer_names, strict=True)
        ],
        name=name,
    )
    for layer, (W, b) in zip(model.layers, host.layers, strict=True):
        layer.set_weights([np.asarray(W), np.asarray(b)])
    return model


def from_keras(model: Any) -> Params:
    """xpnet parameters (NumPy, the model's dtype) read from a Sequential of Dense layers."""
    dense = [layer for layer in model.layers if layer.get_weights()]
    weights, biases, specs = [], [], []
    for layer in dense:
        found = layer.get_weights()
        if len(found) != 2 or found[0].ndim != 2:
            raise ValueError(f"layer {layer.name!r} is not a Dense layer with a bias; xpnet reads only those")
        W, b = found
        act = getattr(layer.activation, "__name__", str(layer.activation))
        weights.append(W)
        biases.append(b)
        specs.append(LayerSpec(int(W.shape[1]), act, layer.name))
    if not dense:
        raise ValueError("the Keras model has no Dense layers with weights")
    return Params(Network(int(weights[0].shape[0]), tuple(specs)), weights, biases)
