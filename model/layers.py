"""The lab's two dense layers, written once against an Array API namespace.

``dense_loop`` is the lab's ``my_dense``: one example, one unit at a time. ``dense`` is
the lab's ``my_dense_v``: a whole batch in one matrix product. Neither assigns into an
array, so both run on immutable arrays (JAX, TensorFlow, array-api-strict).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .namespace import namespace_of


def dense_loop(a_in: Any, W: Any, b: Any, g: Callable[[Any], Any], *, xp: Any = None, rowwise: bool = False) -> Any:
    """One example through a dense layer, one unit at a time (the lab's ``my_dense``).

    a_in: (n,) activations in; W: (n, j) weights; b: (j,) biases; g: activation.
    Returns the (j,) activations ``g(W[:, j] . a_in + b[j])``, built with ``stack``
    instead of writing into a preallocated array. A ``rowwise`` activation (softmax),
    which needs every unit's pre-activation, is applied once to the stacked vector.
    """
    xp = namespace_of(a_in, W, b) if xp is None else xp
    units = range(W.shape[1])
    if rowwise:
        return g(xp.stack([xp.vecdot(W[:, j], a_in) + b[j] for j in units]))
    return xp.stack([g(xp.vecdot(W[:, j], a_in) + b[j]) for j in units])


#: A backend's fused ``(A, W, b) -> A @ W + b`` for a 2-D A (``torch.addmm``), see ``Backend.kernels``.
Affine = Callable[[Any, Any, Any], Any]


def dense(A_in: Any, W: Any, b: Any, g: Callable[[Any], Any], *, xp: Any = None, affine: Affine | None = None) -> Any:
    """A batch through a dense layer in one matrix product (the lab's ``my_dense_v``).

    A_in: (m, n), or (n,) for one example; W: (n, j); b: (j,) or (1, j). Returns
    ``g(A_in @ W + b)``, of shape (m, j), or (j,) for one example. ``affine``: a backend's
    fused ``A @ W + b`` for a batch (one call instead of a product and a broadcast add), or None.
    """
    return g(pre_activation(A_in, W, b, namespace_of(A_in, W, b) if xp is None else xp, affine))


def pre_activation(A_in: Any, W: Any, b: Any, xp: Any, affine: Affine | None = None) -> Any:
    """``A_in @ W + b`` for a batch (m, n) or one example (n,); through ``affine`` for a batch when given."""
    if affine is not None and A_in.ndim == 2:
        return affine(A_in, W, b)
    # The standard's ``@`` operator where it is a matrix product: it skips array-api-compat's Python
    # wrapper around torch.matmul (about 20 us of an 80 us forward at m = 1, measured); a 1-D input
    # goes through xp.matmul, which every namespace (TensorFlow's included) defines for vectors.
    return (A_in @ W if A_in.ndim == 2 else xp.matmul(A_in, W)) + b


def not_finite_as_nan(Z: Any, A: Any, xp: Any) -> Any:
    """``A`` (a layer's activations of its sums ``Z``) with NaN wherever ``Z`` is not finite: one select, fused into
    the activation's pass by a compiler, so that a non-finite sum shows in the outputs (``inf * 0`` is NaN)."""
    return xp.where(xp.isfinite(Z), A, Z * 0.0)
