"""Temporal primitives, values between samples and the derived curves the OGC routes serve."""

import numpy as np
import pytest

pytest.importorskip("fastapi")
from chronotope_api import motion  # noqa: E402

S = 10**9
# two primitives: 0, 10, 30 s and (after a gap over 60 s) 200, 210 s, then a lone sample at 1000 s
T = np.array([0, 10, 30, 200, 210, 1000], dtype=np.int64) * S
GAP = 60 * S


def test_primitives_split_at_gaps_longer_than_max_gap():
    starts = motion.starts_of(T, GAP)
    assert starts.tolist() == [0, 3, 5]
    assert motion.labels_of(len(T), starts).tolist() == [0, 0, 0, 1, 1, 2]
    assert motion.starts_of(T, 10_000 * S).tolist() == [0]
    assert motion.starts_of(np.empty(0, np.int64), GAP).tolist() == []


def test_instants_are_located_inside_primitives_only():
    starts = motion.starts_of(T, GAP)
    at = np.array([-5, 0, 5, 30, 100, 205, 1000, 1001], dtype=np.int64) * S
    idx, frac = motion.locate(T, starts, at)
    assert idx.tolist() == [-1, 0, 0, 2, -1, 3, 5, -1]
    assert frac.tolist() == [0, 0, 0.5, 0, 0, 0.5, 0, 0]
    x = np.array([0.0, 10.0, 30.0, 5.0, 6.0, 9.0])
    ok = idx >= 0
    assert motion.linear(x, idx[ok], frac[ok]).tolist() == [0.0, 5.0, 30.0, 5.5, 9.0]
    assert motion.step(x, idx[ok]).tolist() == [0.0, 0.0, 30.0, 5.0, 9.0]


def test_longitudes_interpolate_across_the_antimeridian():
    lon = np.array([179.0, -179.0])
    assert motion.linear(lon, np.array([0, 0]), np.array([0.25, 0.75]), wrap=True).tolist() == [179.5, -179.5]
    assert motion.linear(lon, np.array([0]), np.array([0.5]), wrap=True)[0] in (180.0, -180.0)


def test_a_window_adds_its_bounds_where_a_primitive_covers_them():
    starts = motion.starts_of(T, GAP)
    assert (motion.window_instants(T, starts, 5 * S, 205 * S) // S).tolist() == [5, 10, 30, 200, 205]
    assert (motion.window_instants(T, starts, 100 * S, 150 * S) // S).tolist() == []  # in the gap
    assert (motion.window_instants(T, starts, 10 * S, 10 * S) // S).tolist() == [10]


def test_distance_velocity_and_acceleration_per_primitive():
    starts = motion.starts_of(T, GAP)
    # speed of the step from the previous sample (what Collection.track(derive=True) gives)
    speed = np.array([np.nan, 1.0, 2.0, 99.0, 3.0, 77.0])
    d = motion.derived(T, speed, starts)
    assert d["distance"].tolist() == [0.0, 10.0, 50.0, 0.0, 30.0, 0.0]
    assert d["velocity"][:5].tolist() == [1.0, 2.0, 2.0, 3.0, 3.0] and np.isnan(d["velocity"][5])
    # at 10 s the speed goes from 1 to 2 m/s between the step midpoints 5 s and 20 s: 1/15 m/s2
    assert d["acceleration"][:5].tolist() == pytest.approx([1 / 15, 1 / 15, 1 / 15, 0.0, 0.0])
    assert np.isnan(d["acceleration"][5])
    assert all(len(v) == 0 for v in motion.derived(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64)).values())
