"""The network as data, and its forward pass in the lab's two styles.

A network is an input width and a list of dense layers (units, activation); the lab's
400-25-15-1 sigmoid classifier is :data:`LAB_NETWORK`, and its multiclass sequel
(400-25-15-10, relu, relu, softmax) is ``Network.parse("25:relu,15:relu,10:softmax")``:
the same code, other data. The forward functions take the layers' ``(W, b)`` pairs as
arrays of any Array API namespace ``xp``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .activations import ROWWISE, activation, linear
from .layers import Affine, dense, dense_loop, not_finite_as_nan, pre_activation
from .offset import OffsetRows, offset_first_layer, offset_sums

#: Forward variants: per unit and per example as in the lab's ``my_dense``, one matmul
#: per layer for the batch as in ``my_dense_v``, and that matmul forward compiled.
VARIANTS = ("loop", "matmul", "jit")

#: Probability at or above which a one-unit output predicts 1, as in the lab.
THRESHOLD = 0.5


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer: how many units, which activation (by Keras name), and its name."""

    units: int
    activation: str = "sigmoid"
    name: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.units, bool) or not isinstance(self.units, int) or self.units < 1:
            raise ValueError(f"a layer needs a positive whole number of units, got {self.units!r}")
        activation(self.activation)  # unknown names fail here, not at the first forward


