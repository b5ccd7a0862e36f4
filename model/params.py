"""A network's weights and biases: Keras-style initialisation, files, and moving between backends.

Parameters are kept as plain arrays of any namespace; on the host they are NumPy arrays
in the dtype they were made in (float32 by default, as Keras), so that a float64
reference computed from them uses exactly the weights a float32 backend uses.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xpnet.backends import to_numpy
from xpnet.validation import check_seed

from .files import FileFormatError, load_npz, save_npz
from .network import LAB_NETWORK, LayerSpec, Network

#: Version of the weights file layout written by :func:`save`.
FORMAT_VERSION = 1
_FLOAT_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Params:
    """Weights ``W_l`` (n_in, n_out) and biases ``b_l`` (n_out,) of each layer of ``network``."""

    network: Network
    weights: tuple[Any, ...]
    biases: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(self.weights))
        object.__setattr__(self, "biases", tuple(self.biases))
        check_shapes(self.network, self.weights, self.biases)

    @property
    def layers(self) -> tuple[tuple[Any, Any], ...]:
        """``((W1, b1), (W2, b2), ...)``: the form the forward functions and compilers take."""
        return tuple(zip(self.weights, self.biases, strict=True))

    @property
    def dtype(self) -> Any:
        return self.weights[0].dtype

    def to(self, backend: Any = "numpy", device: str | None = None, dtype: str = "float32") -> Params:
        """These parameters on ``backend`` (a name or a Backend) and ``device``, in ``dtype``."""
        from xpnet.backends import get

        be = get(backend, device)
        host = self.numpy()
        return Params(
            self.network,
            tuple(be.asarray(W, dtype) for W in host.weights),
            tuple(be.asarray(b, dtype) for b in host.biases),
        )

    def numpy(self) -> Params:
        """These parameters as NumPy arrays (from any backend), dtype kept."""
        return Params(self.network, tuple(map(to_numpy, self.weights)), tuple(map(to_numpy, self.biases)))

    def astype(self, dtype: str) -> Params:
        """A NumPy copy in ``dtype`` ("float32" or "float64")."""
        host = self.numpy()
        return Params(
            self.network,
            tuple(W.astype(dtype) for W in host.weights),
            tuple(b.astype(dtype) for b in host.biases),
        )

    @property
    def count(self) -> int:
        """Number of trainable numbers, as Keras counts them."""
        return sum(int(np.prod(W.shape)) + int(np.prod(b.shape)) for W, b in self.layers)


def check_shapes(network: Network, weights: Sequence[Any], biases: Sequence[Any]) -> None:
    """Raise ValueError naming the layer, the expected and the actual shape when they do not chain."""
    if len(weights) != len(network.layers) or len(biases) != len(network.layers):
        raise ValueError(
            f"the network has {len(network.layers)} layers but got {len(weights)} weight "
            f"and {len(biases)} bias arrays"
        )
    for i, ((w_shape, b_shape), W, b) in enumerate(zip(network.shapes, weights, biases, strict=True), 1):
        if tuple(W.shape) != w_shape:
            raise ValueError(f"W{i} must have shape {w_shape}, got {tuple(W.shape)}")
        if tuple(b.shape) != b_shape:
            raise ValueError(f"b{i} must have shape {b_shape}, got {tuple(b.shape)}")


def init_params(seed: int = 0, network: Network = LAB_NETWORK, dtype: str = "float32") -> Params:
    """Keras' default initialisation: glorot-uniform weights, zero biases, from ``seed``.

    Glorot uniform draws W from U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)).
    """
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_FLOAT_DTYPES)}, got {dtype!r}")
    _check_network(network)
    rng = np.random.default_rng(check_seed(seed))
    weights, biases = [], []
    for (n_in, n_out), b_shape in network.shapes:
        limit = np.sqrt(6.0 / (n_in + n_out))
        weights.append(rng.uniform(-limit, limit, size=(n_in, n_out)).astype(dtype))
        biases.append(np.zeros(b_shape, dtype=dtype))
    return Params(network, tuple(weights), tuple(biases))


def save(params: Params, path: str | os.PathLike) -> Path:
    """Write ``params`` to ``path`` as ``.npz`` (W1, b1, ..., the activations), atomically."""
    if not isinstance(params, Params):
        raise TypeError(f"params must be xpnet Params (from init_params, load or train), got {type(params).__name__}")
    host = params.numpy()
    arrays: dict[str, np.ndarray] = {"format_version": np.asarray(FORMAT_VERSION)}
    for i, (W, b) in enumerate(host.layers, start=1):
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    arrays["activations"] = np.asarray(params.network.activations)
    arrays["layer_names"] = np.asarray(params.network.layer_names)
    return save_npz(path, arrays)


def load(path: str | os.PathLike, network: Network | None = None) -> Params:
    """Read parameters written by :func:`save`, checking keys, shapes, dtypes and finiteness.

    With ``network`` given, the file must hold exactly that architecture.
    """
    if network is not None:
        _check_network(network)
    arrays = load_npz(path)
    n_layers = sum(1 for key in arrays if key.startswith("W"))
    if n_layers == 0:
        raise FileFormatError(f"{path}: no layers (no W1, W2, ... arrays) in the file")
    expected = {"format_version", "activations", "layer_names"}
    expected |= {f"{p}{i}" for p in "Wb" for i in range(1, n_layers + 1)}
    if set(arrays) != expected:
        missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
        raise FileFormatError(f"{path}: unexpected contents (missing {missing}, unexpected {extra})")
    version = arrays["format_version"]
    if version.shape != () or version.dtype.kind not in "iu":
        raise FileFormatError(f"{path}: format_version must be one whole number, got {version!r}")
    if int(version) != FORMAT_VERSION:
        raise FileFormatError(f"{path}: weights file format {int(version)}, this xpnet reads {FORMAT_VERSION}")
    weights = [arrays[f"W{i}"] for i in range(1, n_layers + 1)]
    biases = [arrays[f"b{i}"] for i in range(1, n_layers + 1)]
    for key in sorted(expected - {"format_version", "activations", "layer_names"}):
        _check_float_array(path, key, arrays[key])
    for i, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
        if W.ndim != 2 or b.ndim != 1:
            raise FileFormatError(f"{path}: W{i} must have shape (n_in, n_out) and b{i} (n_out,), "
                                  f"got {W.shape} and {b.shape}")
    acts, names = arrays["activations"], arrays["layer_names"]
    for key, values in (("activations", acts), ("layer_names", names)):
        if values.shape != (n_layers,) or values.dtype.kind != "U":
            raise FileFormatError(f"{path}: {key} must hold {n_layers} names, one per layer, got {values!r}")
    try:
        specs = tuple(
            LayerSpec(int(W.shape[1]), str(act), str(name)) for W, act, name in zip(weights, acts, names, strict=True)
        )
        found = Network(int(weights[0].shape[0]), specs)
        params = Params(found, weights, biases)
    except ValueError as err:
        raise FileFormatError(f"{path}: {err}") from err
    if network is not None and describe(found) != describe(network):
        raise FileFormatError(f"{path}: holds a network {describe(found)}, expected {describe(network)}")
    return params


def _check_network(network: Any) -> None:
    if not isinstance(network, Network):
        raise TypeError(f"network must be an xpnet.model.Network, got {type(network).__name__}")


def _check_float_array(path: Any, key: str, a: np.ndarray) -> None:
    if a.dtype.name not in _FLOAT_DTYPES:
        raise FileFormatError(f"{path}: {key} has dtype {a.dtype}, expected float32 or float64")
    bad = np.argwhere(~np.isfinite(a))
    if bad.size:
        raise FileFormatError(f"{path}: {key} has a non-finite value at index {tuple(int(i) for i in bad[0])}")


def describe(network: Network) -> str:
    """'400-25-15-1 (sigmoid, sigmoid, sigmoid)'."""
    widths = "-".join(str(w) for w in [network.input_dim] + [s.units for s in network.layers])
    return f"{widths} ({', '.join(network.activations)})"
