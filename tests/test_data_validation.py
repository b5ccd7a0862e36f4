"""One validation for the data and the API: ``Digits`` and ``check_digits`` use ``xpnet.validation``'s
checks (labels as class indices, X's shape, dtype and finiteness), ``DataError`` is an ``InputError``,
the fingerprint identifies the data, and a shape error tells how to unroll images correctly."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_data_support import digits_with_ids

import xpnet
from xpnet.data import FORMATS, DataError, Digits, check_digits, to_lab_layout
from xpnet.validation import InputError, check_feature_shape, check_labels, host_features

# -- DataError and check_digits -----------------------------------------------------------------


def test_data_error_is_an_input_error():
    assert issubclass(DataError, InputError) and issubclass(DataError, ValueError)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((3, 401)), np.zeros(3), r"\(m, 400\).*\(3, 401\)"),
        (np.zeros(400), np.zeros(1), r"\(m, 400\).*\(400,\)"),
        (np.zeros((3, 20, 20)), np.zeros(3), r"\(3, 20, 20\); unroll 20x20 images"),
        (np.zeros((3, 400), complex), np.zeros(3), "complex"),
        (np.zeros((3, 400), object), np.zeros(3), "object"),
        (np.full((3, 400), "a"), np.zeros(3), "<U1"),
        (np.zeros((0, 400)), np.zeros(0), "no rows"),
        (np.zeros((3, 400)), np.zeros(4), "4 labels but X has 3 rows"),
        (np.zeros((3, 400)), np.array([0, 1, 5]), r"y\[2\] is 5: labels must be 0 or 1"),
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
    with pytest.raises(DataError, match=r"X has a non-finite value \(inf\) at index \(2, 5\)"):
        check_digits(X, np.zeros(4))


def test_check_digits_accepts_valid_input_and_class_indices():
    check_digits(np.ones((2, 400), np.uint8), np.array([[0], [1]]))
    check_digits(np.ones((2, 400)), np.array([False, True]))
    check_digits(np.ones((3, 400)), np.array([0, 9, 4]), n_classes=10)
    with pytest.raises(DataError, match=r"y\[1\] is 9: labels must be class indices 0..2"):
        check_digits(np.ones((3, 400)), np.array([0, 9, 1]), n_classes=3)


@pytest.mark.parametrize("y", [np.zeros((4, 2)), np.array(["0", "1", "1", "0"]), np.zeros(3), np.array([0, 1, 2, 0]),
                               np.array([0.0, np.nan, 1.0, 0.0])], ids=["shape", "dtype", "length", "value", "nan"])
def test_check_digits_words_label_problems_as_check_labels_does(y):
    with pytest.raises(DataError) as theirs:
        check_digits(np.zeros((4, 400)), y)
    with pytest.raises(InputError) as ours:
        check_labels(y, 4)
    assert str(ours.value) == str(theirs.value)


# -- check_labels with more than two classes ----------------------------------------------------


def test_check_labels_accepts_class_indices():
    y = np.array([0, 9, 3, 3])
    np.testing.assert_array_equal(check_labels(y, 4, n_classes=10)[:, 0], y)
    out = check_labels(np.array([2.0, 0.0]), 2, n_classes=3, dtype=np.uint8)
    assert out.dtype == np.uint8 and out.shape == (2, 1) and out[:, 0].tolist() == [2, 0]
    assert check_labels([True, False], None)[:, 0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize(("y", "n_classes", "message"), [
    ([0, 1, 1, 0, 0, 0, 1, 2], 2, r"y\[7\] is 2: labels must be 0 or 1"),
    ([0, 1, 1, 0, 0, 0, 1, 12], 10, r"y\[7\] is 12: labels must be class indices 0..9"),
    ([0, 2.5], 10, r"y\[1\] is 2.5: labels must be class indices 0..9"),
    ([0, np.nan], 10, r"y\[1\] is nan"),
    ([-1, 0], 3, r"y\[0\] is -1: labels must be class indices 0..2"),
])
def test_check_labels_names_the_first_label_out_of_range(y, n_classes, message):
    with pytest.raises(InputError, match=message):
        check_labels(np.array(y), len(y), n_classes=n_classes)


@pytest.mark.parametrize("n_classes", [1, 0, 2.0, True])
def test_check_labels_refuses_a_bad_number_of_classes(n_classes):
    with pytest.raises(InputError, match="n_classes must be a whole number >= 2"):
        check_labels([0, 0], 2, n_classes=n_classes)


# -- Digits -------------------------------------------------------------------------------------


def test_digits_normalises_and_validates():
    d = Digits(np.ones((2, 400)), np.array([0, 1]), "lab", "test")
    assert d.X.dtype == np.float32 and d.y.shape == (2, 1) and d.y.dtype == np.uint8 and d.classes == (0, 1)
    assert "counts={0: 1, 1: 1}" in repr(d)
    with pytest.raises(DataError, match="format"):
        Digits(np.ones((2, 400)), np.array([0, 1]), "csv", "test")
    with pytest.raises(DataError, match=r"X has a value too large for float32 \(1e\+300\) at index \(0, 0\)"):
        Digits(np.full((1, 400), 1e300), np.array([1]), "lab", "test")
    with pytest.raises(DataError, match=r"X has a non-finite value \(nan\) at index \(1, 0\)"):
        Digits(np.r_[np.ones((1, 400)), np.full((1, 400), np.nan)], np.array([0, 1]), "lab", "test")
    assert set(FORMATS) == {"lab", "mnist-idx", "mnist-npz", "builtin"}


def test_digits_labels_are_class_indices_of_its_classes():
    d = Digits(np.ones((3, 400)), np.array([2, 0, 1]), "lab", "test", classes=(3, 5, 8))
    assert d.classes == (3, 5, 8) and "counts={3: 1, 5: 1, 8: 1}" in repr(d)
    with pytest.raises(DataError, match=r"y\[0\] is 2: labels must be 0 or 1"):
        Digits(np.ones((3, 400)), np.array([2, 0, 1]), "lab", "test")
    with pytest.raises(DataError, match=r"y\[1\] is 12: labels must be class indices 0..9"):
        Digits(np.ones((2, 400)), np.array([0, 12]), "lab", "test", classes=tuple(range(10)))
    with pytest.raises(DataError, match="at least two digits"):
        Digits(np.ones((2, 400)), np.array([0, 0]), "lab", "test", classes=(4,))


def test_digits_image_is_the_upright_view_of_a_row():
    image = np.arange(400, dtype=np.float32).reshape(20, 20)
    d = Digits(image.T.reshape(1, 400), np.array([1]), "lab", "test")
    np.testing.assert_array_equal(d.image(0), image)


# -- fingerprint --------------------------------------------------------------------------------


def test_fingerprint_is_a_sha256_of_the_data():
    d = digits_with_ids(3, 4)
    again = Digits(d.X.astype(np.float64), d.y[:, 0].astype(np.int64), "builtin", "elsewhere")
    assert re.fullmatch(r"[0-9a-f]{64}", d.fingerprint)
    assert again.fingerprint == d.fingerprint  # the normalised data, not its dtype, format or source


def test_fingerprint_changes_with_any_pixel_label_or_class():
    d = digits_with_ids(3, 4)
    X = d.X.copy()
    X[6, 399] = np.nextafter(X[6, 399], np.float32(1))
    y = d.y.copy()
    y[0] = 1
    others = [Digits(X, d.y, "lab", "x"), Digits(d.X, y, "lab", "x"), Digits(d.X, d.y, "lab", "x", (1, 0)),
              Digits(d.X[:6], d.y[:6], "lab", "x")]
    prints = {d.fingerprint} | {o.fingerprint for o in others}
    assert len(prints) == 1 + len(others)


# -- check_feature_shape: how to unroll images --------------------------------------------------


def _hint(shape: tuple[int, ...]) -> str:
    """The code that check_feature_shape suggests for X of ``shape``."""
    with pytest.raises(InputError) as error:
        check_feature_shape(shape, 400)
    message = str(error.value)
    assert message.startswith(f"X must have shape (m, 400) or (400,), got {shape}")
    return message.rsplit(": ", 1)[1]


def test_hint_for_a_batch_of_20x20_images_gives_the_labs_rows():
    batch = np.random.default_rng(5).random((7, 20, 20))
    code = _hint(batch.shape)
    assert code == "X.transpose(0, 2, 1).reshape(-1, 400)"
    rows = eval(code, {"X": batch})
    np.testing.assert_array_equal(rows, np.stack([img.T.ravel() for img in batch]))  # a copy: no arithmetic
    assert not np.array_equal(rows, batch.T.reshape(-1, 400))  # what the old hint did to a batch


def test_hint_for_one_20x20_image_gives_the_labs_row():
    image = np.random.default_rng(6).random((20, 20))
    code = _hint(image.shape)
    assert code == "image.T.reshape(400)"
    row = eval(code, {"image": image})
    np.testing.assert_array_equal(row, image.T.ravel())
    np.testing.assert_array_equal(Digits(row[None], [0], "lab", "x").image(0), image.astype(np.float32))


@pytest.mark.parametrize(("shape", "code", "m"), [((3, 28, 28), "xpnet.data.to_lab_layout(images)", 3),
                                                  ((28, 28), "xpnet.data.to_lab_layout(image[None])", 1)])
def test_hint_for_mnist_images_points_to_to_lab_layout(shape, code, m):
    images = np.random.default_rng(7).integers(0, 256, size=shape, dtype=np.uint8)
    assert _hint(shape) == code
    rows = eval(code, {"xpnet": xpnet, "images": images, "image": images})
    np.testing.assert_array_equal(rows, to_lab_layout(images.reshape(m, 28, 28)))
    assert host_features(rows, 400).shape == (m, 400)


@pytest.mark.parametrize("shape", [(5, 401), (400, 1), (2, 3, 400), (), (20, 21), (2, 2, 20, 20)])
def test_no_unroll_hint_when_the_input_is_not_images(shape):
    with pytest.raises(InputError) as error:
        check_feature_shape(shape, 400)
    assert str(error.value) == f"X must have shape (m, 400) or (400,), got {shape}"


def test_hint_only_for_the_labs_400_features():
    with pytest.raises(InputError) as error:
        check_feature_shape((3, 20, 20), 25)
    assert str(error.value) == "X must have shape (m, 25) or (25,), got (3, 20, 20)"
