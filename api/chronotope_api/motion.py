"""A feature's samples as OGC API – Moving Features sees them: temporal primitives, values between
samples, and the derived distance, velocity and acceleration curves.

A feature's track is cut into **temporal primitives** wherever two consecutive
samples are further apart in time than the collection's ``max_gap`` — the same
bound the engine's snapshots and nearest-at-a-time queries interpolate across.
Inside a primitive, positions (and Linear properties) are linear between
samples; between primitives the feature's position is unknown. All functions
take sorted int64-nanosecond instants and work on whole arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["starts_of", "labels_of", "locate", "linear", "step", "window_instants", "derived"]

_S = 1e9  # nanoseconds per second


def starts_of(t: np.ndarray, max_gap: int) -> np.ndarray:
    """The index of the first sample of each primitive (a new one begins after a gap over ``max_gap``)."""
    if not len(t):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, np.diff(t) > max_gap])


def labels_of(n: int, starts: np.ndarray) -> np.ndarray:
    """The primitive (0, 1, ...) of each of ``n`` samples."""
    mark = np.zeros(n, dtype=np.int64)
    mark[starts[1:]] = 1
    return np.cumsum(mark)


def locate(t: np.ndarray, starts: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each instant of ``at``: the sample ``i`` it follows inside a primitive (``t[i] <= at < t[i+1]``,
    both samples of one primitive, or a sample exactly at it) and the fraction of the way to ``t[i+1]``;
    ``i`` is -1 where no primitive covers the instant."""
    at = np.asarray(at, dtype=np.int64)
    n = len(t)
    if not n:
        return np.full(len(at), -1, dtype=np.int64), np.zeros(len(at))
    labels = labels_of(n, starts)
    i = np.searchsorted(t, at, side="right") - 1
    ic = np.clip(i, 0, n - 1)
    nxt = np.minimum(ic + 1, n - 1)
    exact = (i >= 0) & (t[ic] == at)
    inside = (i >= 0) & ~exact & (ic + 1 < n) & (labels[nxt] == labels[ic])
    span = np.where(inside, t[nxt] - t[ic], 1).astype(np.float64)
    frac = np.where(inside, (at - t[ic]) / span, 0.0)
    return np.where(exact | inside, ic, -1), frac


def linear(values: np.ndarray, idx: np.ndarray, frac: np.ndarray, wrap: bool = False) -> np.ndarray:
    """Values at located instants, linear between samples; ``wrap``: longitudes in degrees take the short
    way across the antimeridian. ``idx`` must be >= 0."""
    v = values.astype(np.float64)
    nxt = np.minimum(idx + 1, len(v) - 1)
    d = v[nxt] - v[idx]
    if wrap:
        d = (d + 180.0) % 360.0 - 180.0
    out = v[idx] + frac * d
    if wrap:
        out = np.where(out >= 180.0, out - 360.0, np.where(out < -180.0, out + 360.0, out))
    return np.where(frac == 0.0, v[idx], out)  # a sample's own value exactly


def step(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Values at located instants, held from each sample to the next."""
    return values[idx]


def window_instants(t: np.ndarray, starts: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """The instants of the sub-sequence over [t0, t1]: the samples inside, and t0 and t1 themselves where a
    primitive covers them (their values are interpolated)."""
    inside = t[(t >= t0) & (t <= t1)]
    bounds = np.array([t0, t1], dtype=np.int64)
    idx, _ = locate(t, starts, bounds)
    return np.unique(np.concatenate([inside, bounds[idx >= 0]]))


def derived(t: np.ndarray, speed: np.ndarray, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Distance, velocity and acceleration at each sample, per primitive, from ``speed`` (the speed of the
    step from the previous sample, as ``Collection.track(derive=True)`` gives it; NaN for the first).

    - distance: travelled since the primitive's first sample (linear between samples);
    - velocity: the speed until the next sample (a step curve; the last sample keeps the last speed);
    - acceleration: the change of speed between the steps before and after a sample over the time between
      their midpoints (the ends of a primitive repeat their neighbour; 0 with two samples).
    Velocity and acceleration are NaN where a primitive has a single sample (its distance is 0)."""
    n = len(t)
    if not n:
        return {k: np.empty(0) for k in ("distance", "velocity", "acceleration")}
    labels = labels_of(n, starts)
    first = np.zeros(n, dtype=bool)
    first[starts] = True
    dt = np.r_[0.0, np.diff(t) / _S]
    step_dist = np.where(first, 0.0, np.nan_to_num(speed) * dt)
    travelled = np.cumsum(step_dist)
    distance = travelled - travelled[starts][labels]
    ends = np.r_[starts[1:], n] - 1
    single = (ends - starts == 0)[labels]
    last = np.zeros(n, dtype=bool)
    last[ends] = True
    nxt = np.minimum(np.arange(n) + 1, n - 1)
    velocity = np.where(last, speed, speed[nxt])
    velocity = np.where(single, np.nan, velocity)
    acceleration = np.full(n, np.nan)
    interior = ~first & ~last
    if interior.any():
        prv = np.maximum(np.arange(n) - 1, 0)
        mid_dt = (t[nxt] - t[prv]) / (2 * _S)
        acceleration = np.where(interior, (speed[nxt] - speed) / np.where(interior, mid_dt, 1.0), np.nan)
    two = ((ends - starts) == 1)[labels]
    acceleration = np.where(two, 0.0, acceleration)
    longer = ((ends - starts) >= 2)[labels]
    acceleration = np.where(first & longer, acceleration[nxt], acceleration)
    acceleration = np.where(last & longer, acceleration[np.maximum(np.arange(n) - 1, 0)], acceleration)
    distance = np.where(single, 0.0, distance)
    return {"distance": distance, "velocity": velocity, "acceleration": acceleration}
