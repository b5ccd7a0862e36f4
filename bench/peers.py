"""What a user would run instead of xpnet: the lab's Keras model and ONNX Runtime on the same weights.

Both take host (NumPy) inputs, as their users pass them, and are built from the very
weights xpnet benchmarks, so every row of a table computes the same probabilities.
Keras and ONNX Runtime are imported only when a peer is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: ONNX element types by dtype name; ONNX Runtime's CPU MatMul has no bfloat16 kernel.
_ONNX_DTYPES = {"float32": 1, "float64": 11}  # onnx.TensorProto.FLOAT, DOUBLE


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


def onnx_graph(params: Any, dtype: str = "float32") -> bytes:
    """A serialized ONNX model of the network: MatMul, Add, Sigmoid per layer, batch size left dynamic."""
    import onnx
    from onnx import helper, numpy_helper

    if dtype not in _ONNX_DTYPES:
        raise LookupError(f"ONNX Runtime's CPU kernels have no {dtype} MatMul")
    elem = _ONNX_DTYPES[dtype]
    host = params.astype(dtype)
    nodes, inits, prev = [], [], "X"
    for i, (W, b) in enumerate(host.layers, start=1):
        inits += [numpy_helper.from_array(np.asarray(W), f"W{i}"), numpy_helper.from_array(np.asarray(b), f"b{i}")]
        nodes += [
            helper.make_node("MatMul", [prev, f"W{i}"], [f"z{i}"]),
            helper.make_node("Add", [f"z{i}", f"b{i}"], [f"y{i}"]),
            helper.make_node("Sigmoid", [f"y{i}"], [f"a{i}"]),
        ]
        prev = f"a{i}"
    n_in, n_out = params.network.input_dim, params.network.layers[-1].units
    graph = helper.make_graph(
        nodes, "xpnet", [helper.make_tensor_value_info("X", elem, ["m", n_in])],
        [helper.make_tensor_value_info(prev, elem, ["m", n_out])], initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="xpnet.bench")
    model.ir_version = 8  # readable by every ONNX Runtime since 1.10
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_session(params: Any, dtype: str = "float32") -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime CPU session on the network, with its default optimisation and threads."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_graph(params, dtype), providers=["CPUExecutionProvider"])
    out = session.get_outputs()[0].name
    return lambda X: session.run([out], {"X": X})[0]
