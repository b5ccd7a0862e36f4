"""``load``: one entry point that finds the format of what it is given and calls its loader.

Why: the command line's ``--data`` takes "builtin", a folder or a file, and the user should not
have to say which format it is. Nothing here downloads anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xpnet.data.builtin import load_builtin
from xpnet.data.classes import BINARY, check_classes
from xpnet.data.digits import Digits, first_rows
from xpnet.data.errors import DataError
from xpnet.data.idx import IMAGES_NAME, images_in, load_mnist_idx
from xpnet.data.lab import load_lab
from xpnet.data.npz import load_mnist_npz
from xpnet.data.paths import PathLike, existing

_LOOKED_FOR = (
    "a folder holding X.npy and y.npy (lab), "
    "a folder holding MNIST IDX files (train-/t10k-images-idx3-ubyte[.gz] with their -labels-idx1-ubyte[.gz]), "
    "an MNIST IDX images file, or a Keras mnist.npz file"
)


def load(
    spec: PathLike | None = "builtin", *, digits: str | Sequence[int] = BINARY, rows: int | None = None
) -> Digits:
    """Load the examples of ``digits`` from wherever ``spec`` points, detecting the format.

    * ``None`` or ``"builtin"``: ``load_builtin`` (no files needed).
    * a folder holding X.npy and y.npy: ``load_lab`` (this wins if the folder also holds MNIST files).
    * a folder holding MNIST IDX files, or an IDX images file: ``load_mnist_idx`` (all splits found).
    * a ``.npz`` file: ``load_mnist_npz`` (both splits).

    ``digits``: the digits to tell apart, (0, 1) by default, e.g. ``tuple(range(10))`` or "0-9"; y
    holds each example's class index, its digit's position in ``digits``. ``rows``: None means each
    format's default (for the lab format and 0 vs 1, the lab's first 1000 rows; otherwise every
    example of ``digits``); an integer keeps the first ``rows`` digits (for the lab format and 0 vs 1,
    the first ``rows`` rows of its files, which must all be 0s and 1s).

    Raises FileNotFoundError naming a missing path, and DataError naming a path that holds none of
    the formats looked for, or a requested digit that the source does not have.
    """
    classes = check_classes(digits)
    if spec is None or (isinstance(spec, str) and spec == "builtin"):
        return first_rows(load_builtin(digits=classes), rows)
    path = existing(spec)
    found = _detect_format(path)
    if found == "lab":
        return load_lab(path, rows=rows, digits=classes)
    loader = load_mnist_idx if found == "mnist-idx" else load_mnist_npz
    return first_rows(loader(path, digits=classes), rows)


def _detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "X.npy").is_file() and (path / "y.npy").is_file():
            return "lab"
        if images_in(path, "all"):
            return "mnist-idx"
    elif IMAGES_NAME.match(path.name):
        return "mnist-idx"
    elif path.suffix.lower() == ".npz":
        return "mnist-npz"
    raise DataError(f"no digit data recognised at {path}: looked for {_LOOKED_FOR}")
