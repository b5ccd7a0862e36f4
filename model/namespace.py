"""Which Array API namespace a set of arrays belongs to, for callers that did not pass ``xp``.

The model's functions take ``xp`` explicitly on every hot path (``xpnet.Model`` binds it once);
this look-up is the convenience for interactive use, ``sigmoid(z)``. It is array-api-compat's
``array_namespace``, which knows NumPy, CuPy, PyTorch, JAX, Dask and array-api-strict and refuses
arrays of mixed namespaces. TensorFlow tensors have no standard namespace to find: pass ``xp``.
"""

from __future__ import annotations

from typing import Any


def namespace_of(*arrays: Any) -> Any:
    """The one Array API namespace of ``arrays``; TypeError for mixed or unknown arrays."""
    import array_api_compat

    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as err:
        raise TypeError(
            f"cannot tell the Array API namespace of {', '.join(type(a).__name__ for a in arrays)} ({err}); "
            "pass it as xp= (a TensorFlow tensor always needs xp=xpnet.backends.get('tensorflow').xp)"
        ) from err
