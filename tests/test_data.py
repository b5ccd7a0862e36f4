"""Tests for xpnet.data: every loader, the lab layout, validation and splitting.

Synthetic files are written to tmp_path; the real MNIST test set is used when
the CI's copy is present beside the repository (../shared/data/mnist).
"""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xpnet.data import (
    FORMATS,
    DataError,
    Digits,
    check_digits,
    load,
    load_builtin,
    load_lab,
    load_mnist_idx,
    load_mnist_npz,
    select_binary,
    to_lab_layout,
    train_test_split,
)

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def ink_box(image: np.ndarray, threshold: float = 0.0) -> tuple[int, int]:
    """(height, width) of the bounding box of pixels above threshold."""
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def spread(image: np.ndarray, axis: int) -> float:
    """Standard deviation of the ink's position along an axis (0: down, 1: across)."""
    profile = image.sum(axis=1 - axis)
    p = profile / profile.sum()
    x = np.arange(len(p))
    mean = (p * x).sum()
    return float(np.sqrt((p * (x - mean) ** 2).sum()))


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


def write_idx(path: Path, array: np.ndarray, gz: bool = False, magic: int | None = None) -> Path:
    """Write an unsigned-byte IDX file (the MNIST format), optionally gzipped."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    payload = header + array.tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


SYNTH_IMAGES = np.stack([vertical_bar(), horizontal_bar(), vertical_bar(),
                         horizontal_bar(), vertical_bar(), horizontal_bar()])
SYNTH_LABELS = np.array([1, 0, 2, 0, 1, 9], np.uint8)  # keeps rows 0, 1, 3, 4


def write_mnist_pair(folder: Path, prefix: str, gz: bool, images=SYNTH_IMAGES, labels=SYNTH_LABELS) -> Path:
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
    return write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)


class PickleBomb:
    """Unpickling this creates a folder: proof of code execution."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def digits_with_ids(n_zeros: int, n_ones: int) -> Digits:
    """Digits whose column 0 holds the row number, to track rows through a split."""
    m = n_zeros + n_ones
    X = np.zeros((m, 400), np.float32)
    X[:, 0] = np.arange(m)
    y = np.r_[np.zeros(n_zeros, np.uint8), np.ones(n_ones, np.uint8)]
    return Digits(X, y, "lab", "synthetic")


# --------------------------------------------------------------------------
# builtin digits
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def builtin() -> Digits:
    return load_builtin()


def test_builtin_shape_dtype_and_counts(builtin):
    assert builtin.format == "builtin"
    assert "digits.csv.gz" in builtin.source or "load_digits" in builtin.source
    assert builtin.X.shape == (360, 400) and len(builtin) == 360
    assert builtin.X.dtype == np.float32 and builtin.X.flags.c_contiguous
    assert builtin.y.shape == (360, 1) and builtin.y.dtype == np.uint8
    assert np.bincount(builtin.y[:, 0]).tolist() == [178, 182]


def test_builtin_values_span_zero_to_one(builtin):
    assert builtin.X.min() == 0.0
    assert builtin.X.max() == pytest.approx(1.0)  # 16/16: scaled by 16, not by 255


def test_builtin_is_deterministic(builtin):
    again = load_builtin()
    np.testing.assert_array_equal(again.X, builtin.X)
    np.testing.assert_array_equal(again.y, builtin.y)


def test_builtin_ones_stand_upright(builtin):
    """A 1 is a vertical stroke: taller than wide, unless the layout is transposed."""
    ones = np.flatnonzero(builtin.y[:, 0] == 1)
    height, width = ink_box(builtin.image(ones[0]))
    assert height > width
    mean_one = builtin.X[ones].mean(axis=0).reshape(20, 20).T
    assert spread(mean_one, axis=0) > 1.3 * spread(mean_one, axis=1)


def test_builtin_matches_sklearn_and_scipy(builtin):
    """Same digits, order and orientation as sklearn.datasets.load_digits, resized
    exactly as scipy's linear zoom (pixel-centre grid, edges clamped) would."""
    datasets = pytest.importorskip("sklearn.datasets")
    ndimage = pytest.importorskip("scipy.ndimage")
    bunch = datasets.load_digits()
    keep = bunch.target <= 1
    np.testing.assert_array_equal(builtin.y[:, 0], bunch.target[keep])
    expected = [ndimage.zoom(img / 16.0, 2.5, order=1, grid_mode=True, mode="nearest")
                for img in bunch.images[keep]]
    ours = [builtin.image(i) for i in range(len(builtin))]
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_builtin_loads_fast():
    start = time.perf_counter()
    load_builtin()
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------
# the lab's files
# --------------------------------------------------------------------------


