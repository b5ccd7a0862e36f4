"""What a user would run instead of xpnet: the lab's Keras model and ONNX Runtime on the same weights.

Both take host (NumPy) inputs, as their users pass them, and are built from the very
weights xpnet benchmarks, so every row of a table computes the same probabilities.
Keras and ONNX Runtime are imported only when a peer is built; the ONNX graph and its session
come from ``xpnet.onnx_export``, which ``xpnet run`` times too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from xpnet.onnx_export import onnxruntime_session

__all__ = ["keras_call", "keras_input", "keras_model", "keras_predict", "onnxruntime_session"]


def _on_cpu() -> Any:
    """A context placing Keras' TensorFlow work on the CPU, so that its rows are CPU rows on a GPU machine too."""
    import contextlib

    import keras

    if keras.backend.backend() != "tensorflow":
        return contextlib.nullcontext()
    import tensorflow as tf

    return tf.device("/CPU:0")


def keras_model(params: Any) -> Any:
    """The lab's Keras Sequential model holding ``params`` (float32, as Keras builds it), on the CPU."""
    from xpnet.keras_interop import to_keras

    with _on_cpu():
        return to_keras(params)


def keras_predict(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``model.predict(x, verbose=0)``: the lab's call, with its default batch size of 32."""

    def predict(X: np.ndarray) -> np.ndarray:
        with _on_cpu():
            return model.predict(X, verbose=0)

    return predict


def keras_call(model: Any) -> Callable[[Any], Any]:
    """``model(x)``: one eager call on a tensor already converted (no batching, no progress bar)."""

    def call(X: Any) -> Any:
        with _on_cpu():
            return model(X, training=False)

    return call


def keras_input(X: np.ndarray) -> Any:
    """``X`` as a Keras (TensorFlow) tensor on the CPU, converted once, outside the timing."""
    import keras

    with _on_cpu():
        return keras.ops.convert_to_tensor(X)
