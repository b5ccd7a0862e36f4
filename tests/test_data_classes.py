"""Sets of digits (``parse_digits``, ``check_classes``), the selection of their examples
(``select_classes``, ``select_binary``) and the seeded split stratified over every class."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_data_support import digits_with_ids

from xpnet.data import DataError, check_classes, parse_digits, select_binary, select_classes, train_test_split

# -- parse_digits and check_classes -------------------------------------------------------------


@pytest.mark.parametrize(("text", "digits"), [
    ("0,1", (0, 1)),
    ("0-9", tuple(range(10))),
    ("3,5,8", (3, 5, 8)),
    ("0-2,7", (0, 1, 2, 7)),
    (" 8 , 3 ", (8, 3)),  # the order written is the order of the class indices
    ("4-4,6", (4, 6)),
])
def test_parse_digits_reads_lists_and_ranges(text, digits):
    assert parse_digits(text) == digits


@pytest.mark.parametrize(("text", "message"), [
    ("3", r"at least two digits to tell apart; got \(3,\)"),
    ("2-2", "at least two digits"),
    ("1,1", "digit 1 is named twice"),
    ("0-3,2", "digit 2 is named twice"),
    ("0,10", "digit 10 is outside 0..9"),
    ("0-12", "digit 10 is outside 0..9"),
    ("9-3", "the range '9-3' in digits '9-3' runs backwards; write 3-9"),
    ("zero,one", "cannot read 'zero' in digits 'zero,one'"),
    ("0,,1", "cannot read '' in digits '0,,1'"),
    ("", "cannot read ''"),
    ("-1,2", "cannot read '-1'"),
    ("0.5,1", r"cannot read '0\.5'"),
    (None, "digits must be text"),
])
def test_parse_digits_names_the_problem(text, message):
    with pytest.raises(DataError, match=message):
        parse_digits(text)


def test_check_classes_takes_sequences_and_text():
    assert check_classes((0, 1)) == (0, 1)
    assert check_classes([np.int64(3), 5]) == (3, 5)
    assert check_classes("0-9") == tuple(range(10))
    for bad, message in [((0,), "at least two"), ((0, 0), "named twice"), ((0, -1), "-1 is outside"),
                         ((0, 1.0), "whole numbers"), ((True, False), "whole numbers"), (3, "sequence")]:
        with pytest.raises(DataError, match=message):
            check_classes(bad)


# -- select_classes and select_binary -----------------------------------------------------------


def test_select_classes_keeps_order_and_maps_to_class_indices():
    X = np.arange(8)[:, None, None] * np.ones((1, 2, 2))
    kept, y = select_classes(X, np.array([7, 3, 9, 3, 1, 9, 7, 0]), (9, 3, 7))
    assert kept[:, 0, 0].tolist() == [0, 1, 2, 3, 5, 6]
    assert y.shape == (6, 1) and y.dtype == np.uint8 and y[:, 0].tolist() == [2, 1, 0, 1, 0, 2]


def test_select_classes_refuses_bad_input():
    with pytest.raises(DataError, match="6 labels"):
        select_classes(np.zeros((5, 3)), np.zeros(6), (0, 1))
    with pytest.raises(DataError, match=r"y must have shape \(m,\) or \(m, 1\); got \(6, 2\)"):
        select_classes(np.zeros((6, 3)), np.zeros((6, 2)), (0, 1))
    with pytest.raises(DataError, match="different whole numbers"):
        select_classes(np.zeros((6, 3)), np.zeros(6), (1, 1))


def test_select_binary_maps_classes():
    X = np.arange(6)[:, None] * np.ones((1, 3))
    labels = np.array([3, 8, 1, 8, 3, 0])
    kept, y = select_binary(X, labels, classes=(3, 8))
    assert kept[:, 0].tolist() == [0, 1, 3, 4]
    assert y.shape == (4, 1) and y.dtype == np.uint8 and y[:, 0].tolist() == [0, 1, 1, 0]
    np.testing.assert_array_equal(select_binary(X, labels)[1], select_classes(X, labels, (0, 1))[1])
    with pytest.raises(DataError, match="6 labels"):
        select_binary(X[:5], np.zeros(6))
    with pytest.raises(DataError, match="two different labels"):
        select_binary(X, labels, classes=(3, 8, 1))


# -- train_test_split ---------------------------------------------------------------------------


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


def test_split_is_stratified_over_every_class():
    d = digits_with_ids(40, 10, 0, 25, 55, classes=(2, 4, 6, 8, 9))
    train, test = train_test_split(d, test_fraction=0.2, seed=1)
    assert train.classes == test.classes == (2, 4, 6, 8, 9)
    assert np.bincount(test.y[:, 0], minlength=5).tolist() == [8, 2, 0, 5, 11]
    assert np.bincount(train.y[:, 0], minlength=5).tolist() == [32, 8, 0, 20, 44]
    np.testing.assert_array_equal(d.y[test.X[:, 0].astype(int)], test.y)


def test_split_is_seeded_and_shuffled():
    d = digits_with_ids(50, 50)
    first, again, other = (train_test_split(d, seed=s)[1].X[:, 0] for s in (7, 7, 8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.all(np.diff(first) > 0)  # not in file order
    train, test = train_test_split(d, seed=7)
    for part in (train, test):
        assert not np.all(np.diff(part.y[:, 0].astype(int)) >= 0)  # classes mixed, not zeros then ones
        assert part.fingerprint != d.fingerprint


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan"), True, "0.2"])
def test_split_refuses_bad_fraction(fraction):
    with pytest.raises(DataError, match="test_fraction"):
        train_test_split(digits_with_ids(5, 5), test_fraction=fraction)


def test_split_refuses_an_empty_part_a_bad_seed_and_non_digits():
    with pytest.raises(DataError, match="test part empty"):
        train_test_split(digits_with_ids(1, 1), test_fraction=0.2)
    with pytest.raises(DataError, match="train part empty"):
        train_test_split(digits_with_ids(1, 1), test_fraction=0.9)
    with pytest.raises(DataError, match="seed must be a whole number >= 0, got -1"):
        train_test_split(digits_with_ids(5, 5), seed=-1)
    with pytest.raises(TypeError, match="Digits"):
        train_test_split((np.zeros((2, 400)), np.zeros(2)))


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 30), min_size=2, max_size=10).filter(any),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_property(counts, fraction, seed):
    d = digits_with_ids(*counts)
    n_test = [round(n * fraction) for n in counts]
    try:
        train, test = train_test_split(d, test_fraction=fraction, seed=seed)
    except DataError:
        assert sum(n_test) in (0, sum(counts))
        return
    assert np.bincount(test.y[:, 0], minlength=len(counts)).tolist() == n_test
    ids = np.r_[train.X[:, 0], test.X[:, 0]]
    assert sorted(ids) == list(range(sum(counts)))
