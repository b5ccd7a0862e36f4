"""MNIST IDX files: the loader (file names, splits, digits) and the safe reader (header first, memory
checked before the payload is read, exact payload, one byte of look-ahead for trailing data)."""

from __future__ import annotations

import gzip
import time
import tracemalloc

import numpy as np
import pytest
from test_data_support import (
    SYNTH_IMAGES,
    SYNTH_LABELS,
    expected_vertical_20,
    idx_header,
    write_idx,
    write_mnist_pair,
)

from xpnet.data import DataError, idxfile, load_mnist_idx
from xpnet.data.idxfile import FALLBACK_MEMORY, IMAGES_MAGIC, available_memory, read_idx

# -- the loader ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_parses_and_selects(tmp_path, gz):
    write_mnist_pair(tmp_path, "t10k", gz)
    d = load_mnist_idx(tmp_path)
    assert d.format == "mnist-idx" and "t10k-images-idx3-ubyte" in d.source
    assert d.y[:, 0].tolist() == [1, 0, 0, 1] and d.classes == (0, 1)
    assert d.X.shape == (4, 400) and d.X.dtype == np.float32


def test_idx_keeps_the_requested_digits_as_class_indices(tmp_path):
    write_mnist_pair(tmp_path, "t10k", gz=True)  # labels 1, 0, 2, 0, 1, 9
    d = load_mnist_idx(tmp_path, digits=(9, 1, 2))
    assert d.classes == (9, 1, 2)
    assert d.y[:, 0].tolist() == [1, 2, 1, 0]  # rows 0, 2, 4, 5: digits 1, 2, 1, 9
    np.testing.assert_allclose(d.image(1), expected_vertical_20())  # row 2 of the file: a vertical bar


def test_idx_refuses_a_digit_the_files_lack(tmp_path):
    write_mnist_pair(tmp_path, "t10k", gz=False)
    with pytest.raises(DataError, match=r"no 7s found in .*t10k-images-idx3-ubyte"):
        load_mnist_idx(tmp_path, digits=(0, 1, 7))
    with pytest.raises(DataError, match=r"no 3s, 4s or 5s found in"):
        load_mnist_idx(tmp_path, digits="0-5")


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


def test_idx_mismatched_counts(tmp_path):
    write_mnist_pair(tmp_path, "t10k", gz=False, labels=SYNTH_LABELS[:5])
    with pytest.raises(DataError, match=r"holds 6 images but .*labels-idx1-ubyte holds 5 labels"):
        load_mnist_idx(tmp_path)


def test_idx_without_zeros_or_ones(tmp_path):
    write_mnist_pair(tmp_path, "t10k", gz=False, labels=np.full(6, 7))
    with pytest.raises(DataError, match="no 0s or 1s found in"):
        load_mnist_idx(tmp_path)


# -- the reader: header and payload -------------------------------------------------------------


def test_idx_bad_magic(tmp_path):
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", SYNTH_LABELS)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", SYNTH_IMAGES, magic=2049)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.*magic number is 2049.*2051"):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize(("n_bytes", "message"), [(3, "truncated: 3 bytes, no IDX header"),
                                                  (10, "truncated inside its IDX header")])
def test_idx_truncated_header(tmp_path, n_bytes, message):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_header(SYNTH_IMAGES.shape)[:n_bytes])
    with pytest.raises(DataError, match=message):
        read_idx(path, IMAGES_MAGIC)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated_payload(tmp_path, gz):
    path = tmp_path / "t10k-images-idx3-ubyte"
    raw = idx_header(SYNTH_IMAGES.shape) + SYNTH_IMAGES.tobytes()[:-100]
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte is truncated: header promises \(6, 28, 28\) = "
                                        r"4,704 bytes, file holds 4,604"):
        read_idx(path, IMAGES_MAGIC)


