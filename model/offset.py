"""A batch of rows given from an aligned address inside it, for frameworks that share only aligned memory.

XLA's and TensorFlow's CPU runtimes take a host array without copying it only when it starts at a
64-byte boundary; NumPy allocates at 16 bytes, so a user's X would be copied whole before the
first product (160 MB at m = 10^5 float32, as long as the forward itself). X's memory from its
first 64-byte boundary on can be shared, read as rows of n: :class:`OffsetRows` is that view with
the few values it misses, and :func:`offset_sums` computes ``X @ W`` from them, every row from its
own n values, in one product the size of ``X @ W`` and one as narrow as the alignment.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class OffsetRows(NamedTuple):
    """A batch X of m rows (m >= 2) of n values as four arrays, read j values in (0 < j < k < n).

    ``body``: (m - 1, n), X's memory from its element j on, read as rows of n: ``body[i]`` is
    ``X[i, j:]`` followed by ``X[i + 1, :j]`` (shared with X where the framework shares host memory).
    ``head``: (m - 1, k), ``X[:m - 1, :j]`` followed by zeros, k being the alignment in values (16
    float32 for 64 bytes), so that the shapes are the same whatever j is and a compiled forward is
    compiled once. ``last``: (1, n), ``X[m - 1:]``. ``columns``: (n,) integers, the column of X that
    each column of ``body`` holds, or n for the next row's values, which the sums must not count. A
    NamedTuple, so that a compiler (``jax.jit``, ``tf.function``) takes it as a structure of arrays.
    """

    body: Any
    head: Any
    last: Any
    columns: Any

    @property
    def shape(self) -> tuple[int, int]:
        """X's shape, (m, n)."""
        return self.body.shape[0] + 1, self.body.shape[1]

    @property
    def ndim(self) -> int:
        return 2


def offset_sums(X: OffsetRows, W: Any, xp: Any, compiled: bool = False) -> Any:
    """``X @ W`` for a batch given as :class:`OffsetRows`: (m, units).

    Row i < m - 1 is ``body[i] @ W_body + head[i] @ W[:k]``, where ``W_body`` holds, for each column of
    ``body``, the row of W its X column meets (zeros where ``columns`` says n); the last row is
    ``last @ W``. The two sums of a row are its own n products split in two, as a blocked BLAS splits
    them. A NaN or inf among the next row's first j values also makes row i non-finite (inf * 0 is
    NaN), so this is for a checked forward (``forward_checked``), which refuses such a batch whole and
    then names the first bad value of X itself; in a finite batch those zero weights add exact zeros.

    ``compiled``: the head's k columns are added as k element-wise multiply-adds, which a compiler
    (XLA) fuses into one pass with what follows: the lab's checked forward with JAX's jit at m = 10^5
    took 41.7 ms on OffsetRows against 41.2 ms on X (interleaved), where a second product costs 10 to
    15 ms more. Eager, each would be a pass over an (m, units) array: one narrow product instead.
    """
    k = X.head.shape[1]
    W_body = xp.take(xp.concat([W, xp.zeros_like(W[:1, :])], axis=0), X.columns, axis=0)
    Z = X.body @ W_body
    if compiled:
        for c in range(k):
            Z = Z + X.head[:, c:c + 1] * W[c, :]
    else:
        Z = Z + X.head @ W[:k, :]
    return xp.concat([Z, X.last @ W], axis=0)
