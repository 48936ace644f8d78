"""The C (object, t) sort used by flush, scan and compaction."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from chronotope._sort import sort_pairs

I64 = st.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max)


def _reference(major, minor):
    # lexsort is stable: equal keys keep input order
    return np.lexsort((np.arange(len(major)), minor, major))


@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), max_size=300))
def test_matches_a_stable_lexsort_on_small_keys(pairs):
    major = np.array([p[0] for p in pairs], dtype=np.int64)
    minor = np.array([p[1] for p in pairs], dtype=np.int64)
    assert np.array_equal(sort_pairs(major, minor), _reference(major, minor))


@given(st.lists(st.tuples(I64, I64), max_size=200))
def test_matches_on_full_range_keys(pairs):
    major = np.array([p[0] for p in pairs], dtype=np.int64)
    minor = np.array([p[1] for p in pairs], dtype=np.int64)
    assert np.array_equal(sort_pairs(major, minor), _reference(major, minor))


def test_time_ordered_input_and_large_n():
    rng = np.random.default_rng(3)
    n = 300_000
    major = rng.integers(0, 500, n) * 1_000_003 + 366_000_000
    minor = np.sort(rng.integers(0, 10**15, n))  # arrival order: the minor-key passes are skipped
    assert np.array_equal(sort_pairs(major, minor), _reference(major, minor))
    minor[::7] = rng.integers(0, 10**15, len(minor[::7]))  # late samples
    assert np.array_equal(sort_pairs(major, minor), _reference(major, minor))


def test_empty_and_mismatched():
    assert sort_pairs(np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == []
    import pytest

    from chronotope.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        sort_pairs(np.zeros(2, np.int64), np.zeros(3, np.int64))


@given(st.lists(st.tuples(st.integers(-2, 2), st.integers(-3, 3), I64), max_size=200))
def test_three_keys_match_a_stable_lexsort(rows):
    from chronotope._sort import sort_keys

    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    c = np.array([r[2] for r in rows], dtype=np.int64)
    assert np.array_equal(sort_keys(a, b, c), np.lexsort((np.arange(len(rows)), c, b, a)))
