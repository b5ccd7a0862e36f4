"""Training written once against ``xp``: losses from logits, backpropagation, Adam, the step.

The loss follows from the output layer's activation, as Keras' lab pairs them: a
``sigmoid`` output is trained with binary cross-entropy, a ``softmax`` output with
categorical cross-entropy (Keras' ``SparseCategoricalCrossentropy(from_logits=True)``,
the lab sequel's loss), a ``linear`` output with mean squared error. Both cross-entropies
take the output layer's pre-activation ``z`` (the logits) and are computed in forms that
cannot overflow. The targets are arrays shaped like the outputs: 0/1 labels (m, 1) for a
sigmoid, one-hot rows (m, k) for a softmax; the caller builds them on the host.

Each of the three losses has the same gradient at the logits, (output - target) / batch
(times 2 / k for the squared error), so backpropagation is one function for every network.
Gradients are derived by hand, so NumPy and CuPy, which have no autodiff, train too.

The step is a pure function ``(flat, m, v, alpha, X, target) -> (flat, m, v, loss)``: no
array is written into, so it runs on immutable arrays and compiles with ``jax.jit``,
``tf.function`` and ``torch.compile``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .activations import DERIVATIVES, activation
from .network import forward_trace

Layers = tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class Adam:
    """Adam with Keras' defaults (``keras.optimizers.Adam()``)."""

    learning_rate: float = 0.001
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7

    def alpha(self, step: int) -> float:
        """Keras' bias-corrected step size at optimizer step ``step`` (1-based)."""
        return self.learning_rate * math.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step)


def _relu0(z: Any, xp: Any) -> Any:
    """max(z, 0) as 0.5 * (z + |z|): exact, and needs no Python scalar inside ``maximum``."""
    return 0.5 * (z + xp.abs(z))


def bce_from_logits(z: Any, target: Any, xp: Any) -> Any:
    """Mean binary cross-entropy of 0/1 ``target`` given logits ``z``, without overflow.

    max(z, 0) - z*t + log(1 + exp(-|z|)) equals -t log s(z) - (1-t) log(1 - s(z)) for
    every finite z, and neither ``exp`` nor ``log1p`` can overflow.
    """
    per_example = _relu0(z, xp) - z * target + xp.log1p(xp.exp(-xp.abs(z)))
    return xp.mean(per_example)


def softmax_ce_from_logits(z: Any, target: Any, xp: Any) -> Any:
    """Mean categorical cross-entropy of one-hot ``target`` rows given logits ``z`` (m, k), without overflow.

    -log softmax(z)_y = log(sum(exp(s))) - s_y with s = z - max(z): ``exp`` sees only values <= 0
    and its sum is at least 1, so nothing overflows or takes log(0); and the shift is taken before
    the subtraction, so large equal logits (-1e4 each) cancel exactly instead of losing the
    log(k) to rounding.
    """
    s = z - xp.max(z, axis=-1, keepdims=True)
    return xp.mean(xp.log(xp.sum(xp.exp(s), axis=-1)) - xp.sum(s * target, axis=-1))


def mse(z: Any, target: Any, xp: Any) -> Any:
    """Mean squared error (Keras' ``"mse"``), for a linear output layer."""
    d = z - target
    return xp.mean(d * d)


#: Output activation -> (loss from logits, factor of (output - target) / batch in its gradient at the logits).
LOSSES: dict[str, tuple[Callable[[Any, Any, Any], Any], Callable[[Any], float]]] = {
    "sigmoid": (bce_from_logits, lambda k: 1.0),
    "softmax": (softmax_ce_from_logits, lambda k: 1.0),
    "linear": (mse, lambda k: 2.0 / k),
}


def check_trainable(activations: Sequence[str]) -> None:
    """The output layer needs a loss and every hidden layer a derivative; ValueError naming what is missing."""
    if activations[-1] not in LOSSES:
        raise ValueError(f"no loss for an output layer of {activations[-1]!r}; trainable outputs: "
                         f"{', '.join(LOSSES)}")
    for name in activations[:-1]:
        if name not in DERIVATIVES:
            raise ValueError(f"no derivative for a hidden layer of {name!r}; trainable hidden layers: "
                             f"{', '.join(DERIVATIVES)}")


def loss(layers: Layers, X: Any, target: Any, activations: Sequence[str], xp: Any) -> Any:
    """The network's mean loss on (X, target): what ``loss_and_grads`` differentiates."""
    _, z = forward_trace(layers, X, activations, xp)
    return LOSSES[activations[-1]][0](z, target, xp)


def loss_and_grads(layers: Layers, X: Any, target: Any, activations: Sequence[str], xp: Any) -> tuple[Any, Layers]:
    """The mean loss on the batch and its gradient ``((dW1, db1), ...)``, by backpropagation."""
    inputs, z = forward_trace(layers, X, activations, xp)
    out = activations[-1]
    loss_fn, factor = LOSSES[out]
    value = loss_fn(z, target, xp)
    # d loss / d z = factor * (output - target) / batch. The batch size is counted as an array, since a
    # compiler may trace the batch dimension as unknown.
    batch = xp.sum(0.0 * target[:, 0:1] + 1.0)
    dZ = (activation(out)(z, xp) - target) * (factor(z.shape[-1]) / batch)
    grads: list[tuple[Any, Any]] = []
    for i in range(len(layers) - 1, -1, -1):
        A_in = inputs[i]
        grads.append((xp.matmul(xp.matrix_transpose(A_in), dZ), xp.sum(dZ, axis=0)))
        if i > 0:
            dA = xp.matmul(dZ, xp.matrix_transpose(layers[i][0]))
            dZ = dA * DERIVATIVES[activations[i - 1]](A_in, xp)
    return value, tuple(reversed(grads))


def adam_update(params: Any, grads: Any, m: Any, v: Any, alpha: Any, opt: Adam, xp: Any) -> tuple[Any, Any, Any]:
    """One Adam step on flat tuples of arrays, in Keras 3's form; returns new (params, m, v)."""
    new_p, new_m, new_v = [], [], []
    for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
        m_i = m_i + (g - m_i) * (1 - opt.beta_1)
        v_i = v_i + (g * g - v_i) * (1 - opt.beta_2)
        new_p.append(p - (m_i * alpha) / (xp.sqrt(v_i) + opt.epsilon))
        new_m.append(m_i)
        new_v.append(v_i)
    return tuple(new_p), tuple(new_m), tuple(new_v)


def make_step(activations: Sequence[str], xp: Any, opt: Adam) -> Callable[..., tuple[Any, Any, Any, Any]]:
    """The pure training step ``(flat, m, v, alpha, X, target) -> (flat, m, v, loss)``.

    ``flat`` is (W1, b1, W2, b2, ...); ``alpha`` is the step size as a 0-d array (an array,
    not a Python float, so that compilers do not specialise on its value every step).
    """
    check_trainable(activations)

    def step(flat: Any, m: Any, v: Any, alpha: Any, X: Any, target: Any) -> tuple[Any, Any, Any, Any]:
        layers = tuple(zip(flat[0::2], flat[1::2], strict=True))
        value, grads = loss_and_grads(layers, X, target, activations, xp)
        flat_grads = tuple(g for pair in grads for g in pair)
        flat, m, v = adam_update(flat, flat_grads, m, v, alpha, opt, xp)
        return flat, m, v, value

    return step
