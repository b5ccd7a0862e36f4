"""A batch of rows given from an aligned address inside it, for frameworks that share only aligned memory.

XLA's and TensorFlow's CPU runtimes take a host array without copying it only when it starts at a
64-byte boundary; NumPy allocates at 16 bytes, so a user's X would be copied whole before the
first product (160 MB at m = 10^5 float32, as long as the forward itself). X's memory from its
first 64-byte boundary on can be shared, read as rows of n: :class:`OffsetRows` is that view with
the first and last rows, which it does not hold whole, and :func:`offset_sums` computes ``X @ W``
from them, every row from its own n values, in one product the size of ``X @ W`` and one as narrow
as the alignment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .layers import not_finite_as_nan


class OffsetRows(NamedTuple):
    """A batch X of m rows (m >= 2) of n values as four arrays, read j values in (0 < j < k < n).

    ``body``: (m - 1, n), X's memory from its element j on, read as rows of n: ``body[i]`` is
    ``X[i, j:]`` followed by ``X[i + 1, :j]`` (shared with X where the framework shares host memory).
    So every row's first j values are in the body too, at the end of the row before: only the first
    row's are not, and the last row is not in it at all. ``edges``: (2, n), ``X[0]`` and ``X[m - 1]``.
    ``columns``: (n,) integers, the row of W that each column of ``body`` meets in its own row's sums,
    or n for the next row's values. ``carried``: (k,) integers, k being the alignment in values (16
    float32 for 64 bytes), the row of W that each of ``body``'s last k columns meets in the next row's
    sums, or n for the row's own values. The shapes are the same whatever j is, so that a compiled
    forward is compiled once. A NamedTuple, so that a compiler (``jax.jit``, ``tf.function``) takes it
    as a structure of arrays.
    """

    body: Any
    edges: Any
    columns: Any
    carried: Any

    @property
    def shape(self) -> tuple[int, int]:
        """X's shape, (m, n)."""
        return self.body.shape[0] + 1, self.body.shape[1]

    @property
    def ndim(self) -> int:
        return 2


def _padded(W: Any, xp: Any) -> Any:
    """W with a row of zeros below: row n, the zeros that an index ``n`` in ``columns`` or ``carried`` points at."""
    return xp.concat([W, xp.zeros_like(W[:1, :])], axis=0)


def offset_weights(W: Any, columns: Any, xp: Any) -> Any:
    """The right side of :func:`offset_product`: W's rows in the order ``body``'s columns meet them, zeros where a
    column holds the next row's values (``columns``: :class:`OffsetRows`' own). It depends on W and on X's
    offset from the alignment only, so a caller may keep it from one batch to the next."""
    return xp.take(_padded(W, xp), columns, axis=0)


def offset_product(X: OffsetRows, W: Any, xp: Any, weights: Any = None) -> Any:
    """The big product of :func:`offset_sums`: ``body`` against W's rows in the order its columns meet them,
    (m - 1, units); the narrow carried sums and the last row are not in it. ``weights``: :func:`offset_weights`
    of W and ``X.columns``, where the caller kept it; None makes it here."""
    return X.body @ (offset_weights(W, X.columns, xp) if weights is None else weights)


