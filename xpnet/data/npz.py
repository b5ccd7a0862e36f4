"""MNIST as Keras ships it: ``mnist.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test``.

Why apart from the IDX loader: same digits, another container (a zip of .npy arrays), read with
``allow_pickle=False`` so that an object array is refused, never unpickled.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xpnet.data.classes import BINARY, check_classes, check_present, select_classes
from xpnet.data.digits import Digits, checked
from xpnet.data.errors import DataError
from xpnet.data.idx import check_split
from xpnet.data.layout import to_lab_layout
from xpnet.data.paths import PathLike, existing

SPLIT_KEYS = {
    "train": (("x_train", "y_train"),),
    "test": (("x_test", "y_test"),),
    "all": (("x_train", "y_train"), ("x_test", "y_test")),
}
_READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile)


def load_mnist_npz(path: PathLike, split: str = "all", *, digits: str | Sequence[int] = BINARY) -> Digits:
    """Load the ``digits`` of Keras' ``mnist.npz``, in the lab's layout, labelled with class indices.

    The archive holds ``x_train`` (60000, 28, 28) uint8, ``y_train``, ``x_test`` and ``y_test``;
    ``split`` ("train", "test", "all": train first) picks which. Missing keys raise DataError listing
    the keys the file has; so does a requested digit with no example.
    """
    classes = check_classes(digits)
    check_split(split, SPLIT_KEYS)
    file = existing(path)
    if file.is_dir():
        raise DataError(f"{file} is a folder; load_mnist_npz wants an .npz file")
    pairs = [select_classes(*_read_pair(file, x_key, y_key), classes) for x_key, y_key in SPLIT_KEYS[split]]
    images, labels = (np.concatenate(part) for part in zip(*pairs, strict=True))
    source = f"{file} ({', '.join(k for pair in SPLIT_KEYS[split] for k in pair)})"
    check_present(labels, classes, source)
    return checked(to_lab_layout(images), labels, "mnist-npz", source, classes)


def _read_pair(file: Path, image_key: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        archive = np.load(file, allow_pickle=False)
    except _READ_ERRORS as error:
        raise DataError(f"cannot read {file} as an .npz archive: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{file} holds a single array, not an .npz archive with x_train, y_train, ...")
    with archive:
        missing = [k for k in (image_key, label_key) if k not in archive.files]
        if missing:
            raise DataError(f"{file} lacks {missing}; it holds {sorted(archive.files)}")
        try:
            x, t = archive[image_key], archive[label_key]
        except _READ_ERRORS as error:
            raise DataError(f"cannot read {image_key}/{label_key} from {file}: {error}") from error
    if x.ndim != 3 or t.ndim == 0 or len(x) != len(t):
        raise DataError(
            f"{file}: {image_key} has shape {x.shape} and {label_key} {t.shape}; expected (n, rows, cols) images and "
            "n labels"
        )
    return x, t
