"""The network as data, and its forward pass in the lab's two styles.

A network is an input width and a list of dense layers (units, activation); the lab's
400-25-15-1 sigmoid classifier is :data:`LAB_NETWORK`. The forward functions take the
layers' ``(W, b)`` pairs as arrays of any Array API namespace ``xp``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .activations import activation
from .layers import dense, dense_loop

#: Forward variants: per unit and per example as in the lab's ``my_dense``, one matmul
#: per layer for the batch as in ``my_dense_v``, and that matmul forward compiled.
VARIANTS = ("loop", "matmul", "jit")

#: Probability at or above which the prediction is 1, as in the lab.
THRESHOLD = 0.5


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer: how many units, which activation (by Keras name), and its name."""

    units: int
    activation: str = "sigmoid"
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.units, int) or self.units < 1:
            raise ValueError(f"a layer needs a positive whole number of units, got {self.units!r}")
        activation(self.activation)  # unknown names fail here, not at the first forward


@dataclass(frozen=True)
class Network:
    """A stack of dense layers on inputs of ``input_dim`` features."""

    input_dim: int
    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.input_dim, int) or self.input_dim < 1:
            raise ValueError(f"input_dim must be a positive whole number, got {self.input_dim!r}")
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def shapes(self) -> list[tuple[tuple[int, int], tuple[int]]]:
        """(W shape, b shape) of each layer."""
        widths = [self.input_dim] + [layer.units for layer in self.layers]
        return [((n_in, n_out), (n_out,)) for n_in, n_out in zip(widths, widths[1:], strict=False)]

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name or f"L{i}" for i, layer in enumerate(self.layers, start=1))


#: The lab's model: Dense(25, sigmoid) -> Dense(15, sigmoid) -> Dense(1, sigmoid) on 400 pixels.
LAB_NETWORK = Network(
    input_dim=400,
    layers=(LayerSpec(25, "sigmoid", "L1"), LayerSpec(15, "sigmoid", "L2"), LayerSpec(1, "sigmoid", "L3")),
)

Layers = Sequence[tuple[Any, Any]]


Activations = Sequence[str | Callable[[Any], Any]]


def bind_activations(activations: Activations, xp: Any) -> tuple[Callable[[Any], Any], ...]:
    """Activation names as functions of z alone with ``xp`` bound; callables pass through.

    Hot loops bind once (``xpnet.Model`` does) and pass the result, saving the look-ups per call.
    """
    return tuple(partial(activation(a), xp=xp) if isinstance(a, str) else a for a in activations)


def forward_matmul(layers: Layers, X: Any, activations: Activations, xp: Any) -> Any:
    """Probabilities for a batch X (m, n) -> (m, units_out): one ``dense`` per layer.

    A 1-D X is one example and gives a 1-D result.
    """
    A = X
    for (W, b), g in zip(layers, bind_activations(activations, xp), strict=True):
        A = dense(A, W, b, g, xp=xp)
    return A


def forward_one_loop(layers: Layers, x: Any, activations: Activations, xp: Any) -> Any:
    """One example (n,) through every layer, one unit at a time (the lab's ``my_sequential``)."""
    a = x
    for (W, b), g in zip(layers, bind_activations(activations, xp), strict=True):
        a = dense_loop(a, W, b, g, xp=xp)
    return a


def forward_loop(layers: Layers, X: Any, activations: Activations, xp: Any) -> Any:
    """A batch one example at a time (the lab's ``my_predict``); 1-D X is one example."""
    if X.ndim == 1:
        return forward_one_loop(layers, X, activations, xp)
    return xp.stack([forward_one_loop(layers, X[i, ...], activations, xp) for i in range(X.shape[0])])


def predict_from_proba(proba: Any, xp: Any, threshold: float = THRESHOLD) -> Any:
    """0/1 predictions: 1 where the probability is at least ``threshold``, as in the lab."""
    return xp.astype(proba >= threshold, xp.int32)
