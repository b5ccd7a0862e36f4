"""Handwritten 0-vs-1 digit data in the layout of the Coursera C2_W1 lab.

Why this module exists
----------------------
xpnet reproduces the lab "neural network for handwritten digit recognition,
binary": 20x20 grayscale digits unrolled to 400 features, 0 vs 1. The lab's
own files (``data/X.npy``, 5000x400, and ``data/y.npy``; the lab keeps the
first 1000 rows, 500 zeros then 500 ones) are not shipped with xpnet, and
xpnet must work offline: nothing here ever downloads anything. So this module
reads, in order of preference, whatever the user already has:

* the lab's folder (``X.npy`` + ``y.npy``),
* MNIST as IDX files (``*-images-idx3-ubyte[.gz]`` + labels) or as Keras'
  ``mnist.npz``, converted to the lab's 20x20 layout,
* and, when nothing else is at hand, real handwritten digits that come with
  scikit-learn (its bundled 8x8 UCI digits, upsampled to 20x20).

Whatever the source, the result is a validated ``Digits``: ``X`` (m, 400)
float32 with values about 0..1 and ``y`` (m, 1) uint8 in {0, 1}. Each row of
``X`` is one 20x20 image stored COLUMN-MAJOR, exactly like the lab's X.npy:
``row = img.T.ravel()``, and ``row.reshape(20, 20).T`` shows it upright. Every
loader validates what it returns (``check_digits``) and records which format
it found (``Digits.format``) and what it read (``Digits.source``).
"""

from __future__ import annotations

import gzip
import importlib.util
import numbers
import os
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xpnet.validation import check_seed

__all__ = [
    "FORMATS",
    "LAB_ROWS",
    "N_FEATURES",
    "SIDE",
    "DataError",
    "Digits",
    "check_digits",
    "load",
    "load_builtin",
    "load_lab",
    "load_mnist_idx",
    "load_mnist_npz",
    "select_binary",
    "to_lab_layout",
    "train_test_split",
]

SIDE = 20
"""Side of a lab image in pixels."""
N_FEATURES = SIDE * SIDE
"""Features per example: one per pixel of a 20x20 image."""
LAB_ROWS = 1000
"""Rows of the lab's X.npy that the lab uses: 500 zeros, then 500 ones."""
FORMATS = ("lab", "mnist-idx", "mnist-npz", "builtin")
"""The values ``Digits.format`` can take."""

PathLike = str | os.PathLike

_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_IDX_IMAGES_NAME = re.compile(
    r"^(?P<prefix>.+)-images(?P<sep>[-.])idx3-ubyte(?P<gz>\.gz)?$"
)
_IDX_SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k",), "all": ("train", "t10k")}
_NPZ_SPLIT_KEYS = {
    "train": (("x_train", "y_train"),),
    "test": (("x_test", "y_test"),),
    "all": (("x_train", "y_train"), ("x_test", "y_test")),
}
_SKLEARN_DIGITS = Path("datasets") / "data" / "digits.csv.gz"
_LOOKED_FOR = (
    "a folder holding X.npy and y.npy (lab), "
    "a folder holding MNIST IDX files (train-/t10k-images-idx3-ubyte[.gz] "
    "with their -labels-idx1-ubyte[.gz]), "
    "an MNIST IDX images file, or a Keras mnist.npz file"
)


class DataError(ValueError):
    """Digit data that xpnet cannot use: unknown format, bad shape, dtype,
    values or labels. The message names the file or the offending index."""