@dataclass(frozen=True)
class Network:
    """A stack of dense layers on inputs of ``input_dim`` features."""

    input_dim: int
    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        if isinstance(self.input_dim, bool) or not isinstance(self.input_dim, int) or self.input_dim < 1:
            raise ValueError(f"input_dim must be a positive whole number, got {self.input_dim!r}")
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def parse(cls, text: str, input_dim: int = 400) -> Network:
        """A network from ``"25:sigmoid,15:sigmoid,1:sigmoid"`` (units:activation per layer, comma-separated)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"layers must be text like '25:sigmoid,15:sigmoid,1:sigmoid', got {text!r}")
        specs = []
        for i, part in enumerate(text.split(","), start=1):
            units, sep, act = part.strip().partition(":")
            if not sep or not units.strip().isdigit():
                raise ValueError(f"layer {i} of {text!r} is {part.strip()!r}; write units:activation, "
                                 "e.g. 25:relu")
            specs.append(LayerSpec(int(units), act.strip(), f"L{i}"))
        return cls(input_dim, tuple(specs))

    def __str__(self) -> str:
        """'400-25-15-1 (sigmoid, sigmoid, sigmoid)'."""
        widths = "-".join(str(w) for w in [self.input_dim] + [s.units for s in self.layers])
        return f"{widths} ({', '.join(self.activations)})"

    @property
    def spec(self) -> str:
        """The layers as ``Network.parse`` reads them: '25:sigmoid,15:sigmoid,1:sigmoid'."""
        return ",".join(f"{s.units}:{s.activation}" for s in self.layers)

    @property
    def shapes(self) -> list[tuple[tuple[int, int], tuple[int]]]:
        """(W shape, b shape) of each layer."""
        widths = [self.input_dim] + [layer.units for layer in self.layers]
        return [((n_in, n_out), (n_out,)) for n_in, n_out in zip(widths, widths[1:], strict=False)]

    @property
    def count(self) -> int:
        """Trainable numbers, as Keras counts them (the lab's: 10,025 + 390 + 16 = 10,431)."""
        return sum(n_in * n_out + n_out for (n_in, n_out), _ in self.shapes)

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(layer.activation for layer in self.layers)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(layer.name or f"L{i}" for i, layer in enumerate(self.layers, start=1))

    @property
    def outputs(self) -> int:
        """Units of the last layer: 1 for a 0/1 classifier, the number of classes for softmax."""
        return self.layers[-1].units


#: The lab's model: Dense(25, sigmoid) -> Dense(15, sigmoid) -> Dense(1, sigmoid) on 400 pixels.
LAB_NETWORK = Network.parse("25:sigmoid,15:sigmoid,1:sigmoid")

Layers = Sequence[tuple[Any, Any]]
Activations = Sequence[str | Callable[[Any], Any]]


def bind_activations(activations: Activations, xp: Any,
                     kernels: Mapping[str, Callable[..., Any]] | None = None) -> tuple[Callable[[Any], Any], ...]:
    """Activation names as functions of z alone with ``xp`` bound; callables pass through.

    ``kernels``: a backend's own fused functions by activation name (``Backend.kernels()``), used in
    place of this package's Array API compositions where given; the others stay standard. Hot
    loops bind once (``xpnet.Model`` does) and pass the result, saving the look-ups per call.
    """
    kernels = kernels or {}
    return tuple(kernels.get(a) or partial(activation(a), xp=xp) if isinstance(a, str) else a for a in activations)


def forward_matmul(layers: Layers, X: Any, activations: Activations, xp: Any, affine: Affine | None = None) -> Any:
    """Outputs for a batch X (m, n) -> (m, units_out): one ``dense`` per layer.

    A 1-D X is one example and gives a 1-D result. ``affine``: a backend's fused ``A @ W + b``, or None.
    """
    A = X
    for (W, b), g in zip(layers, bind_activations(activations, xp), strict=True):
        A = dense(A, W, b, g, xp=xp, affine=affine)
    return A


def forward_checked(layers: Layers, X: Any, activations: Activations, xp: Any,
                    affine: Affine | None = None, compiled: bool = False,
                    all_finite: Callable[[Any], Any] | None = None,
                    offset_first: Callable[[OffsetRows, Any, Any], Any] | None = None) -> tuple[Any, Any]:
    """``forward_matmul``'s outputs, and a 0-d bool array that is False when X must be refused: a sum of the first
    layer is not finite (eager), or an output is not (``compiled``, and OffsetRows: below).

    Why this checks X: a NaN or an infinity in a row of X makes that row's first-layer sums non-finite
    whatever the weights (inf * w is +-inf, inf * 0 and NaN * w are NaN, and nothing added to them
    comes back finite), and so does a finite row whose sums overflow. Checking the (m, units) sums
    finds every such row for units / n_features of the cost of scanning X (1/16 for the lab's
    network), inside the compiled forward where there is one. A BLAS that skipped zero weights would
    break the premise: ``tests/test_kernels.py`` proves it on every backend's matmul.

    ``compiled``: the form a compiler fuses. There the first layer's activations are NaN wherever its
    sums are not finite (:func:`~xpnet.model.layers.not_finite_as_nan`; an infinite sum's activation would
    be a finite 0 or 1), the NaN reaches the row's outputs (NaN * w is NaN, even for w = 0:
    ``tests/test_kernels.py`` proves it through every backend's compiled layers), and the flag is whether
    every output is finite. The check is then a select inside the activation's own fused pass and a
    reduction of the (m, units_out) outputs, where ``all(isfinite(Z))`` was a pass of its own over the
    (m, units) sums. Time over the unchecked compiled forward's, that way against this way (interleaved
    rounds, 2026-11-30): JAX 1.07x against 1.04x at m = 1000, 1.06x against 0.99x at 10^5, 1.10x against
    1.02x at 10^6; TensorFlow 1.05x against 1.00x, 1.11x against 0.98x, 1.10x against 0.97x; PyTorch 1.00x
    against 1.01x, 1.00x against 1.00x, 1.13x against 1.01x. The flag is then also False for a row that
    overflows in a later layer, which a caller refuses as well (``xpnet.Model.predict_proba``).

    X may be :class:`OffsetRows` (host memory a framework shares only from an aligned address): the first
    layer is then :func:`offset_first_layer` (compiled), checked the compiled way, or eagerly
    :func:`offset_sums`; its non-finite rows are a batch's to refuse whole. ``offset_first``: ``(X, W, b) ->``
    that first layer's activations, NaN in the rows to refuse (:func:`offset_first_layer` with this forward's
    first activation), as one call of the caller's choosing (an eager forward's, compiled by its framework),
    or None; it is checked the compiled way too. ``all_finite``: a backend's one call for
    ``all(isfinite(a))`` in eager code (``Backend.kernels``), or None.
    """
    (W, b), *rest = layers
    g, *others = bind_activations(activations, xp)
    if isinstance(X, OffsetRows) and (compiled or offset_first is not None):
        A = offset_first_layer(X, W, b, g, xp) if offset_first is None else offset_first(X, W, b)
    elif compiled:
        Z = pre_activation(X, W, b, xp, affine)
        A = not_finite_as_nan(Z, g(Z), xp)
    else:
        Z = offset_sums(X, W, xp) + b if isinstance(X, OffsetRows) else pre_activation(X, W, b, xp, affine)
        return forward_matmul(rest, g(Z), others, xp, affine), _all_finite(Z, xp, all_finite)
    out = forward_matmul(rest, A, others, xp, affine)
    return out, _all_finite(out, xp, None if compiled else all_finite)  # a backend's kernel is for eager code


def _all_finite(a: Any, xp: Any, kernel: Callable[[Any], Any] | None) -> Any:
    """Whether every value of ``a`` is finite, as a 0-d bool array: ``kernel(a)``, or the standard's two calls."""
    return xp.all(xp.isfinite(a)) if kernel is None else kernel(a)


def in_row_blocks(forward: Callable[[Layers, Any], Any], rows: int, xp: Any) -> Callable[[Layers, Any], Any]:
    """``forward`` run on consecutive blocks of ``rows`` rows of a batch, the outputs concatenated.

    Cache-aware eager execution: each block goes through every layer before the next starts, so a
    block's hidden activations are still in cache when the next layer reads them (a whole batch's
    are written to memory and read back once per element-wise pass). Rows are computed apart, so
    the result is the whole batch's. A forward that returns ``(outputs, finite)`` (``forward_checked``)
    gets its outputs concatenated and its flags combined.
    """
    def blocked(layers: Layers, X: Any) -> Any:
        if X.ndim == 1 or X.shape[0] <= rows:
            return forward(layers, X)
        parts = [forward(layers, X[lo:lo + rows, ...]) for lo in range(0, X.shape[0], rows)]
        if not isinstance(parts[0], tuple):
            return xp.concat(parts, axis=0)
        finite = parts[0][1]
        for _, flag in parts[1:]:
            finite = xp.logical_and(finite, flag)
        return xp.concat([out for out, _ in parts], axis=0), finite

    return blocked


def widen_hidden(layers: Layers, activations: Activations, multiple: int, xp: Any) -> tuple[tuple[Any, Any], ...]:
    """The same network with each hidden layer's units padded to a multiple of ``multiple``: the same outputs.

    Why: a framework's matrix product may be measurably faster at such widths (PyTorch's on a CPU:
    m x 400 by 400 x 32 in 0.79x the time of 400 x 25 at m = 1000, measured). The added units have zero
    weights and bias in, so their sums are 0 (NaN or inf only in a row with a NaN or inf, which
    the first layer's check refuses anyway), and zero weights out into the next layer, so they add
    exact zeros to its sums. Only layers followed by another and with an element-wise activation
    named here (all of which map 0 to a finite value) are widened; a row-wise one (softmax) would
    count the added units, and the last layer's width is the output's.
    """
    widened, added = [], 0  # added: units the layer before gained, i.e. zero rows for this layer's W
    for i, ((W, b), name) in enumerate(zip(layers, activations, strict=True)):
        if added:
            W = xp.concat([W, _zeros_along(W[:1, :], 0, added, xp)], axis=0)
        hidden = i < len(layers) - 1 and isinstance(name, str) and name not in ROWWISE
        added = -W.shape[1] % multiple if hidden else 0
        if added:
            W = xp.concat([W, _zeros_along(W[:, :1], 1, added, xp)], axis=1)
            b = xp.concat([b, _zeros_along(b[..., :1], b.ndim - 1, added, xp)], axis=-1)
        widened.append((W, b))
    return tuple(widened)


def _zeros_along(edge: Any, axis: int, n: int, xp: Any) -> Any:
    """Zeros of the dtype and device of ``edge`` (an array 1 wide along ``axis``), ``n`` wide there: made from
    the array itself, because arrays being traced by a compiler (JAX's) have no ``device`` to ask."""
    shape = list(edge.shape)
    shape[axis] = n
    return xp.broadcast_to(xp.zeros_like(edge), tuple(shape))


def forward_trace(layers: Layers, X: Any, activations: Activations, xp: Any) -> tuple[list[Any], Any]:
    """What training needs of the forward: the input of every layer and the last layer's logits.

    Returns ``([X, A1, ..., A_{L-1}], z_L)``: the hidden activations through ``dense``, and the
    output layer's pre-activation (``dense`` with the identity), which the from-logits losses take.
    """
    inputs = [X]
    for (W, b), g in zip(layers[:-1], bind_activations(activations[:-1], xp), strict=True):
        inputs.append(dense(inputs[-1], W, b, g, xp=xp))
    W, b = layers[-1]
    return inputs, dense(inputs[-1], W, b, linear, xp=xp)


def forward_one_loop(layers: Layers, x: Any, activations: Activations, xp: Any) -> Any:
    """One example (n,) through every layer, one unit at a time (the lab's ``my_sequential``)."""
    a = x
    for (W, b), g, name in zip(layers, bind_activations(activations, xp), activations, strict=True):
        a = dense_loop(a, W, b, g, xp=xp, rowwise=name in ROWWISE)
    return a


def forward_loop(layers: Layers, X: Any, activations: Activations, xp: Any) -> Any:
    """A batch one example at a time (the lab's ``my_predict``); 1-D X is one example."""
    if X.ndim == 1:
        return forward_one_loop(layers, X, activations, xp)
    return xp.stack([forward_one_loop(layers, X[i, ...], activations, xp) for i in range(X.shape[0])])


def predict_from_proba(proba: Any, xp: Any, threshold: float = THRESHOLD) -> Any:
    """Class predictions from the network's outputs, as int32 of the same shape, less the class axis.

    One output unit (the lab): 1 where the probability is at least ``threshold``, shape (m, 1)
    as the lab's ``yhat``. Several (softmax): the index of the largest output, shape (m,).
    """
    if proba.shape[-1] == 1:
        return xp.astype(proba >= threshold, xp.int32)
    return xp.astype(xp.argmax(proba, axis=-1), xp.int32)