def offset_sums(X: OffsetRows, W: Any, xp: Any, compiled: bool = False, own: Any = None) -> Any:
    """``X @ W`` for a batch given as :class:`OffsetRows`: (m, units).

    Row i < m - 1 is the sum of ``body[i] @ W_own``, its values from j on (``W_own``: for each column
    of ``body``, the row of W it meets, zeros where ``columns`` says n), and ``tail[i] @ W_carried``,
    its first j values: ``tail`` is body's last k columns one row down, ``X[0]``'s first j values on top
    (``W_carried`` and those values placed by ``carried``). The last row is ``edges[1] @ W``. The two
    sums of a row are its own n products split in two, as a blocked BLAS splits them. A NaN or inf among
    the next row's first j values, or among the row before's last k - j, also makes row i non-finite
    (inf * 0 is NaN), so this is for a checked forward (``forward_checked``), which refuses such a batch
    whole and then names the first bad value of X itself; in a finite batch those zero weights add exact
    zeros.

    Why the first values are read from the body and not copied apart on the host: that copy (one cache
    line per row, j values each) took 2.2 ms at m = 10^5 and its fresh buffer 0.55 ms more, as much as
    the rest of the staging, while a compiled forward reads them from the body for nearly nothing.

    ``own``: :func:`offset_product` of X and W when the caller computed it apart (an eager framework whose
    product is faster than its compiler's, ``Model._offset_first``); None computes it here.

    ``compiled``: the carried sums are k element-wise multiply-adds on the body's last k columns where they
    are, their (m - 2, units) result shifted one row down as a whole, which a compiler (XLA) fuses into one
    pass with what follows. Gathering the columns into ``tail`` first was a fusion of its own in XLA: the
    checked jit forward on OffsetRows took 1.040x (JAX) and 1.091x (TensorFlow) the time on an aligned
    device array that way, 1.002x and 1.055x this way (41 interleaved rounds, m = 10^5, 2026-11-30). Eager,
    each multiply-add would be a pass over an (m, units) array: one narrow product of ``tail`` instead.
    """
    n, k = X.body.shape[1], X.carried.shape[0]
    if own is None:
        own = offset_product(X, W, xp)
    # first: (1, k), zeros but X[0, :j] (the first row's own first values, which no row before carries)
    first = xp.reshape(xp.take(xp.concat([X.edges[0, :], xp.zeros_like(X.edges[0, :1])]), X.carried), (1, k))
    W_carried = xp.take(_padded(W, xp), X.carried, axis=0)
    if compiled:
        after = X.body[:-1, n - k:n - k + 1] * W_carried[0, :]  # what each row's last k values add to the next row
        for c in range(1, k):
            after = after + X.body[:-1, n - k + c:n - k + c + 1] * W_carried[c, :]
        own = own + xp.concat([first @ W_carried, after], axis=0)
    else:
        own = own + xp.concat([first, X.body[:-1, n - k:]], axis=0) @ W_carried
    return xp.concat([own, X.edges[1:, :] @ W], axis=0)


def offset_first_layer(X: OffsetRows, W: Any, b: Any, g: Callable[[Any], Any], xp: Any, own: Any = None) -> Any:
    """The first layer of a batch given as :class:`OffsetRows`, in the form a compiler fuses: its activations
    ``g(offset_sums(X, W) + b)``, NaN wherever a sum is not finite (:func:`~xpnet.model.layers.not_finite_as_nan`).

    The NaN is what refuses X: it reaches the row's outputs through the layers after (NaN * w is NaN, w = 0
    included: ``tests/test_kernels.py`` proves it on every backend's matmul), where an infinite sum's
    activation would be a finite 0 or 1. So the caller checks the (m, units_out) outputs, not the (m, units)
    sums, and the select is part of the pass that finishes the sums: a reduction of the sums to one flag
    inside XLA:CPU cost more than the rest of that pass (eager TensorFlow's ``predict_proba`` at m = 10^5,
    1.17x its forward on device rows with that reduction, 1.14x without it, 1.07x with the sigmoid eager too;
    eager JAX 1.16x and 1.02x; 31 interleaved rounds, 2026-12-01, BENCHMARKS.md). ``g`` may be
    :func:`~xpnet.model.linear`, the caller applying the activation after (an eager framework whose own is faster
    than its compiler's) with an activation that keeps NaN (``tests/test_kernels.py``). ``own``: as in
    :func:`offset_sums`.
    """
    Z = offset_sums(X, W, xp, compiled=True, own=own) + b
    return not_finite_as_nan(Z, g(Z), xp)