# --------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Digits:
    """Binary digit images in the lab's layout, validated on construction.

    Attributes:
        X: (m, 400) float32, C-contiguous. Row i is a 20x20 image stored
            column-major (``row = img.T.ravel()``), as in the lab's X.npy;
            values about 0..1.
        y: (m, 1) uint8 labels in {0, 1}.
        format: the format that was read: "lab", "mnist-idx", "mnist-npz"
            or "builtin".
        source: provenance in words: the path(s) read, or the package file.

    Construction validates with ``check_digits`` and then normalises the
    arrays to the dtypes and shapes above (e.g. float64 X becomes float32,
    y of shape (m,) becomes (m, 1)), so every Digits has the same layout.
    ``eq=False``: equality is identity, since comparing arrays with ``==``
    has no single truth value.
    """

    X: np.ndarray
    y: np.ndarray
    format: str
    source: str

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise DataError(f"format must be one of {FORMATS}; got {self.format!r}")
        check_digits(self.X, self.y)
        with np.errstate(over="ignore"):  # overflow is reported just below
            features = np.ascontiguousarray(self.X, dtype=np.float32)
        _check_fits_float32(self.X, features)
        labels = np.asarray(self.y).reshape(-1, 1).astype(np.uint8)
        object.__setattr__(self, "X", features)
        object.__setattr__(self, "y", labels)

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        ones = int(self.y.sum())
        return (
            f"Digits(m={len(self)}, zeros={len(self) - ones}, ones={ones}, "
            f"format={self.format!r}, source={self.source!r})"
        )

    def image(self, i: int) -> np.ndarray:
        """Example ``i`` as a (20, 20) image the right way up.

        The lab stores images column-major, so this is
        ``X[i].reshape(20, 20).T``: a view into X, not a copy.
        """
        return self.X[i].reshape(SIDE, SIDE).T


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def check_digits(X: np.ndarray, y: np.ndarray) -> None:
    """Check that X, y form a usable 0-vs-1 digit set; raise DataError if not.

    X must be 2-D with 400 columns and at least one row, of a real numeric
    dtype (integers or floats; complex, object, string and bool are refused),
    and finite. y must have shape (m,) or (m, 1) with m == len(X), hold
    numbers (or bools), and only the labels 0 and 1. Messages name the
    expected and actual shape, or the first offending index and its value.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    _check_features(X)
    labels = _label_vector(y, "y")
    if len(labels) != len(X):
        raise DataError(f"y has {len(labels)} labels but X has {len(X)} rows")
    _check_binary_labels(labels)


def _check_features(X: np.ndarray) -> None:
    if X.ndim != 2 or X.shape[1] != N_FEATURES:
        raise DataError(
            f"X must have shape (m, {N_FEATURES}) (20x20 images unrolled); "
            f"got {X.shape}"
        )
    if not _is_real_number_dtype(X.dtype):
        raise DataError(f"X must hold real numbers; got dtype {X.dtype}")
    if len(X) == 0:
        raise DataError("X has no rows: there are no digits")
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"X[{r}, {c}] is {X[r, c].item()}: pixels must be finite")


def _check_fits_float32(original: np.ndarray, features: np.ndarray) -> None:
    if not np.isfinite(features).all():
        r, c = np.argwhere(~np.isfinite(features))[0]
        value = np.asarray(original)[r, c].item()
        raise DataError(f"X[{r}, {c}] is {value}: too large for float32")


def _label_vector(y: np.ndarray, name: str) -> np.ndarray:
    """y as a 1-D array of numbers; accepts shape (m,) or (m, 1)."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{name} must have shape (m,) or (m, 1); got {y.shape}")
    if not (_is_real_number_dtype(y.dtype) or y.dtype == np.bool_):
        raise DataError(f"{name} must hold numbers; got dtype {y.dtype}")
    return y


