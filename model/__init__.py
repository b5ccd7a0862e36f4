"""The lab's network, written once against an Array API namespace ``xp``.

This package imports no framework and never asks which framework it runs on: every
function takes arrays of one namespace (and, optionally, that namespace as ``xp``).
"""

from __future__ import annotations

from typing import Any

from .activations import ACTIVATIONS, activation, linear, relu, sigmoid
from .files import FileFormatError
from .layers import dense, dense_loop
from .network import (
    LAB_NETWORK,
    THRESHOLD,
    VARIANTS,
    LayerSpec,
    Network,
    bind_activations,
    forward_loop,
    forward_matmul,
    forward_one_loop,
    predict_from_proba,
)
from .params import Params, describe, init_params, load, save
from .summary import summary


def to_keras(params: Params, name: str = "my_model") -> Any:
    """The lab's Keras Sequential model holding ``params`` (needs Keras; see ``xpnet.backends.keras_interop``)."""
    from xpnet.backends.keras_interop import to_keras as build

    return build(params, name)


def from_keras(model: Any) -> Params:
    """xpnet parameters read from a Keras Sequential model of Dense layers."""
    from xpnet.backends.keras_interop import from_keras as read

    return read(model)


__all__ = [
    "ACTIVATIONS", "FileFormatError", "activation", "LAB_NETWORK", "LayerSpec", "Network", "Params", "THRESHOLD",
    "VARIANTS", "bind_activations", "dense", "dense_loop", "describe", "forward_loop", "forward_matmul",
    "forward_one_loop",
    "from_keras", "init_params", "linear", "load", "predict_from_proba", "relu", "save", "sigmoid",
    "summary", "to_keras",
]
