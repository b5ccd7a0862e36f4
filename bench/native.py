"""Hand-written forwards in each framework's own API: the peers that measure xpnet's abstraction overhead.

Each peer computes exactly xpnet's math (one matmul, bias add and the stable sigmoid
``e = exp(-|z|); r = 1 / (1 + e); where(z >= 0, r, e * r)`` per layer) on the same
backend arrays xpnet gets, so the time difference is what xpnet's layers (Array API
namespace wrappers, ``partial``, look-ups) cost and nothing else. The ``builtin`` kind
uses the framework's own sigmoid instead, for context: what a user of that framework
would write. Frameworks are imported only when a peer is built, as in ``backends/``.

This is the one framework-specific module of the bench; a backend without an entry in
:data:`NATIVE` simply has no native rows (skipped with that reason).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

#: (layers, X) -> probabilities, on the backend's arrays.
ForwardFn = Callable[[Any, Any], Any]

#: Native kinds: "eager" mirrors xpnet's matmul variant, "jit" its jit variant (same compiler),
#: "builtin" is eager with the framework's own sigmoid.
KINDS = ("eager", "jit", "builtin")


def _numpy_like(mod: Any, builtin: bool) -> ForwardFn:
    """NumPy and CuPy: plain ``@``, ufuncs, ``where``."""

    def forward(layers: Any, X: Any) -> Any:
        A = X
        for W, b in layers:
            z = A @ W + b
            if builtin:  # the textbook formula NumPy users write (overflows to inf with a warning for z << 0)
                A = 1.0 / (1.0 + mod.exp(-z))
            else:
                e = mod.exp(-mod.abs(z))
                r = 1.0 / (1.0 + e)
                A = mod.where(z >= 0, r, e * r)
        return A

    return forward


def _numpy(kind: str, backend: Any) -> ForwardFn | None:
    import numpy as np

    return None if kind == "jit" else _numpy_like(np, kind == "builtin")


def _cupy(kind: str, backend: Any) -> ForwardFn | None:
    import cupy

    return None if kind == "jit" else _numpy_like(cupy, kind == "builtin")


def _jax(kind: str, backend: Any) -> ForwardFn | None:
    import jax
    import jax.numpy as jnp

    def forward(layers: Any, X: Any) -> Any:
        A = X
        for W, b in layers:
            z = jnp.matmul(A, W) + b
            if kind == "builtin":
                A = jax.nn.sigmoid(z)
            else:
                e = jnp.exp(-jnp.abs(z))
                r = 1.0 / (1.0 + e)
                A = jnp.where(z >= 0, r, e * r)
        return A

    return jax.jit(forward) if kind == "jit" else forward


def _tensorflow(kind: str, backend: Any) -> ForwardFn | None:
    import tensorflow as tf

    def forward(layers: Any, X: Any) -> Any:
        A = X
        for W, b in layers:
            z = tf.matmul(A, W) + b
            if kind == "builtin":
                A = tf.math.sigmoid(z)
            else:
                e = tf.math.exp(-tf.math.abs(z))
                r = 1.0 / (1.0 + e)
                A = tf.where(z >= 0, r, e * r)
        return A

    # the compiler xpnet's TensorFlow backend uses, so that only the forward's own code differs
    return tf.function(forward, jit_compile=True, reduce_retracing=True) if kind == "jit" else forward


def _torch(kind: str, backend: Any) -> ForwardFn | None:
    import torch

    def forward(layers: Any, X: Any) -> Any:
        A = X
        for W, b in layers:
            if kind == "builtin":
                A = torch.sigmoid(torch.addmm(b, A, W) if A.ndim == 2 else A @ W + b)
            else:
                z = A @ W + b
                e = torch.exp(-torch.abs(z))
                r = 1.0 / (1.0 + e)
                A = torch.where(z >= 0, r, e * r)
        return A

    return torch.compile(forward, dynamic=False) if kind == "jit" else forward


#: backend name -> builder(kind, backend) -> forward, or None where the kind does not exist (no compiler).
NATIVE: dict[str, Callable[[str, Any], ForwardFn | None]] = {
    "numpy": _numpy,
    "cupy": _cupy,
    "jax": _jax,
    "tensorflow": _tensorflow,
    "torch": _torch,
}


def build(backend_name: str, kind: str, backend: Any) -> ForwardFn:
    """The native forward of ``kind`` for ``backend``; LookupError saying why when there is none."""
    if kind not in KINDS:
        raise ValueError(f"unknown native kind {kind!r}; known kinds: {', '.join(KINDS)}")
    if backend_name not in NATIVE:
        raise LookupError(f"no native peer is written for {backend_name} (add one to xpnet.bench.native.NATIVE)")
    fn = NATIVE[backend_name](kind, backend)
    if fn is None:
        raise LookupError(f"{backend_name} has no compiler: its native jit would be the eager row again")
    return fn


@contextlib.contextmanager
def honest_compilers() -> Iterator[None]:
    """Make a compiler that gives up fail loudly instead of silently timing eager code.

    torch.compile stops compiling a function after ``recompile_limit`` (8) shapes or dtypes
    and then runs it eagerly with only a log warning; the code object of xpnet's compiled
    forward is shared by every Model, so a full benchmark run (11 shapes and dtypes) would
    report eager times as "jit". Inside this context the limit is raised for the run's
    shapes and hitting it raises. Only the bench process is affected, and only inside it.
    """
    import sys

    if "torch" not in sys.modules:
        yield
        return
    import torch._dynamo.config as dynamo

    with dynamo.patch(recompile_limit=64, fail_on_recompile_limit_hit=True):
        yield
