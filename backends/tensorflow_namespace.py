"""The smallest Array API subset over plain TensorFlow ops that xpnet's shared code uses.

Hand-written because no library offers one: array-api-compat has no TensorFlow
namespace, and ``tf.experimental.numpy`` follows NumPy 1.16 and is switched on by a
process-global flag (``experimental_enable_numpy_behavior``) that changes every tensor's
operators in the user's process; xpnet never flips it. Each function here has the
standard's name and signature (for the arguments xpnet uses) and maps to one TF op.
Only what ``xpnet.model`` and ``xpnet.train`` call is here; add a function when shared
code needs it, and the array-api-strict backend will show whether it is standard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

__array_api_version__ = "2023.12"

float32 = tf.float32
float64 = tf.float64
bfloat16 = tf.bfloat16
int32 = tf.int32
int64 = tf.int64
bool = tf.bool  # noqa: A001 - the standard's name

e = 2.718281828459045
inf = float("inf")
nan = float("nan")

# element-wise functions: one TF op each
abs = tf.math.abs  # noqa: A001
exp = tf.math.exp
expm1 = tf.math.expm1
log = tf.math.log
log1p = tf.math.log1p
sqrt = tf.math.sqrt
square = tf.math.square
tanh = tf.math.tanh
maximum = tf.math.maximum
minimum = tf.math.minimum
isfinite = tf.math.is_finite
isnan = tf.math.is_nan
where = tf.where


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: Any = None) -> tf.Tensor:
    if isinstance(obj, tf.Tensor | tf.Variable):
        return obj if dtype is None or obj.dtype == dtype else tf.cast(obj, dtype)
    return tf.convert_to_tensor(obj, dtype=dtype)


def astype(x: tf.Tensor, dtype: Any, /, *, copy: bool = True) -> tf.Tensor:
    return tf.cast(x, dtype)


def zeros(shape: int | Sequence[int], *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    return tf.zeros(shape, dtype=dtype or tf.float32)


def ones(shape: int | Sequence[int], *, dtype: Any = None, device: Any = None) -> tf.Tensor:
    return tf.ones(shape, dtype=dtype or tf.float32)


def zeros_like(x: tf.Tensor, /, *, dtype: Any = None) -> tf.Tensor:
    return tf.zeros_like(x, dtype=dtype)


def reshape(x: tf.Tensor, /, shape: Sequence[int], *, copy: Any = None) -> tf.Tensor:
    return tf.reshape(x, shape)


def broadcast_to(x: tf.Tensor, /, shape: Sequence[int]) -> tf.Tensor:
    return tf.broadcast_to(x, shape)


def stack(arrays: Sequence[tf.Tensor], /, *, axis: int = 0) -> tf.Tensor:
    return tf.stack(arrays, axis=axis)


def concat(arrays: Sequence[tf.Tensor], /, *, axis: int = 0) -> tf.Tensor:
    return tf.concat(arrays, axis=axis)


def take(x: tf.Tensor, indices: Any, /, *, axis: int | None = None) -> tf.Tensor:
    return tf.gather(x, indices, axis=axis or 0)


def matmul(x1: tf.Tensor, x2: tf.Tensor, /) -> tf.Tensor:
    """The standard's matmul: a 1-D operand is a vector (tf.linalg.matmul wants matrices)."""
    if x1.shape.rank == 1 and x2.shape.rank == 1:
        return tf.tensordot(x1, x2, 1)
    if x1.shape.rank == 1:
        return tf.squeeze(tf.linalg.matmul(x1[tf.newaxis, :], x2), axis=-2)
    if x2.shape.rank == 1:
        return tf.squeeze(tf.linalg.matmul(x1, x2[:, tf.newaxis]), axis=-1)
    return tf.linalg.matmul(x1, x2)


def vecdot(x1: tf.Tensor, x2: tf.Tensor, /, *, axis: int = -1) -> tf.Tensor:
    return tf.reduce_sum(x1 * x2, axis=axis)


def matrix_transpose(x: tf.Tensor, /) -> tf.Tensor:
    return tf.linalg.matrix_transpose(x)


def sum(x: tf.Tensor, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> tf.Tensor:  # noqa: A001
    return tf.reduce_sum(x if dtype is None else tf.cast(x, dtype), axis=axis, keepdims=keepdims)


def mean(x: tf.Tensor, /, *, axis: Any = None, keepdims: bool = False) -> tf.Tensor:
    return tf.reduce_mean(x, axis=axis, keepdims=keepdims)


def max(x: tf.Tensor, /, *, axis: Any = None, keepdims: bool = False) -> tf.Tensor:  # noqa: A001
    return tf.reduce_max(x, axis=axis, keepdims=keepdims)


def argmax(x: tf.Tensor, /, *, axis: int | None = None, keepdims: bool = False) -> tf.Tensor:
    """The standard's argmax (the first index of the largest value), as int64; axis None: of the flattened x."""
    found = tf.math.argmax(tf.reshape(x, [-1]) if axis is None else x, axis=0 if axis is None else axis,
                           output_type=tf.int64)
    if keepdims:
        found = tf.expand_dims(found, axis=-1 if axis is None else axis)
    return found


def all(x: tf.Tensor, /, *, axis: Any = None, keepdims: bool = False) -> tf.Tensor:  # noqa: A001
    return tf.reduce_all(tf.cast(x, tf.bool), axis=axis, keepdims=keepdims)


def any(x: tf.Tensor, /, *, axis: Any = None, keepdims: bool = False) -> tf.Tensor:  # noqa: A001
    return tf.reduce_any(tf.cast(x, tf.bool), axis=axis, keepdims=keepdims)


def clip(x: tf.Tensor, /, min: Any = None, max: Any = None) -> tf.Tensor:  # noqa: A002
    lo = x.dtype.min if min is None else min
    hi = x.dtype.max if max is None else max
    return tf.clip_by_value(x, lo, hi)