def test_idx_truncated_gzip_stream(tmp_path):
    images = write_mnist_pair(tmp_path, "t10k", gz=True)
    images.write_bytes(images.read_bytes()[:-20])
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_trailing_bytes_are_refused(tmp_path, gz):
    path = tmp_path / "t10k-images-idx3-ubyte"
    raw = idx_header(SYNTH_IMAGES.shape) + SYNTH_IMAGES.tobytes() + b"\0"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(DataError, match=r"has bytes beyond the \(6, 28, 28\) its header declares"):
        read_idx(path, IMAGES_MAGIC)


def test_idx_trailing_data_is_detected_without_reading_it(tmp_path):
    """32 MB of zeros after the declared payload (32 KB of gzip): refused after one byte of look-ahead,
    so memory stays far below what decompressing the rest would take."""
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(SYNTH_IMAGES.shape) + SYNTH_IMAGES.tobytes() + bytes(32 << 20)))
    peak = _peak_bytes(lambda: read_idx(path, IMAGES_MAGIC), DataError, "bytes beyond")
    assert peak < 4 << 20


def test_idx_payload_round_trips(tmp_path):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", SYNTH_IMAGES, gz=True)
    np.testing.assert_array_equal(read_idx(path, IMAGES_MAGIC), SYNTH_IMAGES)


# -- the reader: declared sizes that cannot fit -------------------------------------------------


def _five_million_images(tmp_path):
    """A 1 KB gzip whose header declares 5,000,000 images of 28x28 (3.92 GB), followed by a little data."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header((5_000_000, 28, 28)) + bytes(28 * 28 * 10)))
    return path


def _peak_bytes(call, error, match) -> int:
    """Peak memory traced while ``call`` raises ``error`` matching ``match``."""
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_idx_declaring_five_million_images_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(idxfile, "available_memory", lambda: 2 << 30)
    path = _five_million_images(tmp_path)
    start = time.perf_counter()
    peak = _peak_bytes(
        lambda: read_idx(path, IMAGES_MAGIC), DataError,
        r"train-images-idx3-ubyte.gz: its IDX header declares 5,000,000 images of 28x28, 3,920,000,000 bytes "
        r"\(3.7 GiB\), more than the 2.0 GiB of memory available; refused before reading it")
    assert time.perf_counter() - start < 0.5
    assert peak < 1 << 20


def test_idx_declared_size_is_compared_with_this_machines_memory(tmp_path):
    """No stand-in here: 4e9 images of 65535x65535 (about 1.7e19 bytes) exceed any machine's memory."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header((4_000_000_000, 65535, 65535))))
    with pytest.raises(DataError, match=r"declares 4,000,000,000 images of 65535x65535.*refused before reading"):
        read_idx(path, IMAGES_MAGIC)


def test_idx_a_payload_that_fits_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(idxfile, "available_memory", lambda: SYNTH_IMAGES.size)  # exactly enough
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", SYNTH_IMAGES)
    assert read_idx(path, IMAGES_MAGIC).shape == SYNTH_IMAGES.shape
    monkeypatch.setattr(idxfile, "available_memory", lambda: SYNTH_IMAGES.size - 1)
    with pytest.raises(DataError, match="6 images of 28x28, 4,704 bytes"):
        read_idx(path, IMAGES_MAGIC)


def test_available_memory_reads_meminfo_then_sysconf_then_falls_back(tmp_path, monkeypatch):
    assert available_memory() > 0  # this machine, whichever way it tells
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemFree:          300000 kB\nMemAvailable:   1234567 kB\n")
    monkeypatch.setattr(idxfile, "_MEMINFO", meminfo)
    assert available_memory() == 1234567 * 1024  # what Linux can give, page cache included
    monkeypatch.setattr(idxfile, "_MEMINFO", tmp_path / "no-meminfo")
    monkeypatch.setattr(idxfile.os, "sysconf", {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}.__getitem__,
                        raising=False)
    assert available_memory() == 4096 * 1000
    monkeypatch.setattr(idxfile.os, "sysconf", _unsupported, raising=False)
    assert available_memory() == FALLBACK_MEMORY


def _unsupported(name: str) -> int:
    raise ValueError(f"unrecognized configuration name {name}")
