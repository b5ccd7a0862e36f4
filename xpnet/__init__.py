"""xpnet: the Keras lab's 400-25-15-1 digit classifier (and any dense network), written once, run on every backend.

Importing xpnet imports no framework (NumPy aside): a backend's framework is imported
when that backend is first asked for. The submodules (``xpnet.data``, ``xpnet.lab``,
``xpnet.train``, ``xpnet.parity``, ...) load on first use, as SciPy's do.

    >>> import xpnet
    >>> model = xpnet.Model(xpnet.init_params(seed=0), backend="numpy")
    >>> model.predict(X)            # X: (m, 400) digits -> (m, 1) zeros and ones
"""

from __future__ import annotations

import importlib
from typing import Any

from xpnet import backends, model
from xpnet.api import DeviceMemoryError, Model
from xpnet.backends import BackendUnavailable
from xpnet.model import LAB_NETWORK, FileFormatError, Network, Params, init_params, load, save, summary
from xpnet.validation import InputError

__version__ = "0.1.0"

#: Submodules loaded on first attribute access (``xpnet.data.load(...)`` after a plain ``import xpnet``).
_LAZY_SUBMODULES = ("cluster", "data", "evaluate", "keras_interop", "lab", "parity", "plots", "report", "rowfiles",
                    "score", "streaming", "train", "validation", "workflow")
#: Functions of lazy submodules offered at the top level.
_LAZY_FUNCTIONS = {"to_keras": "keras_interop", "from_keras": "keras_interop"}

__all__ = [
    "LAB_NETWORK", "BackendUnavailable", "DeviceMemoryError", "FileFormatError", "InputError", "Model", "Network",
    "Params", "backends", "from_keras", "init_params", "load", "model", "save", "summary", "to_keras",
    *_LAZY_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_FUNCTIONS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