def _check_binary_labels(labels: np.ndarray) -> None:
    bad = ~((labels == 0) | (labels == 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"y[{i}] is {labels[i].item()!r}: labels must be 0 or 1")


def _is_real_number_dtype(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)


def _check_rows(rows: int) -> None:
    if not isinstance(rows, numbers.Integral) or isinstance(rows, bool) or rows < 1:
        raise DataError(f"rows must be a positive integer or None; got {rows!r}")


# --------------------------------------------------------------------------
# Loading: one entry point, one loader per format
# --------------------------------------------------------------------------


def load(spec: PathLike | None = "builtin", *, rows: int | None = None) -> Digits:
    """Load 0-vs-1 digits from wherever ``spec`` points, detecting the format.

    * ``None`` or ``"builtin"``: ``load_builtin()`` (no files needed).
    * a folder holding X.npy and y.npy: ``load_lab`` (this wins if the
      folder also holds MNIST files).
    * a folder holding MNIST IDX files, or an IDX images file:
      ``load_mnist_idx`` (all splits found).
    * a ``.npz`` file: ``load_mnist_npz`` (both splits).

    ``rows``: None means each format's default: the lab's first 1000 rows
    for the lab format, every 0 and 1 for the others. An integer keeps the
    first ``rows`` digits (for the lab format, the first ``rows`` rows of
    its files, which must all be 0s and 1s).

    Raises FileNotFoundError naming a missing path, and DataError naming a
    path that holds none of the formats looked for.
    """
    if spec is None or (isinstance(spec, str) and spec == "builtin"):
        return _first_rows(load_builtin(), rows)
    path = _existing(spec)
    found = _detect_format(path)
    if found == "lab":
        return load_lab(path, rows=LAB_ROWS if rows is None else rows)
    loader = load_mnist_idx if found == "mnist-idx" else load_mnist_npz
    return _first_rows(loader(path), rows)


def _detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "X.npy").is_file() and (path / "y.npy").is_file():
            return "lab"
        if _idx_images_in(path, "all"):
            return "mnist-idx"
    elif _IDX_IMAGES_NAME.match(path.name):
        return "mnist-idx"
    elif path.suffix.lower() == ".npz":
        return "mnist-npz"
    raise DataError(f"no digit data recognised at {path}: looked for {_LOOKED_FOR}")


def _first_rows(digits: Digits, rows: int | None) -> Digits:
    if rows is None:
        return digits
    _check_rows(rows)
    if rows > len(digits):
        raise DataError(
            f"rows={rows} requested but {digits.source} holds {len(digits)} digits"
        )
    source = f"{digits.source}, first {rows} digits"
    return Digits(digits.X[:rows], digits.y[:rows], digits.format, source)


def _existing(path: PathLike) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return path


# --------------------------------------------------------------------------
# The lab's own files
# --------------------------------------------------------------------------


def load_lab(path: PathLike = "data", rows: int | None = LAB_ROWS) -> Digits:
    """Load the lab's ``X.npy`` and ``y.npy`` from the folder ``path``.

    Keeps the first ``rows`` rows, as the lab does (its first 1000 rows are
    500 zeros then 500 ones; later rows hold the digits 2..9, which
    ``rows=None`` would keep and validation then refuses). y may be (m, 1)
    or (m,), of any integer or float dtype holding 0/1. Files are read with
    ``allow_pickle=False``: a pickled (object) array is refused, never run.
    X is used as is (the lab's values run slightly outside 0..1).
    """
    folder = _existing(path)
    if not folder.is_dir():
        raise DataError(f"{folder} is a file; load_lab wants the folder holding X.npy and y.npy")
    X = _read_npy(folder / "X.npy")
    y = _read_npy(folder / "y.npy")
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise DataError(
            f"{folder}: X.npy has shape {X.shape} but y.npy has shape {y.shape}; "
            "they need one label per row"
        )
    source = f"{folder / 'X.npy'} and {folder / 'y.npy'}"
    if rows is not None:
        _check_rows(rows)
        if rows > len(X):
            raise DataError(
                f"rows={rows} requested but {folder / 'X.npy'} holds {len(X)} rows"
            )
        X, y = X[:rows], y[:rows]
        source += f", first {rows} rows"
    return _validated(X, y, "lab", source)


def _read_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"lab data file missing: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"cannot read {path} as a plain NumPy array: {error}") from error
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataError(f"{path} is an .npz archive, not a single .npy array")
    return array


def _validated(X: np.ndarray, y: np.ndarray, format: str, source: str) -> Digits:
    """Check (naming the source) and build a Digits."""
    try:
        check_digits(X, y)
    except DataError as error:
        raise DataError(f"{source}: {error}") from error
    return Digits(X, y, format, source)


# --------------------------------------------------------------------------
# MNIST: IDX files
# --------------------------------------------------------------------------


