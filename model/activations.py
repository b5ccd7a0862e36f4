"""Activation functions written once against an Array API namespace.

Each takes the pre-activation ``z`` and, optionally, its namespace ``xp`` (found from
``z`` when omitted; passing it saves the look-up on hot paths). ``sigmoid``, ``relu``
and ``linear`` act element by element; ``softmax`` acts on each row (the last axis), so
the per-unit loop forward applies it to the layer's whole vector of pre-activations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .namespace import namespace_of


def sigmoid(z: Any, xp: Any = None) -> Any:
    """The logistic function 1 / (1 + exp(-z)), computed without overflow.

    ``exp`` only ever sees ``-|z|`` (so its result lies in (0, 1]); for z >= 0 the result
    is 1 / (1 + e) and for z < 0 it is e / (1 + e) = e * (1 / (1 + e)), the same value
    written so that nothing overflows. For any finite z, float32 or float64, the result
    lies in [0, 1] with no warning, inf or NaN, and keeps full relative precision for
    very negative z (where 1 - tanh tricks return 0). NaN propagates, as in NumPy.
    """
    xp = namespace_of(z) if xp is None else xp
    e = xp.exp(-xp.abs(z))
    r = 1.0 / (1.0 + e)
    return xp.where(z >= 0, r, e * r)


def linear(z: Any, xp: Any = None) -> Any:
    """The identity, Keras' ``activation="linear"``."""
    return z


def relu(z: Any, xp: Any = None) -> Any:
    """max(z, 0), Keras' ``activation="relu"``; NaN propagates."""
    xp = namespace_of(z) if xp is None else xp
    return xp.where(z > 0, z, 0.0 * z)


def softmax(z: Any, xp: Any = None) -> Any:
    """exp(z) / sum(exp(z)) over the last axis, without overflow (Keras' ``activation="softmax"``).

    The row maximum is subtracted first, so ``exp`` sees only values <= 0: no overflow for
    any finite z, and the largest term is exactly 1, so the sum never underflows to 0.
    """
    xp = namespace_of(z) if xp is None else xp
    e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


#: Activations by their Keras names; a network spec refers to them by name.
ACTIVATIONS: dict[str, Callable[..., Any]] = {"sigmoid": sigmoid, "linear": linear, "relu": relu, "softmax": softmax}

#: Activations that combine the units of a row (the others act on each unit alone).
ROWWISE = frozenset({"softmax"})

#: d activation / d z expressed through the activation's output ``A`` (what backpropagation keeps).
#: Softmax has none here: its derivative is a Jacobian, and it is trained only as the output
#: layer, where its cross-entropy's gradient needs no derivative (see ``xpnet.model.training``).
DERIVATIVES: dict[str, Callable[[Any, Any], Any]] = {
    "sigmoid": lambda A, xp: A * (1.0 - A),
    "relu": lambda A, xp: xp.astype(A > 0, A.dtype),
    "linear": lambda A, xp: 0.0 * A + 1.0,
}


def activation(name: str) -> Callable[..., Any]:
    """The activation function called ``name``; ValueError naming the known ones otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; known activations: {', '.join(ACTIVATIONS)}") from None
