"""Any dense network as an ONNX graph, and an ONNX Runtime session on it: the fastest peer on a CPU.

``xpnet run`` times it beside every backend, and ``xpnet bench`` in its suite, both from the very
weights xpnet runs, so their rows compute the same probabilities. ONNX and ONNX Runtime are the
``onnx`` extra, imported only here and only when a graph is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: ONNX element types by dtype name; ONNX Runtime's CPU MatMul has no bfloat16 kernel.
ONNX_DTYPES = {"float32": 1, "float64": 11}  # onnx.TensorProto.FLOAT, DOUBLE

#: The ONNX operator of each activation (``linear`` needs none), with its attributes.
_OPERATORS: dict[str, tuple[str, dict[str, Any]] | None] = {
    "sigmoid": ("Sigmoid", {}), "relu": ("Relu", {}), "softmax": ("Softmax", {"axis": -1}), "linear": None}


def onnx_graph(params: Any, dtype: str = "float32") -> bytes:
    """A serialized ONNX model of ``params``' network: MatMul, Add and the activation per layer, batch size dynamic.

    LookupError for a dtype ONNX Runtime's CPU kernels lack (bfloat16).
    """
    import onnx
    from onnx import helper, numpy_helper

    if dtype not in ONNX_DTYPES:
        raise LookupError(f"ONNX Runtime's CPU kernels have no {dtype} MatMul")
    elem = ONNX_DTYPES[dtype]
    host = params.astype(dtype)
    nodes, inits, prev = [], [], "X"
    for i, ((W, b), name) in enumerate(zip(host.layers, host.network.activations, strict=True), start=1):
        inits += [numpy_helper.from_array(np.asarray(W), f"W{i}"), numpy_helper.from_array(np.asarray(b), f"b{i}")]
        nodes += [helper.make_node("MatMul", [prev, f"W{i}"], [f"z{i}"]),
                  helper.make_node("Add", [f"z{i}", f"b{i}"], [f"y{i}"])]
        prev = f"y{i}"
        operator = _OPERATORS[name]
        if operator is not None:
            nodes.append(helper.make_node(operator[0], [prev], [f"a{i}"], **operator[1]))
            prev = f"a{i}"
    n_in, n_out = params.network.input_dim, params.network.outputs
    graph = helper.make_graph(
        nodes, "xpnet", [helper.make_tensor_value_info("X", elem, ["m", n_in])],
        [helper.make_tensor_value_info(prev, elem, ["m", n_out])], initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="xpnet")
    model.ir_version = 8  # readable by every ONNX Runtime since 1.10
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_session(params: Any, dtype: str = "float32") -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime CPU session on the network, with its default optimisation and threads: X -> outputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_graph(params, dtype), providers=["CPUExecutionProvider"])
    out = session.get_outputs()[0].name
    return lambda X: session.run([out], {"X": X})[0]


def onnxruntime_version() -> str | None:
    """ONNX Runtime's version, or None when it (or ONNX, which builds the graph) is not installed."""
    from xpnet.machine import dist_version

    return dist_version("onnxruntime") if dist_version("onnx") else None