def load_mnist_idx(path: PathLike, split: str = "all") -> Digits:
    """Load the 0s and 1s of MNIST from IDX files, in the lab's layout.

    ``path`` is either a folder holding ``train-images-idx3-ubyte[.gz]``
    and/or ``t10k-images-idx3-ubyte[.gz]`` with the matching
    ``*-labels-idx1-ubyte[.gz]`` (``split``: "train", "test" or "all"; "all"
    reads whichever are present, train first), or the path of one images
    file, whose labels file is found beside it by name (``split`` must then
    be "all" or agree with the file's train-/t10k- prefix). A "." instead
    of the "-" before "idx" (``train-images.idx3-ubyte``) is accepted, and
    gzip is recognised by content. The IDX headers are checked (magic
    numbers 2051/2049, dimensions, lengths); a bad or truncated file raises
    DataError naming it. Digits keep their file order; the 28x28 images go
    through ``to_lab_layout``.
    """
    _check_split(split, _IDX_SPLIT_PREFIXES)
    target = _existing(path)
    if target.is_dir():
        pairs = _idx_pairs_in_folder(target, split)
    else:
        pairs = [_idx_pair_for_file(target, split)]
    images, labels = [], []
    for images_path, labels_path in pairs:
        digits, targets = _read_idx_pair(images_path, labels_path)
        images.append(digits)
        labels.append(targets)
    source = "; ".join(f"{i} + {t.name}" for i, t in pairs)
    return _from_28x28(np.concatenate(images), np.concatenate(labels), "mnist-idx", source)


def _check_split(split: str, choices: dict) -> None:
    if split not in choices:
        raise DataError(f"split must be one of {tuple(choices)}; got {split!r}")


def _idx_images_in(folder: Path, split: str) -> list[Path]:
    """IDX images files in ``folder`` for ``split``, train first; a plain
    file is preferred over its .gz twin."""
    chosen: dict[str, Path] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        match = _IDX_IMAGES_NAME.match(entry.name)
        if match and entry.is_file() and match["prefix"] in _IDX_SPLIT_PREFIXES[split]:
            key = match["prefix"] + match["sep"]
            if key not in chosen or not match["gz"]:
                chosen[key] = entry
    order = _IDX_SPLIT_PREFIXES["all"]
    return sorted(chosen.values(), key=lambda p: order.index(_IDX_IMAGES_NAME.match(p.name)["prefix"]))


def _idx_pairs_in_folder(folder: Path, split: str) -> list[tuple[Path, Path]]:
    images = _idx_images_in(folder, split)
    if not images:
        wanted = " and/or ".join(f"{p}-images-idx3-ubyte[.gz]" for p in _IDX_SPLIT_PREFIXES[split])
        raise DataError(f"no MNIST IDX images for split {split!r} in {folder}: looked for {wanted}")
    return [(path, _labels_beside(path)) for path in images]


def _idx_pair_for_file(path: Path, split: str) -> tuple[Path, Path]:
    match = _IDX_IMAGES_NAME.match(path.name)
    if not match:
        raise DataError(
            f"{path} is not named like an MNIST IDX images file "
            "(*-images-idx3-ubyte[.gz]); its labels file is found by that name"
        )
    if split != "all" and match["prefix"] in _IDX_SPLIT_PREFIXES["all"]:
        if match["prefix"] not in _IDX_SPLIT_PREFIXES[split]:
            raise DataError(f"{path} is not a {split!r} file; pass split='all' or the folder")
    return path, _labels_beside(path)


def _labels_beside(images_path: Path) -> Path:
    match = _IDX_IMAGES_NAME.match(images_path.name)
    stem = f"{match['prefix']}-labels{match['sep']}idx1-ubyte"
    suffixes = ("", ".gz") if not match["gz"] else (".gz", "")
    candidates = [images_path.with_name(stem + suffix) for suffix in suffixes]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = " or ".join(c.name for c in candidates)
    raise FileNotFoundError(f"no labels file beside {images_path}: looked for {names}")


