"""The loaders of xpnet.data (built-in digits, the lab's folder, Keras' mnist.npz, the real MNIST test
set when it is beside the repository), format detection by ``load``, and the lab layout."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from test_data_support import (
    MNIST_DIR,
    MNIST_TEST_COUNTS,
    SYNTH_IMAGES,
    SYNTH_LABELS,
    expected_vertical_20,
    ink_box,
    spread,
    write_mnist_pair,
)

from xpnet.data import (
    ALL_DIGITS,
    DataError,
    Digits,
    load,
    load_builtin,
    load_lab,
    load_mnist_idx,
    load_mnist_npz,
    to_lab_layout,
    train_test_split,
)


class PickleBomb:
    """Unpickling this creates a folder: proof of code execution."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


# -- builtin digits -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def builtin() -> Digits:
    return load_builtin()


@pytest.fixture(scope="module")
def builtin_all() -> Digits:
    return load_builtin(digits=ALL_DIGITS)


def test_builtin_shape_dtype_and_counts(builtin):
    assert builtin.format == "builtin" and builtin.classes == (0, 1)
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
    assert again.fingerprint == builtin.fingerprint


def test_builtin_ones_stand_upright(builtin):
    """A 1 is a vertical stroke: taller than wide, unless the layout is transposed."""
    ones = np.flatnonzero(builtin.y[:, 0] == 1)
    height, width = ink_box(builtin.image(ones[0]))
    assert height > width
    mean_one = builtin.X[ones].mean(axis=0).reshape(20, 20).T
    assert spread(mean_one, axis=0) > 1.3 * spread(mean_one, axis=1)


def test_builtin_matches_sklearn_and_scipy(builtin_all):
    """All ten digits, in the order and orientation of sklearn.datasets.load_digits, resized exactly as
    scipy's linear zoom (pixel-centre grid, edges clamped) would (every 7th image: zoom is slow)."""
    datasets = pytest.importorskip("sklearn.datasets")
    ndimage = pytest.importorskip("scipy.ndimage")
    bunch = datasets.load_digits()
    np.testing.assert_array_equal(builtin_all.y[:, 0], bunch.target)
    sample = range(0, len(bunch.images), 7)
    expected = [ndimage.zoom(bunch.images[i] / 16.0, 2.5, order=1, grid_mode=True, mode="nearest") for i in sample]
    ours = [builtin_all.image(i) for i in sample]
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_builtin_selects_digits_as_class_indices(builtin_all):
    d = load_builtin(digits=(8, 3, 5))
    assert d.classes == (8, 3, 5)
    digit_of_row = np.array(ALL_DIGITS)[builtin_all.y[:, 0]]
    rows = np.flatnonzero(np.isin(digit_of_row, (8, 3, 5)))
    assert d.y[:, 0].tolist() == [(8, 3, 5).index(digit) for digit in digit_of_row[rows]]
    np.testing.assert_allclose(d.X, builtin_all.X[rows], atol=1e-6)  # other batch, maybe other kernels


def test_builtin_loads_fast():
    start = time.perf_counter()
    load_builtin()
    assert time.perf_counter() - start < 1.0


# -- the lab's files ----------------------------------------------------------------------------


@pytest.fixture
def lab_dir(tmp_path) -> Path:
    """A lab-like data folder: 5000 rows, 500 zeros, 500 ones, then 500 of each digit 2..9."""
    rng = np.random.default_rng(1)
    X = rng.uniform(-0.1, 1.1, size=(5000, 400))
    y = np.repeat(np.arange(10), 500).reshape(-1, 1)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y.astype(np.uint8))
    return tmp_path


def test_lab_keeps_first_1000_rows(lab_dir):
    d = load_lab(lab_dir)
    assert d.format == "lab" and str(lab_dir / "X.npy") in d.source and d.classes == (0, 1)
    assert d.X.shape == (1000, 400) and d.X.dtype == np.float32
    np.testing.assert_array_equal(d.X, np.load(lab_dir / "X.npy")[:1000].astype(np.float32))
    assert d.y[:500].sum() == 0 and d.y[500:].sum() == 500


def test_lab_binary_rows_are_taken_as_they_are(lab_dir):
    with pytest.raises(DataError, match=r"y\.npy, first 5000 rows: y\[1000\] is 2: labels must be 0 or 1"):
        load_lab(lab_dir, rows=5000)


def test_lab_multiclass_reads_every_row(lab_dir):
    d = load_lab(lab_dir, digits=ALL_DIGITS)
    assert d.classes == ALL_DIGITS and len(d) == 5000
    assert np.bincount(d.y[:, 0]).tolist() == [500] * 10
    np.testing.assert_array_equal(d.X, np.load(lab_dir / "X.npy").astype(np.float32))


def test_lab_selects_other_digits(lab_dir):
    d = load_lab(lab_dir, digits=(3, 2))
    assert d.classes == (3, 2) and len(d) == 1000
    assert d.y[:500, 0].tolist() == [1] * 500 and d.y[500:, 0].tolist() == [0] * 500  # 2s come first in the file
    np.testing.assert_array_equal(d.X, np.load(lab_dir / "X.npy")[1000:2000].astype(np.float32))
    assert len(load_lab(lab_dir, rows=10, digits=(3, 2))) == 10


