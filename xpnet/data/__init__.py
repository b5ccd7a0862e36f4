"""Handwritten digits in the layout of the Coursera C2_W1 lab, 0 vs 1 or any set of digits.

xpnet reproduces the lab "neural network for handwritten digit recognition, binary": 20x20
grayscale digits unrolled to 400 features, 0 vs 1; the lab's multiclass sequel tells all ten
digits apart. The lab's own files are not shipped with xpnet, and xpnet must work offline: nothing
here downloads anything. So this package reads whatever the user already has, one module per
format:

* ``lab``: the lab's folder (``X.npy`` + ``y.npy``);
* ``idx`` (with ``idxfile``, the safe reader): MNIST as IDX files ``*-images-idx3-ubyte[.gz]``;
* ``npz``: MNIST as Keras' ``mnist.npz``;
* ``builtin``: real handwritten digits that ship with scikit-learn (8x8 UCI digits, upsampled);

and ``detect.load`` picks the right one. Whatever the source, the result is a validated
``Digits`` (``digits``): X (m, 400) float32 rows, each a 20x20 image stored COLUMN-MAJOR as in the
lab (``row = img.T.ravel()``, see ``layout``), y (m, 1) uint8 class indices and ``classes``, the
digit of each index (``classes``). ``split`` holds the seeded stratified split; ``errors`` the one
error class, ``DataError``, an ``xpnet.validation.InputError``.
"""

from __future__ import annotations

from xpnet.data.builtin import load_builtin
from xpnet.data.classes import ALL_DIGITS, BINARY, check_classes, parse_digits, select_binary, select_classes
from xpnet.data.detect import load
from xpnet.data.digits import FORMATS, Digits, check_digits
from xpnet.data.errors import DataError
from xpnet.data.idx import load_mnist_idx
from xpnet.data.lab import LAB_ROWS, load_lab
from xpnet.data.layout import N_FEATURES, SIDE, to_lab_layout
from xpnet.data.npz import load_mnist_npz
from xpnet.data.split import train_test_split

__all__ = [
    "ALL_DIGITS",
    "BINARY",
    "FORMATS",
    "LAB_ROWS",
    "N_FEATURES",
    "SIDE",
    "DataError",
    "Digits",
    "check_classes",
    "check_digits",
    "load",
    "load_builtin",
    "load_lab",
    "load_mnist_idx",
    "load_mnist_npz",
    "parse_digits",
    "select_binary",
    "select_classes",
    "to_lab_layout",
    "train_test_split",
]
