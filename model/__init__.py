"""The network, written once against an Array API namespace ``xp``.

This package imports no framework and nothing of xpnet outside itself (``import-linter``
checks both): every function takes arrays of one namespace and that namespace as ``xp``.
NumPy appears only as the host format of parameters (their initial draw and their files),
never in the forward pass or the training math.
"""

from __future__ import annotations

from .activations import ACTIVATIONS, DERIVATIVES, ROWWISE, activation, linear, relu, sigmoid, softmax
from .checks import InputError, InputTypeError, check_seed
from .files import FileFormatError
from .layers import dense, dense_loop
from .namespace import namespace_of
from .network import (
    LAB_NETWORK,
    THRESHOLD,
    VARIANTS,
    LayerSpec,
    Network,
    bind_activations,
    forward_checked,
    forward_loop,
    forward_matmul,
    forward_one_loop,
    forward_trace,
    in_row_blocks,
    predict_from_proba,
    widen_hidden,
)
from .offset import OffsetRows, offset_first_layer, offset_product, offset_sums, offset_weights
from .params import Params, describe, init_params, load, save
from .summary import summary
from .training import LOSSES, Adam, adam_update, check_trainable, loss, loss_and_grads, make_step

__all__ = [
    "ACTIVATIONS", "DERIVATIVES", "LAB_NETWORK", "LOSSES", "ROWWISE", "THRESHOLD", "VARIANTS", "Adam",
    "FileFormatError", "InputError", "InputTypeError", "LayerSpec", "Network", "OffsetRows", "Params", "activation",
    "adam_update", "bind_activations", "check_seed", "check_trainable", "dense", "dense_loop", "describe",
    "forward_checked", "forward_loop", "forward_matmul", "forward_one_loop", "forward_trace", "in_row_blocks",
    "init_params", "linear", "load", "loss", "loss_and_grads", "make_step", "namespace_of", "offset_first_layer",
    "offset_product", "offset_sums", "offset_weights", "predict_from_proba", "relu", "save", "sigmoid", "softmax",
    "summary", "widen_hidden",
]