@pytest.fixture
def lab_dir(tmp_path) -> Path:
    """A lab-like data folder: 5000 rows, 500 zeros, 500 ones, then the digits 2..9."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-0.1, 1.1, size=(5000, 400))
    y = np.r_[np.zeros(500), np.ones(500), np.repeat(np.arange(2, 10), 500)].reshape(-1, 1)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y.astype(np.uint8))
    return tmp_path


def test_lab_keeps_first_1000_rows(lab_dir):
    d = load_lab(lab_dir)
    assert d.format == "lab" and str(lab_dir / "X.npy") in d.source
    assert d.X.shape == (1000, 400) and d.X.dtype == np.float32
    np.testing.assert_array_equal(d.X, np.load(lab_dir / "X.npy")[:1000].astype(np.float32))
    assert d.y[:500].sum() == 0 and d.y[500:].sum() == 500


def test_lab_all_rows_refuses_digits_beyond_one(lab_dir):
    with pytest.raises(DataError, match=r"y\[1000\] is 2"):
        load_lab(lab_dir, rows=None)


def test_lab_accepts_flat_float_labels(lab_dir):
    np.save(lab_dir / "y.npy", np.r_[np.zeros(500), np.ones(4500)])  # (5000,) float64
    d = load_lab(lab_dir, rows=600)
    assert d.y.shape == (600, 1) and d.y.dtype == np.uint8 and d.y.sum() == 100


def test_lab_refuses_mismatched_lengths(lab_dir):
    np.save(lab_dir / "y.npy", np.zeros((4999, 1)))
    with pytest.raises(DataError, match=r"\(5000, 400\).*\(4999, 1\)"):
        load_lab(lab_dir)


def test_lab_refuses_401_columns(lab_dir):
    np.save(lab_dir / "X.npy", np.zeros((1000, 401)))
    np.save(lab_dir / "y.npy", np.zeros((1000, 1)))
    with pytest.raises(DataError, match=r"\(m, 400\).*\(1000, 401\)"):
        load_lab(lab_dir)


def test_lab_refuses_nan(lab_dir):
    X = np.load(lab_dir / "X.npy")
    X[7, 42] = np.nan
    np.save(lab_dir / "X.npy", X)
    with pytest.raises(DataError, match=r"X\[7, 42\] is nan"):
        load_lab(lab_dir)


def test_lab_refuses_pickles_without_running_them(lab_dir, tmp_path):
    marker = tmp_path / "pickle-ran"
    bombs = np.empty((1000, 400), dtype=object)
    bombs[:] = PickleBomb(marker)
    np.save(lab_dir / "X.npy", bombs, allow_pickle=True)
    with pytest.raises(DataError, match="X.npy"):
        load_lab(lab_dir)
    assert not marker.exists()
    np.load(lab_dir / "X.npy", allow_pickle=True)  # the bomb is live: the check above can fail
    assert marker.exists()


def test_lab_missing_folder_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_lab(tmp_path / "nowhere")
    np.save(tmp_path / "X.npy", np.zeros((10, 400)))
    with pytest.raises(FileNotFoundError, match="y.npy"):
        load_lab(tmp_path)


def test_lab_more_rows_than_the_file_holds(lab_dir):
    with pytest.raises(DataError, match="rows=6000.*5000"):
        load_lab(lab_dir, rows=6000)


# --------------------------------------------------------------------------
# MNIST IDX files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_parses_and_selects(tmp_path, gz):
    write_mnist_pair(tmp_path, "t10k", gz)
    d = load_mnist_idx(tmp_path)
    assert d.format == "mnist-idx" and "t10k-images-idx3-ubyte" in d.source
    assert d.y[:, 0].tolist() == [1, 0, 0, 1]
    assert d.X.shape == (4, 400) and d.X.dtype == np.float32


def test_idx_layout_keeps_bars_upright(tmp_path):
    d = load_mnist_idx(write_mnist_pair(tmp_path, "train", gz=True))
    vertical = expected_vertical_20()
    np.testing.assert_allclose(d.image(0), vertical)  # label 1: the vertical bar
    np.testing.assert_allclose(d.image(1), vertical.T)  # label 0: the horizontal bar
    np.testing.assert_allclose(d.X[0], vertical.T.ravel())  # stored column-major, like the lab


def test_idx_splits(tmp_path):
    write_mnist_pair(tmp_path, "train", gz=False, images=SYNTH_IMAGES[:2], labels=SYNTH_LABELS[:2])
    write_mnist_pair(tmp_path, "t10k", gz=True)
    assert load_mnist_idx(tmp_path, "train").y[:, 0].tolist() == [1, 0]
    assert load_mnist_idx(tmp_path, "test").y[:, 0].tolist() == [1, 0, 0, 1]
    both = load_mnist_idx(tmp_path, "all")
    assert both.y[:, 0].tolist() == [1, 0, 1, 0, 0, 1]  # train first
    assert "train-images" in both.source and "t10k-images" in both.source
    with pytest.raises(DataError, match="split"):
        load_mnist_idx(tmp_path, "validation")


def test_idx_images_file_finds_its_labels(tmp_path):
    images = write_mnist_pair(tmp_path, "t10k", gz=True)
    assert len(load_mnist_idx(images)) == 4
    with pytest.raises(DataError, match="'train'"):
        load_mnist_idx(images, split="train")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist_idx(images)


def test_idx_bad_magic(tmp_path):
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", SYNTH_LABELS)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", SYNTH_IMAGES, magic=2049)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.*magic number is 2049.*2051"):
        load_mnist_idx(tmp_path)


def test_idx_truncated_plain_file(tmp_path):
    images = write_mnist_pair(tmp_path, "t10k", gz=False)
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte is truncated"):
        load_mnist_idx(tmp_path)


def test_idx_truncated_gzip_file(tmp_path):
    images = write_mnist_pair(tmp_path, "t10k", gz=True)
    images.write_bytes(images.read_bytes()[:-20])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz.*gzip"):
        load_mnist_idx(tmp_path)


def test_idx_mismatched_counts(tmp_path):
    write_mnist_pair(tmp_path, "t10k", gz=False, labels=SYNTH_LABELS[:5])
    with pytest.raises(DataError, match=r"holds 6 images but .*labels-idx1-ubyte holds 5 labels"):
        load_mnist_idx(tmp_path)


def test_idx_without_zeros_or_ones(tmp_path):
    write_mnist_pair(tmp_path, "t10k", gz=False, labels=np.full(6, 7))
    with pytest.raises(DataError, match="no 0s or 1s"):
        load_mnist_idx(tmp_path)


# --------------------------------------------------------------------------
# to_lab_layout and select_binary
# --------------------------------------------------------------------------


def test_to_lab_layout_is_exact_for_a_20_pixel_box():
    rng = np.random.default_rng(2)
    digit = rng.integers(1, 256, size=(20, 20), dtype=np.uint8)
    frame = np.zeros((1, 28, 28), np.uint8)
    frame[0, 3:23, 5:25] = digit
    np.testing.assert_allclose(to_lab_layout(frame)[0], (digit / 255).T.ravel(), atol=1e-6)


def test_to_lab_layout_centres_and_scales_a_small_blob():
    frame = np.zeros((1, 28, 28), np.uint8)
    frame[0, 0:10, 20:25] = 255  # 10 tall, 5 wide, in a corner
    image = to_lab_layout(frame)[0].reshape(20, 20).T
    assert image[:, 5:15].min() == pytest.approx(1.0)  # scaled to fill the height, centred across
    assert image[:, :5].max() == 0.0 and image[:, 15:].max() == 0.0


def test_to_lab_layout_blank_and_range():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    images[2] = 0
    X = to_lab_layout(images)
    assert X.shape == (5, 400) and X.dtype == np.float32 and X.flags.c_contiguous
    assert not X[2].any()
    assert 0.0 <= X.min() and X.max() <= 1.0 and X[[0, 1, 3, 4]].max() > 0.5


def test_to_lab_layout_is_fast():
    images = np.random.default_rng(4).integers(0, 256, size=(2115, 28, 28), dtype=np.uint8)
    start = time.perf_counter()
    to_lab_layout(images)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    "images",
    [np.zeros((2, 28)), np.full((1, 28, 28), 300), np.full((1, 28, 28), 1.5), np.zeros((1, 28, 28), bool)],
)
def test_to_lab_layout_refuses_bad_images(images):
    with pytest.raises(DataError):
        to_lab_layout(images)


def test_select_binary_maps_classes():
    X = np.arange(6)[:, None] * np.ones((1, 3))
    kept, y = select_binary(X, np.array([3, 8, 1, 8, 3, 0]), classes=(3, 8))
    assert kept[:, 0].tolist() == [0, 1, 3, 4]
    assert y.shape == (4, 1) and y.dtype == np.uint8 and y[:, 0].tolist() == [0, 1, 1, 0]
    with pytest.raises(DataError, match="6 labels"):
        select_binary(X[:5], np.zeros(6))


# --------------------------------------------------------------------------
# real MNIST (test set), when the CI provides it
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_mnist() -> tuple[Digits, float]:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST test set not found at {MNIST_DIR}")
    start = time.perf_counter()
    d = load_mnist_idx(MNIST_DIR, split="test")
    return d, time.perf_counter() - start


def test_real_mnist_counts_and_range(real_mnist):
    d, seconds = real_mnist
    assert d.format == "mnist-idx"
    assert d.X.shape == (2115, 400)
    assert np.bincount(d.y[:, 0]).tolist() == [980, 1135]
    assert d.X.min() == 0.0 and d.X.max() == pytest.approx(1.0)
    assert seconds < 2.0


def test_real_mnist_ones_are_narrow_upright_strokes(real_mnist):
    d, _ = real_mnist
    mean_zero = d.X[d.y[:, 0] == 0].mean(axis=0).reshape(20, 20).T
    mean_one = d.X[d.y[:, 0] == 1].mean(axis=0).reshape(20, 20).T
    assert spread(mean_one, axis=1) < 0.7 * spread(mean_zero, axis=1)
    assert spread(mean_one, axis=0) > 1.5 * spread(mean_one, axis=1)


def test_real_mnist_through_load(real_mnist):
    d, _ = real_mnist
    np.testing.assert_array_equal(load(MNIST_DIR).X, d.X)


# --------------------------------------------------------------------------
# Keras mnist.npz
# --------------------------------------------------------------------------


@pytest.fixture
def npz_file(tmp_path) -> Path:
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=SYNTH_IMAGES[:2], y_train=SYNTH_LABELS[:2],
             x_test=SYNTH_IMAGES, y_test=SYNTH_LABELS)
    return path


def test_npz_splits_and_layout(npz_file):
    d = load_mnist_npz(npz_file)
    assert d.format == "mnist-npz" and str(npz_file) in d.source
    assert d.y[:, 0].tolist() == [1, 0, 1, 0, 0, 1]
    np.testing.assert_allclose(d.image(0), expected_vertical_20())
    assert len(load_mnist_npz(npz_file, "train")) == 2
    assert len(load_mnist_npz(npz_file, "test")) == 4


def test_npz_missing_key(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=SYNTH_IMAGES, y_train=SYNTH_LABELS)
    with pytest.raises(DataError, match=r"lacks \['x_test', 'y_test'\]"):
        load_mnist_npz(path)
    assert len(load_mnist_npz(path, "train")) == 4


def test_npz_refuses_object_arrays(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.array([None, 1], dtype=object), y_train=SYNTH_LABELS[:2])
    with pytest.raises(DataError, match="mnist.npz"):
        load_mnist_npz(path, "train")


def test_npz_refuses_non_archive(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_text("not a zip file")
    with pytest.raises(DataError, match="mnist.npz"):
        load_mnist_npz(path)


# --------------------------------------------------------------------------
# load(): format detection
# --------------------------------------------------------------------------


def test_load_defaults_to_builtin(builtin):
    for d in (load(), load(None), load("builtin")):
        assert d.format == "builtin"
        np.testing.assert_array_equal(d.X, builtin.X)


def test_load_detects_each_format(lab_dir, tmp_path, npz_file):
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    images = write_mnist_pair(idx_dir, "t10k", gz=True)
    assert (load(lab_dir).format, len(load(lab_dir))) == ("lab", 1000)
    assert load(idx_dir).format == "mnist-idx"
    assert load(images).format == "mnist-idx"
    assert load(str(npz_file)).format == "mnist-npz"


def test_load_rows(lab_dir, npz_file, builtin):
    assert len(load(lab_dir, rows=200)) == 200
    assert load(npz_file, rows=3).y[:, 0].tolist() == [1, 0, 1]
    np.testing.assert_array_equal(load(rows=10).X, builtin.X[:10])
    with pytest.raises(DataError, match="rows=7"):
        load(npz_file, rows=7)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DataError, match="rows"):
            load(npz_file, rows=bad)


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        load(tmp_path / "no-such-dir")
    notes = tmp_path / "digits.txt"
    notes.write_text("hello")
    with pytest.raises(DataError, match=r"digits\.txt.*X\.npy.*idx3-ubyte.*mnist\.npz"):
        load(notes)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty"):
        load(empty)


# --------------------------------------------------------------------------
# check_digits and Digits
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((3, 401)), np.zeros(3), r"\(m, 400\).*\(3, 401\)"),
        (np.zeros(400), np.zeros(1), r"\(m, 400\).*\(400,\)"),
        (np.zeros((3, 400), complex), np.zeros(3), "complex"),
        (np.zeros((3, 400), object), np.zeros(3), "object"),
        (np.full((3, 400), "a"), np.zeros(3), "<U1"),
        (np.zeros((0, 400)), np.zeros(0), "no rows"),
        (np.zeros((3, 400)), np.zeros(4), "4 labels but X has 3 rows"),
        (np.zeros((3, 400)), np.array([0, 1, 5]), r"y\[2\] is 5"),
        (np.zeros((3, 400)), np.array([0, 0.5, 1]), r"y\[1\] is 0.5"),
        (np.zeros((3, 400)), np.zeros((3, 2)), r"\(m,\) or \(m, 1\)"),
        (np.zeros((3, 400)), np.array(["0", "1", "1"]), "numbers"),
    ],
)
def test_check_digits_refuses(X, y, message):
    with pytest.raises(DataError, match=message):
        check_digits(X, y)


def test_check_digits_names_first_non_finite_pixel():
    X = np.zeros((4, 400))
    X[2, 5], X[3, 1] = np.inf, np.nan
    with pytest.raises(DataError, match=r"X\[2, 5\] is inf"):
        check_digits(X, np.zeros(4))


def test_check_digits_accepts_valid_input():
    check_digits(np.ones((2, 400), np.uint8), np.array([[0], [1]]))
    check_digits(np.ones((2, 400)), np.array([False, True]))


def test_digits_normalises_and_validates():
    d = Digits(np.ones((2, 400)), np.array([0, 1]), "lab", "test")
    assert d.X.dtype == np.float32 and d.y.shape == (2, 1) and d.y.dtype == np.uint8
    assert "zeros=1, ones=1" in repr(d)
    with pytest.raises(DataError, match="format"):
        Digits(np.ones((2, 400)), np.array([0, 1]), "csv", "test")
    with pytest.raises(DataError, match="float32"):
        Digits(np.full((1, 400), 1e300), np.array([1]), "lab", "test")
    assert set(FORMATS) == {"lab", "mnist-idx", "mnist-npz", "builtin"}


# --------------------------------------------------------------------------
# train_test_split
# --------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_complete():
    d = digits_with_ids(100, 300)
    train, test = train_test_split(d, test_fraction=0.25, seed=3)
    assert np.bincount(test.y[:, 0]).tolist() == [25, 75]
    assert np.bincount(train.y[:, 0]).tolist() == [75, 225]
    ids_train, ids_test = train.X[:, 0], test.X[:, 0]
    assert not set(ids_train) & set(ids_test)
    assert sorted(np.r_[ids_train, ids_test]) == list(range(400))
    np.testing.assert_array_equal(d.y[ids_test.astype(int)], test.y)  # labels travel with rows
    assert "test part" in test.source and test.format == "lab"


def test_split_is_seeded_and_shuffled():
    d = digits_with_ids(50, 50)
    first, again, other = (train_test_split(d, seed=s)[1].X[:, 0] for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.all(np.diff(first) > 0)  # not in file order
    train, test = train_test_split(d, seed=7)
    for part in (train, test):
        assert not np.all(np.diff(part.y[:, 0].astype(int)) >= 0)  # classes mixed, not zeros then ones


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan"), True, "0.2"])
def test_split_refuses_bad_fraction(fraction):
    with pytest.raises(DataError, match="test_fraction"):
        train_test_split(digits_with_ids(5, 5), test_fraction=fraction)


def test_split_refuses_an_empty_part():
    with pytest.raises(DataError, match="test part empty"):
        train_test_split(digits_with_ids(1, 1), test_fraction=0.2)
    with pytest.raises(DataError, match="train part empty"):
        train_test_split(digits_with_ids(1, 1), test_fraction=0.9)


@settings(max_examples=60, deadline=None)
@given(
    n_zeros=st.integers(0, 40),
    n_ones=st.integers(1, 40),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_property(n_zeros, n_ones, fraction, seed):
    d = digits_with_ids(n_zeros, n_ones)
    try:
        train, test = train_test_split(d, test_fraction=fraction, seed=seed)
    except DataError:
        n_test = round(n_zeros * fraction) + round(n_ones * fraction)
        assert n_test in (0, n_zeros + n_ones)
        return
    assert np.bincount(test.y[:, 0], minlength=2).tolist() == [round(n_zeros * fraction),
                                                               round(n_ones * fraction)]
    ids = np.r_[train.X[:, 0], test.X[:, 0]]
    assert sorted(ids) == list(range(n_zeros + n_ones))
