"""Helpers shared by the tests of xpnet.data (imported as ``from test_data_support import ...``): synthetic
MNIST-like images, IDX writers and labelled Digits. It holds no tests itself."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from xpnet.data import Digits

#: The real MNIST test set, where CI and developers keep it (beside the repository, never copied into it).
MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
#: How many of each digit the MNIST test set (t10k) holds: the published counts.
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def vertical_bar() -> np.ndarray:
    """A 28x28 MNIST-like '1': a 20-pixel-tall, 2-pixel-wide bar."""
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 13:15] = 255
    return img


def horizontal_bar() -> np.ndarray:
    return vertical_bar().T.copy()


def expected_vertical_20() -> np.ndarray:
    """What vertical_bar() must become: the 20x20 square around it, bar in columns 9-10."""
    img = np.zeros((20, 20), np.float32)
    img[:, 9:11] = 1.0
    return img


SYNTH_IMAGES = np.stack([vertical_bar(), horizontal_bar(), vertical_bar(),
                         horizontal_bar(), vertical_bar(), horizontal_bar()])
SYNTH_LABELS = np.array([1, 0, 2, 0, 1, 9], np.uint8)  # 0 vs 1 keeps rows 0, 1, 3, 4


def idx_header(shape: tuple[int, ...], magic: int | None = None) -> bytes:
    """The big-endian header of an unsigned-byte IDX file holding an array of ``shape``."""
    magic = 0x0800 | len(shape) if magic is None else magic
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape)


def write_idx(path: Path, array: np.ndarray, gz: bool = False, magic: int | None = None) -> Path:
    """Write an unsigned-byte IDX file (the MNIST format), optionally gzipped."""
    array = np.asarray(array, dtype=np.uint8)
    payload = idx_header(array.shape, magic) + array.tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def write_mnist_pair(folder: Path, prefix: str, gz: bool, images=SYNTH_IMAGES, labels=SYNTH_LABELS) -> Path:
    """An images file and its labels file, named as MNIST names them; returns the images file."""
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
    return write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)


def digits_with_ids(*counts: int, classes: tuple[int, ...] | None = None) -> Digits:
    """Digits with ``counts[i]`` examples of class i, whose column 0 holds the row number (to track rows)."""
    m = sum(counts)
    X = np.zeros((m, 400), np.float32)
    X[:, 0] = np.arange(m)
    y = np.repeat(np.arange(len(counts)), counts).astype(np.uint8)
    return Digits(X, y, "lab", "synthetic", classes or tuple(range(len(counts))))


def spread(image: np.ndarray, axis: int) -> float:
    """Standard deviation of the ink's position along an axis (0: down, 1: across)."""
    profile = image.sum(axis=1 - axis)
    p = profile / profile.sum()
    x = np.arange(len(p))
    mean = (p * x).sum()
    return float(np.sqrt((p * (x - mean) ** 2).sum()))


def ink_box(image: np.ndarray, threshold: float = 0.0) -> tuple[int, int]:
    """(height, width) of the bounding box of pixels above threshold."""
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