def _read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 0s and 1s of one images/labels pair: (k, rows, cols) uint8, (k, 1)."""
    images = _read_idx(images_path, _IDX_IMAGES_MAGIC)
    labels = _read_idx(labels_path, _IDX_LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but "
            f"{labels_path} holds {len(labels)} labels"
        )
    return select_binary(images, labels)


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (plain or gzip) into an array."""
    raw = _idx_bytes(path)
    kind = "images (2051)" if magic == _IDX_IMAGES_MAGIC else "labels (2049)"
    if len(raw) < 4:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, no IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(
            f"{path}: IDX magic number is {found} (0x{found:08x}); "
            f"expected {magic} for MNIST {kind}"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if ndim == 3 and 0 in dims[1:]:
        raise DataError(f"{path}: images of size {dims[1]}x{dims[2]} hold no pixels")
    expected = int(np.prod(dims))
    body = len(raw) - header
    if body < expected:
        raise DataError(
            f"{path} is truncated: header promises {dims} = {expected} bytes, "
            f"file holds {body}"
        )
    if body > expected:
        raise DataError(f"{path} has {body - expected} bytes beyond the {dims} its header declares")
    return np.frombuffer(raw, dtype=np.uint8, count=expected, offset=header).reshape(dims)


def _idx_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: corrupt or truncated gzip data ({error})") from error


# --------------------------------------------------------------------------
# MNIST: Keras' mnist.npz
# --------------------------------------------------------------------------


def load_mnist_npz(path: PathLike, split: str = "all") -> Digits:
    """Load the 0s and 1s of Keras' ``mnist.npz``, in the lab's layout.

    The archive holds ``x_train`` (60000, 28, 28) uint8, ``y_train``,
    ``x_test`` and ``y_test``; ``split`` ("train", "test", "all": train
    first) picks which. Read with ``allow_pickle=False``: object arrays are
    refused, never unpickled. Missing keys raise DataError listing the keys
    the file has.
    """
    _check_split(split, _NPZ_SPLIT_KEYS)
    file = _existing(path)
    if file.is_dir():
        raise DataError(f"{file} is a folder; load_mnist_npz wants an .npz file")
    images, labels = [], []
    for image_key, label_key in _NPZ_SPLIT_KEYS[split]:
        x, t = _read_npz_pair(file, image_key, label_key)
        digits, targets = select_binary(x, t)
        images.append(digits)
        labels.append(targets)
    keys = ", ".join(k for pair in _NPZ_SPLIT_KEYS[split] for k in pair)
    return _from_28x28(np.concatenate(images), np.concatenate(labels), "mnist-npz", f"{file} ({keys})")


def _read_npz_pair(file: Path, image_key: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        archive = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"cannot read {file} as an .npz archive: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{file} holds a single array, not an .npz archive with x_train, y_train, ...")
    with archive:
        missing = [k for k in (image_key, label_key) if k not in archive.files]
        if missing:
            raise DataError(f"{file} lacks {missing}; it holds {sorted(archive.files)}")
        try:
            x, t = archive[image_key], archive[label_key]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise DataError(f"cannot read {image_key}/{label_key} from {file}: {error}") from error
    if x.ndim != 3 or t.ndim == 0 or len(x) != len(t):
        raise DataError(
            f"{file}: {image_key} has shape {x.shape} and {label_key} {t.shape}; "
            "expected (n, rows, cols) images and n labels"
        )
    return x, t


def _from_28x28(images: np.ndarray, labels: np.ndarray, format: str, source: str) -> Digits:
    if len(images) == 0:
        raise DataError(f"no 0s or 1s found in {source}")
    return _validated(to_lab_layout(images), labels, format, source)


# --------------------------------------------------------------------------
# Built-in digits (scikit-learn's bundled UCI set)
# --------------------------------------------------------------------------


def load_builtin() -> Digits:
    """Real handwritten 0s and 1s that need no download: the UCI ML
    hand-written digits (optical recognition of handwritten digits, 8x8
    images of 0..16, 1797 in all) as bundled with scikit-learn in
    ``sklearn/datasets/data/digits.csv.gz``.

    The file is read directly (scikit-learn is not imported unless the file
    cannot be found, in which case ``sklearn.datasets.load_digits`` is
    tried). The zeros and ones (about 360, in file order) are upsampled to
    20x20 by bilinear interpolation (pixel-centre aligned, edges clamped:
    ``R @ img @ R.T``), scaled from 0..16 to 0..1 and stored column-major
    like the lab's data. Deterministic. The 8x8 digits are coarser than the
    lab's, so this is a stand-in that lets everything run offline, not a
    replacement for the lab's data.
    """
    table, source = _sklearn_digits_table()
    images8, y = select_binary(table[:, :64].reshape(-1, 8, 8), table[:, 64])
    resize = _linear_matrix(SIDE, 8)
    images20 = np.clip(resize @ (images8 / 16.0) @ resize.T, 0.0, 1.0)
    return _validated(_column_major(images20), y, "builtin", source)


def _sklearn_digits_table() -> tuple[np.ndarray, str]:
    """The (1797, 65) table: 64 pixels then the label; and its provenance."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / _SKLEARN_DIGITS
        if path.is_file():
            return _read_digits_csv(path), f"scikit-learn {path} (UCI ML hand-written digits)"
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise FileNotFoundError(
            "the builtin digits come from scikit-learn's bundled "
            f"sklearn/{_SKLEARN_DIGITS.as_posix()}, and scikit-learn is not installed"
        ) from error
    bunch = load_digits()
    table = np.column_stack([bunch.data, bunch.target])
    return table, "scikit-learn sklearn.datasets.load_digits() (UCI ML hand-written digits)"


def _read_digits_csv(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rt") as lines:
            table = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise DataError(f"cannot read scikit-learn's digits file {path}: {error}") from error
    if table.shape[1] != 65:
        raise DataError(f"{path}: expected 65 columns (8x8 pixels + label); got {table.shape}")
    return table


def _linear_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) matrix of 1-D linear interpolation, pixel centres
    aligned and edges clamped; each row sums to 1."""
    centres = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    below = np.floor(centres).astype(int)
    above = np.minimum(below + 1, n_in - 1)
    weight = centres - below
    matrix = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    matrix[rows, below] += 1.0 - weight
    matrix[rows, above] += weight
    return matrix


# --------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------


def to_lab_layout(images28: np.ndarray) -> np.ndarray:
    """Turn MNIST images (m, 28, 28) into lab rows (m, 400) float32.

    Per image: crop the bounding box of the non-zero pixels, pad it to a
    square centred on the digit, resize that square to 20x20 by area
    averaging (each output pixel is the mean of the input area it covers;
    exact when the square is already 20 pixels, the usual case since MNIST
    digits were normalised to a 20-pixel box), scale to 0..1 and store
    column-major like the lab. An all-zero image maps to zeros. Vectorised:
    the resizes are batched matrix products, ``Ry @ img @ Rx.T``.

    Accepts any (m, rows, cols) size; integer pixels must lie in 0..255
    (divided by 255), float pixels in 0..1 (kept).
    """
    images = np.asarray(images28)
    if images.ndim != 3 or 0 in images.shape[1:]:
        raise DataError(f"images must have shape (m, rows, cols); got {images.shape}")
    pixels = _unit_pixels(images)
    (top, left), side = _square_boxes(pixels > 0)
    down = _area_matrices(top, side, images.shape[1])
    across = _area_matrices(left, side, images.shape[2])
    resized = down @ pixels @ across.transpose(0, 2, 1)
    return _column_major(np.clip(resized, 0.0, 1.0))


def _unit_pixels(images: np.ndarray) -> np.ndarray:
    """Pixels as float32 in 0..1."""
    if np.issubdtype(images.dtype, np.integer):
        if images.size and (images.min() < 0 or images.max() > 255):
            raise DataError("integer pixels must lie in 0..255")
        return images.astype(np.float32) / np.float32(255)
    if np.issubdtype(images.dtype, np.floating):
        if images.size and not (np.isfinite(images).all() and 0 <= images.min() and images.max() <= 1):
            raise DataError("float pixels must be finite and lie in 0..1")
        return images.astype(np.float32)
    raise DataError(f"images must hold integer or float pixels; got dtype {images.dtype}")


def _square_boxes(ink: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Per image, the square around the ink's bounding box, centred on it:
    ((top, left), side) as float arrays. Blank images get the whole frame."""
    first_row, height = _extent(ink.any(axis=2))
    first_col, width = _extent(ink.any(axis=1))
    side = np.maximum(height, width)
    top = first_row - (side - height) / 2
    left = first_col - (side - width) / 2
    return (top, left), side


def _extent(inked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First inked index and length of the inked span along axis 1 of a
    (m, n) mask; (0, n) for rows without ink."""
    n = inked.shape[1]
    first = np.argmax(inked, axis=1)
    last = n - 1 - np.argmax(inked[:, ::-1], axis=1)
    blank = ~inked.any(axis=1)
    first = np.where(blank, 0, first).astype(np.float64)
    length = np.where(blank, n, last - first + 1).astype(np.float64)
    return first, length


def _area_matrices(start: np.ndarray, side: np.ndarray, n_in: int) -> np.ndarray:
    """(m, 20, n_in) area-averaging matrices: output pixel i of image k
    averages the input span [start + i*side/20, start + (i+1)*side/20);
    input pixel j covers [j, j+1), and anything outside the image is 0."""
    edges = start[:, None] + side[:, None] * np.arange(SIDE + 1) / SIDE
    low, high = edges[:, :-1, None], edges[:, 1:, None]
    pixel = np.arange(n_in)
    overlap = np.clip(np.minimum(high, pixel + 1) - np.maximum(low, pixel), 0.0, None)
    return (overlap / (high - low)).astype(np.float32)


def _column_major(images20: np.ndarray) -> np.ndarray:
    """(m, 20, 20) upright images -> (m, 400) float32 lab rows (img.T.ravel())."""
    rows = images20.transpose(0, 2, 1).reshape(len(images20), N_FEATURES)
    return np.ascontiguousarray(rows, dtype=np.float32)


def select_binary(
    X: np.ndarray, y: np.ndarray, classes: tuple[int, int] = (0, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the examples labelled ``classes[0]`` or ``classes[1]``.

    X may have any shape with one example per leading index; y is (m,) or
    (m, 1). Returns (X kept, y kept) with y as (k, 1) uint8: 0 for
    ``classes[0]``, 1 for ``classes[1]``. Order is preserved.
    """
    X = np.asarray(X)
    labels = _label_vector(np.asarray(y), "y")
    if len(classes) != 2 or classes[0] == classes[1]:
        raise DataError(f"classes must be two different labels; got {classes!r}")
    if X.ndim == 0 or len(X) != len(labels):
        raise DataError(f"X has shape {X.shape} but y has {len(labels)} labels")
    negative, positive = classes
    keep = (labels == negative) | (labels == positive)
    return X[keep], (labels[keep] == positive).astype(np.uint8).reshape(-1, 1)


# --------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------


def train_test_split(
    d: Digits, test_fraction: float = 0.2, seed: int = 0
) -> tuple[Digits, Digits]:
    """Split into (train, test), stratified and reproducible.

    Each class is shuffled with ``np.random.default_rng(seed)`` and
    ``round(n_class * test_fraction)`` of it goes to test, so both parts keep
    the class balance; each part is then shuffled. Same seed, same split.
    Raises DataError unless 0 < test_fraction < 1 and both parts are
    non-empty.
    """
    if not isinstance(d, Digits):
        raise TypeError(f"train_test_split takes Digits (from xpnet.data.load), got {type(d).__name__}")
    _check_fraction(test_fraction)
    rng = np.random.default_rng(check_seed(seed))
    test_parts, train_parts = [], []
    for label in (0, 1):
        members = rng.permutation(np.flatnonzero(d.y[:, 0] == label))
        n_test = int(round(len(members) * test_fraction))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    for name, part in (("train", train), ("test", test)):
        if len(part) == 0:
            raise DataError(
                f"test_fraction={test_fraction} of {len(d)} digits leaves the {name} part empty"
            )
    return _part(d, train, "train", test_fraction, seed), _part(d, test, "test", test_fraction, seed)


def _check_fraction(test_fraction: float) -> None:
    is_real = isinstance(test_fraction, numbers.Real) and not isinstance(test_fraction, bool)
    if not (is_real and 0 < test_fraction < 1):
        raise DataError(f"test_fraction must be a number strictly between 0 and 1; got {test_fraction!r}")


def _part(d: Digits, rows: np.ndarray, name: str, test_fraction: float, seed: int) -> Digits:
    source = f"{d.source} [{name} part, test_fraction={test_fraction}, seed={seed}]"
    return Digits(d.X[rows], d.y[rows], d.format, source)