def test_lab_refuses_a_digit_the_files_lack(lab_dir):
    y = np.load(lab_dir / "y.npy")
    y[y == 9] = 8
    np.save(lab_dir / "y.npy", y)
    with pytest.raises(DataError, match=r"no 9s found in .*X\.npy"):
        load_lab(lab_dir, digits="0-9")


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


def test_lab_refuses_nan_naming_the_file_and_index(lab_dir):
    X = np.load(lab_dir / "X.npy")
    X[7, 42] = np.nan
    np.save(lab_dir / "X.npy", X)
    with pytest.raises(DataError, match=r"X\.npy and .*y\.npy, first 1000 rows: X has a non-finite value \(nan\) "
                                        r"at index \(7, 42\)"):
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


# -- Keras mnist.npz ----------------------------------------------------------------------------


@pytest.fixture
def npz_file(tmp_path) -> Path:
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=SYNTH_IMAGES[:2], y_train=SYNTH_LABELS[:2], x_test=SYNTH_IMAGES, y_test=SYNTH_LABELS)
    return path


def test_npz_splits_and_layout(npz_file):
    d = load_mnist_npz(npz_file)
    assert d.format == "mnist-npz" and str(npz_file) in d.source
    assert d.y[:, 0].tolist() == [1, 0, 1, 0, 0, 1]
    np.testing.assert_allclose(d.image(0), expected_vertical_20())
    assert len(load_mnist_npz(npz_file, "train")) == 2
    assert len(load_mnist_npz(npz_file, "test")) == 4


def test_npz_keeps_the_requested_digits(npz_file):
    d = load_mnist_npz(npz_file, "test", digits=(2, 9))
    assert d.classes == (2, 9) and d.y[:, 0].tolist() == [0, 1]
    with pytest.raises(DataError, match=r"no 5s found in .*mnist\.npz \(x_test, y_test\)"):
        load_mnist_npz(npz_file, "test", digits=(2, 5))


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


# -- load(): format detection, digits and rows --------------------------------------------------


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


def test_load_passes_digits_to_every_format(lab_dir, tmp_path, npz_file, builtin_all):
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    write_mnist_pair(idx_dir, "t10k", gz=False)
    assert load(lab_dir, digits="0-9").classes == ALL_DIGITS and len(load(lab_dir, digits="0-9")) == 5000
    assert load(idx_dir, digits="1,2").y[:, 0].tolist() == [0, 1, 0]
    assert load(npz_file, digits=[9, 2]).y[:, 0].tolist() == [1, 0]  # the 2 and the 9 of x_test
    assert load(digits=ALL_DIGITS).fingerprint == builtin_all.fingerprint
    with pytest.raises(DataError, match="digit 10 is outside 0..9"):
        load(digits=(0, 10))


def test_load_rows(lab_dir, npz_file, builtin):
    assert len(load(lab_dir, rows=200)) == 200
    assert load(npz_file, rows=3).y[:, 0].tolist() == [1, 0, 1]
    np.testing.assert_array_equal(load(rows=10).X, builtin.X[:10])
    assert load(rows=30, digits="0-9").classes == ALL_DIGITS
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


# -- real MNIST (test set), when it is beside the repository ------------------------------------


def _real_mnist(**kwargs) -> tuple[Digits, float]:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST test set not found at {MNIST_DIR}")
    start = time.perf_counter()
    d = load_mnist_idx(MNIST_DIR, split="test", **kwargs)
    return d, time.perf_counter() - start


@pytest.fixture(scope="module")
def real_mnist() -> tuple[Digits, float]:
    return _real_mnist()


@pytest.fixture(scope="module")
def real_mnist_all() -> tuple[Digits, float]:
    return _real_mnist(digits=tuple(range(10)))


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
    again = load(MNIST_DIR)
    np.testing.assert_array_equal(again.X, d.X)
    assert again.fingerprint == d.fingerprint


def test_real_mnist_all_ten_digits(real_mnist_all, real_mnist):
    d, seconds = real_mnist_all
    assert d.classes == tuple(range(10)) and d.X.shape == (10_000, 400)
    assert np.bincount(d.y[:, 0]).tolist() == MNIST_TEST_COUNTS  # 980 zeros, 1135 ones, ...
    binary, _ = real_mnist
    np.testing.assert_allclose(d.X[d.y[:, 0] <= 1], binary.X, atol=1e-6)  # the same 0s and 1s, other batch
    assert seconds < 5.0


def test_real_mnist_split_80_20_is_stratified_per_digit(real_mnist_all):
    d, _ = real_mnist_all
    train, test = train_test_split(d, test_fraction=0.2, seed=0)
    assert train.classes == test.classes == d.classes
    expected_test = [round(n * 0.2) for n in MNIST_TEST_COUNTS]
    assert np.bincount(test.y[:, 0], minlength=10).tolist() == expected_test
    assert np.bincount(train.y[:, 0], minlength=10).tolist() == [
        n - t for n, t in zip(MNIST_TEST_COUNTS, expected_test, strict=True)]


# -- to_lab_layout ------------------------------------------------------------------------------


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
