"""xpnet: the Keras lab's 400-25-15-1 digit classifier, written once, run on every backend.

Importing xpnet imports no framework (NumPy aside): a backend's framework is imported
when that backend is first asked for.

    >>> import xpnet
    >>> model = xpnet.Model(xpnet.init_params(seed=0), backend="numpy")
    >>> model.predict(X)            # X: (m, 400) digits -> (m, 1) zeros and ones
"""

from __future__ import annotations

from xpnet import backends, model
from xpnet.api import DeviceMemoryError, Model
from xpnet.backends import BackendUnavailable
from xpnet.model import LAB_NETWORK, FileFormatError, Params, init_params, load, save, summary
from xpnet.validation import InputError

__version__ = "0.1.0"

__all__ = [
    "LAB_NETWORK", "BackendUnavailable", "DeviceMemoryError", "FileFormatError", "InputError", "Model", "Params",
    "backends", "init_params", "load", "model", "save", "summary",
]
