"""The lab's layout: a digit is a 20x20 image unrolled COLUMN-MAJOR into a row of 400.

Why column-major: the lab's X.npy stores ``row = image.T.ravel()`` (and shows a row with
``row.reshape(20, 20).T``), so every source is brought to exactly that. ``to_lab_layout`` converts
MNIST's 28x28 images the way MNIST itself was made: the digit's bounding box, squared and centred,
resized to 20x20.
"""

from __future__ import annotations

import numpy as np

from xpnet.data.errors import DataError

SIDE = 20
"""Side of a lab image in pixels."""
N_FEATURES = SIDE * SIDE
"""Features per example: one per pixel of a 20x20 image."""


def to_lab_layout(images28: np.ndarray) -> np.ndarray:
    """Turn MNIST images (m, 28, 28) into lab rows (m, 400) float32.

    Per image: crop the bounding box of the non-zero pixels, pad it to a square centred on the
    digit, resize that square to 20x20 by area averaging (each output pixel is the mean of the
    input area it covers; exact when the square is already 20 pixels, the usual case since MNIST
    digits were normalised to a 20-pixel box), scale to 0..1 and store column-major like the lab.
    An all-zero image maps to zeros. Vectorised: the resizes are batched matrix products,
    ``Ry @ img @ Rx.T``.

    Accepts any (m, rows, cols) size; integer pixels must lie in 0..255 (divided by 255), float
    pixels in 0..1 (kept).
    """
    images = np.asarray(images28)
    if images.ndim != 3 or 0 in images.shape[1:]:
        raise DataError(f"images must have shape (m, rows, cols); got {images.shape}")
    pixels = _unit_pixels(images)
    (top, left), side = _square_boxes(pixels > 0)
    down = _area_matrices(top, side, images.shape[1])
    across = _area_matrices(left, side, images.shape[2])
    resized = down @ pixels @ across.transpose(0, 2, 1)
    return column_major(np.clip(resized, 0.0, 1.0))


def column_major(images20: np.ndarray) -> np.ndarray:
    """(m, 20, 20) upright images -> (m, 400) float32 lab rows (``image.T.ravel()`` each)."""
    rows = images20.transpose(0, 2, 1).reshape(len(images20), N_FEATURES)
    return np.ascontiguousarray(rows, dtype=np.float32)


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
    """Per image, the square around the ink's bounding box, centred on it: ((top, left), side) as
    float arrays. Blank images get the whole frame."""
    first_row, height = _extent(ink.any(axis=2))
    first_col, width = _extent(ink.any(axis=1))
    side = np.maximum(height, width)
    top = first_row - (side - height) / 2
    left = first_col - (side - width) / 2
    return (top, left), side


def _extent(inked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First inked index and length of the inked span along axis 1 of a (m, n) mask; (0, n) for
    rows without ink."""
    n = inked.shape[1]
    first = np.argmax(inked, axis=1)
    last = n - 1 - np.argmax(inked[:, ::-1], axis=1)
    blank = ~inked.any(axis=1)
    first = np.where(blank, 0, first).astype(np.float64)
    length = np.where(blank, n, last - first + 1).astype(np.float64)
    return first, length


def _area_matrices(start: np.ndarray, side: np.ndarray, n_in: int) -> np.ndarray:
    """(m, 20, n_in) area-averaging matrices: output pixel i of image k averages the input span
    [start + i*side/20, start + (i+1)*side/20); input pixel j covers [j, j+1), and anything outside
    the image is 0."""
    edges = start[:, None] + side[:, None] * np.arange(SIDE + 1) / SIDE
    low, high = edges[:, :-1, None], edges[:, 1:, None]
    pixel = np.arange(n_in)
    overlap = np.clip(np.minimum(high, pixel + 1) - np.maximum(low, pixel), 0.0, None)
    return (overlap / (high - low)).astype(np.float32)
