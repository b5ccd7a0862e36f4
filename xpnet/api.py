"""``xpnet.Model``: a network's parameters bound to one backend, device and dtype.

The model code in ``xpnet.model`` is pure functions of ``xp``; this class adds what a user
wants around them: data moved to the device once, the three forward variants by name,
a compiled forward that is compiled once and reused, and NumPy results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.model import (
    THRESHOLD,
    VARIANTS,
    Params,
    forward_loop,
    forward_matmul,
    init_params,
    predict_from_proba,
)
from xpnet.validation import host_features

#: (layers, X) -> probabilities, all arrays of the model's backend.
ForwardFn = Callable[[Any, Any], Any]


class Model:
    """The network on ``backend`` (name or Backend) and ``device``, computing in ``dtype``.

    >>> m = Model(init_params(seed=0), backend="jax", dtype="float32")
    >>> m.predict_proba(X)                # NumPy in, NumPy out
    >>> f = m.forward_fn("jit")           # backend arrays in and out, for hot loops
    >>> f(m.layers, m.asarray(X))
    """

    def __init__(
        self,
        params: Params | None = None,
        backend: str | backends.Backend = "numpy",
        device: str | None = None,
        dtype: str = "float32",
    ) -> None:
        self.backend = backends.get(backend, device)
        self.dtype = dtype
        host = params if params is not None else init_params()
        self.params = host.to(self.backend, dtype=dtype)
        self.network = host.network
        self._compiled: ForwardFn | None = None

    @property
    def layers(self) -> tuple[tuple[Any, Any], ...]:
        """The ``(W, b)`` pairs on the device, the first argument of ``forward_fn``'s functions."""
        return self.params.layers

    def asarray(self, X: Any, *, check_finite: bool = False) -> Any:
        """Host data ``X`` ((m, n) or (n,)), checked, on this model's device and dtype."""
        return self.backend.asarray(
            host_features(X, self.network.input_dim, check_finite=check_finite), self.dtype
        )

    def forward_fn(self, variant: str = "matmul") -> ForwardFn:
        """The function ``(layers, X) -> probabilities`` for ``variant`` ("loop", "matmul", "jit").

        The jit variant is compiled on its first call (per input shape, as every compiler
        here specialises on shapes) and then reused.
        """
        xp, acts = self.backend.xp, self.network.activations
        if variant == "matmul":
            return lambda layers, X: forward_matmul(layers, X, acts, xp)
        if variant == "loop":
            return lambda layers, X: forward_loop(layers, X, acts, xp)
        if variant == "jit":
            if self._compiled is None:

                def matmul_forward(layers: Any, X: Any) -> Any:
                    return forward_matmul(layers, X, acts, xp)

                self._compiled = self.backend.jit(matmul_forward)
            return self._compiled
        raise ValueError(f"unknown variant {variant!r}; known variants: {', '.join(VARIANTS)}")

    def forward(self, X: Any, variant: str = "matmul") -> Any:
        """Probabilities as an array of this backend; ``X`` may be host data or a backend array."""
        if not _is_backend_array(X, self.backend):
            X = self.asarray(X)
        elif tuple(X.shape)[-1:] != (self.network.input_dim,):
            raise ValueError(f"X must have shape (m, {self.network.input_dim}), got {tuple(X.shape)}")
        return self.forward_fn(variant)(self.layers, X)

    def predict_proba(self, X: Any, variant: str = "matmul") -> np.ndarray:
        """Probabilities of the digit being a 1, as NumPy: (m, 1) for (m, n) input."""
        return self.backend.to_numpy(self.forward(X, variant))

    def predict(self, X: Any, variant: str = "matmul", threshold: float = THRESHOLD) -> np.ndarray:
        """0/1 predictions as NumPy int32: 1 where the probability is at least ``threshold``."""
        xp = self.backend.xp
        return self.backend.to_numpy(predict_from_proba(self.forward(X, variant), xp, threshold))

    def __repr__(self) -> str:
        from xpnet.model import describe

        return f"Model({describe(self.network)}, backend={self.backend.name!r}, " \
               f"device={self.backend.device!r}, dtype={self.dtype!r})"


def _is_backend_array(X: Any, backend: backends.Backend) -> bool:
    """True for an array of the backend's own type (NumPy arrays are host data, always checked)."""
    return not isinstance(X, np.ndarray) and type(X).__module__.split(".")[0] in type(backend).array_modules
