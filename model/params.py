"""A network's weights and biases: Keras-style initialisation, files, and a neutral map over the arrays.

Parameters are kept as plain arrays of any namespace; on the host they are NumPy arrays
in the dtype they were made in (float32 by default, as Keras), so that a float64
reference computed from them uses exactly the weights a float32 backend uses. Moving them
to a device is the caller's business (``params.map(backend.asarray)``): the model knows
no framework.

A weights file carries its network (widths, activations, layer names) and, when the
parameters came out of training, the training record (data, classes, split, epochs,
backend, final loss), so that whoever reads the file needs no flag to know what it holds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .checks import check_seed
from .files import FileFormatError, load_npz, save_npz
from .namespace import namespace_of
from .network import LAB_NETWORK, LayerSpec, Network

#: Version of the weights file layout written by :func:`save` (1: no training record; still read).
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_FLOAT_DTYPES = ("float32", "float64")
_META_KEYS = {"format_version", "activations", "layer_names"}


@dataclass(frozen=True)
class Params:
    """Weights ``W_l`` (n_in, n_out) and biases ``b_l`` (n_out,) of each layer of ``network``.

    ``record``: how these parameters were made (``xpnet train`` writes the data source and
    fingerprint, classes, split seed and fraction, epochs, backend and final loss); empty
    for parameters made in code. It is saved with them and read back by :func:`load`.
    """

    network: Network
    weights: tuple[Any, ...]
    biases: tuple[Any, ...]
    record: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", tuple(self.weights))
        object.__setattr__(self, "biases", tuple(self.biases))
        object.__setattr__(self, "record", dict(self.record))
        check_shapes(self.network, self.weights, self.biases)
        # made once: the frozen pairs are asked for at every call of a model's forward (4 us each, measured)
        object.__setattr__(self, "_layers", tuple(zip(self.weights, self.biases, strict=True)))

    @property
    def layers(self) -> tuple[tuple[Any, Any], ...]:
        """``((W1, b1), (W2, b2), ...)``: the form the forward functions and compilers take."""
        return self._layers

    @property
    def dtype(self) -> Any:
        return self.weights[0].dtype

    def map(self, fn: Callable[[Any], Any]) -> Params:
        """The same network with ``fn`` applied to every weight and bias array.

        ``params.map(backend.to_numpy)`` brings them to the host, ``params.map(lambda a:
        backend.asarray(a, "float64"))`` puts them on a device: placement is the caller's, not the model's.
        """
        return replace(self, weights=tuple(map(fn, self.weights)), biases=tuple(map(fn, self.biases)))

    def astype(self, dtype: str) -> Params:
        """A copy in ``dtype`` ("float32" or "float64"), in the arrays' own namespace."""
        if dtype not in _FLOAT_DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_FLOAT_DTYPES)}, got {dtype!r}")

        def cast(a: Any) -> Any:
            xp = namespace_of(a)
            return xp.astype(a, getattr(xp, dtype))

        return self.map(cast)

    def with_record(self, **entries: Any) -> Params:
        """These parameters with ``entries`` added to their training record (JSON-serialisable values)."""
        json.dumps(entries)  # fail here, not at save time
        return replace(self, record={**self.record, **entries})

    @property
    def count(self) -> int:
        """Number of trainable numbers, as Keras counts them."""
        return self.network.count


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
    """Write host (NumPy) ``params`` to ``path`` as ``.npz``, atomically.

    Holds W1, b1, ..., the activations and layer names, and the training record as JSON text.
    Parameters on a device are brought back first: ``save(params.map(backend.to_numpy), path)``.
    """
    if not isinstance(params, Params):
        raise TypeError(f"params must be xpnet Params (from init_params, load or train), got {type(params).__name__}")
    arrays: dict[str, np.ndarray] = {"format_version": np.asarray(FORMAT_VERSION)}
    for i, (W, b) in enumerate(params.layers, start=1):
        if not isinstance(W, np.ndarray) or not isinstance(b, np.ndarray):
            raise TypeError(f"save needs NumPy arrays; layer {i} holds {type(W).__name__}: bring the parameters "
                            "to the host first, params.map(backend.to_numpy)")
        arrays[f"W{i}"], arrays[f"b{i}"] = W, b
    arrays["activations"] = np.asarray(params.network.activations)
    arrays["layer_names"] = np.asarray(params.network.layer_names)
    arrays["record"] = np.asarray(json.dumps(params.record, sort_keys=True))
    return save_npz(path, arrays)


def load(path: str | os.PathLike, network: Network | None = None) -> Params:
    """Read parameters written by :func:`save`, checking keys, shapes, dtypes and finiteness.

    With ``network`` given, the file must hold exactly that architecture.
    """
    if network is not None:
        _check_network(network)
    arrays = load_npz(path)
    version = _format_version(path, arrays)
    n_layers = sum(1 for key in arrays if key.startswith("W"))
    if n_layers == 0:
        raise FileFormatError(f"{path}: no layers (no W1, W2, ... arrays) in the file")
    expected = _META_KEYS | ({"record"} if version >= 2 else set())
    layer_keys = {f"{p}{i}" for p in "Wb" for i in range(1, n_layers + 1)}
    if set(arrays) != expected | layer_keys:
        missing, extra = sorted((expected | layer_keys) - set(arrays)), sorted(set(arrays) - expected - layer_keys)
        raise FileFormatError(f"{path}: unexpected contents (missing {missing}, unexpected {extra})")
    weights = [arrays[f"W{i}"] for i in range(1, n_layers + 1)]
    biases = [arrays[f"b{i}"] for i in range(1, n_layers + 1)]
    for key in sorted(layer_keys):
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
        params = Params(found, weights, biases, _record(path, arrays.get("record")))
    except ValueError as err:
        raise FileFormatError(f"{path}: {err}") from err
    if network is not None and describe(found) != describe(network):
        raise FileFormatError(f"{path}: holds a network {describe(found)}, expected {describe(network)}")
    return params


def _format_version(path: Any, arrays: dict[str, np.ndarray]) -> int:
    version = arrays.get("format_version")
    if version is None:
        raise FileFormatError(f"{path}: not an xpnet weights file (no format_version)")
    if version.shape != () or version.dtype.kind not in "iu":
        raise FileFormatError(f"{path}: format_version must be one whole number, got {version!r}")
    if int(version) not in _READABLE_VERSIONS:
        raise FileFormatError(f"{path}: weights file format {int(version)}, this xpnet reads "
                              f"{', '.join(map(str, _READABLE_VERSIONS))}")
    return int(version)


def _record(path: Any, text: np.ndarray | None) -> dict[str, Any]:
    """The training record stored as JSON text (absent in format 1 files)."""
    if text is None:
        return {}
    if text.shape != () or text.dtype.kind != "U":
        raise FileFormatError(f"{path}: record must be one JSON text, got {text!r}")
    try:
        record = json.loads(str(text))
    except json.JSONDecodeError as err:
        raise FileFormatError(f"{path}: record is not valid JSON ({err})") from err
    if not isinstance(record, dict):
        raise FileFormatError(f"{path}: record must be a JSON object, got {type(record).__name__}")
    return record


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
    """'400-25-15-1 (sigmoid, sigmoid, sigmoid)'; the network's own ``str``."""
    return str(network)
