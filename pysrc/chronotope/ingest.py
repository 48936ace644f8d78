"""Validation and normalisation of appended columns (all-or-nothing, vectorized).

Every check runs over whole arrays; the first failing row is found with
``argmax`` on a boolean mask, so a bad call costs no Python loop over points.
Errors are :class:`~chronotope.errors.InvalidArgumentError` (a ``ValueError``)
naming the column and the first bad row.
"""

from __future__ import annotations

import json
import re

import numpy as np

from chronotope.errors import InvalidArgumentError

__all__ = ["check_name", "duration_ns", "normalise_times", "normalise_batch", "parse_partition", "time_range", "to_ns"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_RESERVED = {"object_id", "t", "x", "y", "z", "oid"}
MAX_DURATION_NS = 100 * 365 * 86_400 * 10**9  # partitions, gaps, buckets: far below int64 ns overflow
_UNITS_NS = {"D": 86_400_000_000_000, "h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000}


def check_name(name: str, what: str) -> str:
    """Accept only plain identifiers: a name can never be a path, '.' or '..'.

    >>> check_name("ais", "collection")
    'ais'
    >>> check_name("../etc", "collection")
    Traceback (most recent call last):
    ...
    chronotope.errors.InvalidArgumentError: invalid collection name '../etc': use letters, digits and _ (at most 64, not starting with a digit)
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"invalid {what} name {name!r}: use letters, digits and _ (at most 64, not starting with a digit)"
        )
    return name


def check_metadata(metadata) -> dict:
    """A collection's descriptive metadata, checked to be a JSON object: a private copy.

    >>> check_metadata({"title": "AIS", "units": {"sog": "knots"}})
    {'title': 'AIS', 'units': {'sog': 'knots'}}
    """
    if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
        raise InvalidArgumentError("collection metadata must be a JSON object (a dict with string keys)")
    try:
        text = json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"collection metadata is not JSON: {exc}") from None
    return json.loads(text)


def check_schema(properties: dict | None) -> dict[str, np.dtype]:
    """Property columns of a new collection, checked: plain names, not reserved, numeric dtypes.

    >>> {k: str(v) for k, v in check_schema({"sog": "float32"}).items()}
    {'sog': 'float32'}
    """
    schema = {}
    for prop, dtype in (properties or {}).items():
        check_name(prop, "property")
        if prop in _RESERVED or prop == "idempotency_key":
            raise InvalidArgumentError(f"property name {prop!r} is reserved")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise InvalidArgumentError(f"property {prop!r}: unknown dtype {dtype!r}") from None
        if dt.kind not in "biuf":
            raise InvalidArgumentError(f"property {prop!r}: dtype {dt} is not numeric (use documents for text)")
        schema[prop] = dt
    return schema


def parse_partition(spec: str | int) -> int:
    """A partition length ('1D', '6h', '30m' or nanoseconds) in nanoseconds.

    >>> parse_partition("1D") == 86_400 * 10**9
    True
    """
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool) and spec > 0:
        ns = int(spec)
    else:
        m = re.fullmatch(r"(\d+)([Dhms])", str(spec))
        if not m or int(m.group(1)) == 0:
            raise InvalidArgumentError(f"invalid partition {spec!r}: use e.g. '1D', '6h', '30m', '900s'")
        ns = int(m.group(1)) * _UNITS_NS[m.group(2)]
    if ns > MAX_DURATION_NS:
        raise InvalidArgumentError(f"partition {spec!r} is longer than 100 years")
    return ns


def duration_ns(value, what: str = "duration") -> int:
    """A positive duration (timedelta64, datetime.timedelta, '10m'-style string, or int ns) in nanoseconds.

    >>> duration_ns(np.timedelta64(1, "h")) == duration_ns("1h") == 3600 * 10**9
    True
    """
    if isinstance(value, str):
        try:
            return parse_partition(value)
        except InvalidArgumentError as exc:
            if "100 years" in str(exc):
                raise InvalidArgumentError(f"{what} {value!r} is longer than 100 years") from None
            raise InvalidArgumentError(f"invalid {what} {value!r}: use e.g. '1D', '6h', '30m', '900s'") from None
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.timedelta64)):
        ns = int(value)
    else:
        try:
            ns = int(np.timedelta64(value, "ns").astype(np.int64))
        except (ValueError, TypeError):
            raise InvalidArgumentError(f"invalid {what} {value!r}: give a timedelta, e.g. np.timedelta64(10, 'm')") from None
    if ns <= 0:
        raise InvalidArgumentError(f"{what} must be positive, got {value!r}")
    if ns > MAX_DURATION_NS:
        raise InvalidArgumentError(f"{what} {value!r} is longer than 100 years")
    return ns


def time_range(time) -> tuple[int, int]:
    """A (start, end) pair, either end None for open, as inclusive int64 ns bounds.

    >>> time_range(("2020-12-01", None))[0] == to_ns("2020-12-01", "t")
    True
    """
    if time is None:
        return int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
    try:
        t0, t1 = time
    except (TypeError, ValueError):
        raise InvalidArgumentError("time must be a (start, end) pair; either end may be None") from None
    lo = int(np.iinfo(np.int64).min) if t0 is None else to_ns(t0, "time start")
    hi = int(np.iinfo(np.int64).max) if t1 is None else to_ns(t1, "time end")
    if lo > hi:
        raise InvalidArgumentError(f"time interval is inverted: start {t0!r} is after end {t1!r}")
    return lo, hi


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def to_ns(value, what: str = "time") -> int:
    """One instant (datetime64, ISO string, or int nanoseconds) as int64 nanoseconds since the epoch."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    try:
        v = np.datetime64(value, "ns")
    except (ValueError, TypeError):
        raise InvalidArgumentError(f"invalid {what} {value!r}: give datetime64, an ISO string or int nanoseconds") from None
    if np.isnat(v):
        raise InvalidArgumentError(f"invalid {what}: NaT")
    return int(v.astype(np.int64))


def normalise_times(t, n: int | None = None) -> np.ndarray:
    """Times as int64 UTC nanoseconds: datetime64 of any unit or int64 nanoseconds."""
    a = np.asarray(t)
    if a.ndim != 1:
        raise InvalidArgumentError(f"column 't' must be 1-D, got shape {a.shape}")
    if n is not None and len(a) != n:
        raise InvalidArgumentError(f"column 't' has {len(a)} rows, expected {n}")
    if a.dtype.kind == "M":
        bad = np.isnat(a)
        if bad.any():
            raise InvalidArgumentError(f"column 't': NaT at row {_first(bad)}")
        ns = a.astype("datetime64[ns]")
        # a unit coarser than ns can overflow int64 nanoseconds: check the round trip
        back = ns.astype(a.dtype)
        if (back != a).any():
            raise InvalidArgumentError(f"column 't': time out of the nanosecond range at row {_first(back != a)}")
        return ns.view(np.int64)
    if a.dtype.kind in "iu" and (a.dtype.kind == "i" or a.dtype.itemsize < 8 or len(a) == 0 or a.max() <= np.iinfo(np.int64).max):
        return a.astype(np.int64, copy=False)
    raise InvalidArgumentError(f"column 't' must be datetime64 or int64 nanoseconds, got dtype {a.dtype}")


def _float_column(v, name: str, n: int) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim != 1 or len(a) != n:
        raise InvalidArgumentError(f"column {name!r} must be 1-D with {n} rows, got shape {a.shape}")
    if a.dtype.kind not in "fiu":
        raise InvalidArgumentError(f"column {name!r} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    bad = ~np.isfinite(a)
    if bad.any():
        raise InvalidArgumentError(f"column {name!r}: {a[_first(bad)]} (not a finite number) at row {_first(bad)}")
    return a


def _object_ids(object_id, n: int) -> np.ndarray:
    a = np.asarray(object_id)
    if a.ndim == 0:
        a = np.full(n, a.item() if a.dtype.kind not in "US" else str(a), dtype=a.dtype if a.dtype.kind in "iuUS" else object)
    if a.ndim != 1 or len(a) != n:
        raise InvalidArgumentError(f"column 'object_id' must be a scalar or 1-D with {n} rows, got shape {a.shape}")
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.dtype.itemsize == 8 and n and a.max() > np.iinfo(np.int64).max:
            raise InvalidArgumentError(f"column 'object_id': id too large for int64 at row {_first(a > np.iinfo(np.int64).max)}")
        return a.astype(np.int64, copy=False)
    if a.dtype.kind == "S":
        a = a.astype("U")
    if a.dtype.kind == "O":
        is_str = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)(a).astype(bool)
        if not is_str.all():
            raise InvalidArgumentError(f"column 'object_id': not a string at row {_first(~is_str)} ({a[_first(~is_str)]!r})")
        a = a.astype("U") if n else np.empty(0, dtype="U1")
    if a.dtype.kind == "U":
        empty = a == ""
        if empty.any():
            raise InvalidArgumentError(f"column 'object_id': empty id at row {_first(empty)}")
        return a
    raise InvalidArgumentError(f"column 'object_id' must hold integers or strings, got dtype {a.dtype}")


def normalise_batch(object_id, t, x, y, z, columns: dict, *, schema: dict[str, str], has_z: bool, geographic: bool):
    """Validate one append call completely; return (ids, dict of normalised columns).

    ``ids`` are int64 or unicode strings (mapped to codes by the caller); the
    columns are ``t`` (int64 ns), ``x``, ``y``, optionally ``z`` (float64) and
    the schema's properties cast to their declared dtypes.
    """
    tt = normalise_times(t)
    n = len(tt)
    ids = _object_ids(object_id, n)
    out = {"t": tt, "x": _float_column(x, "x", n), "y": _float_column(y, "y", n)}
    if geographic:
        for name, lim in (("x", 180.0), ("y", 90.0)):
            bad = np.abs(out[name]) > lim
            if bad.any():
                r = _first(bad)
                raise InvalidArgumentError(
                    f"column {name!r}: {out[name][r]} is outside [-{lim:g}, {lim:g}] (EPSG:4326) at row {r}"
                )
    if z is not None:
        if not has_z:
            raise InvalidArgumentError("this collection has no z column (create it with has_z=True)")
        out["z"] = _float_column(z, "z", n)
    elif has_z:
        out["z"] = np.full(n, np.nan)
    unknown = sorted(set(columns) - set(schema))
    if unknown:
        raise InvalidArgumentError(f"unknown column(s) {unknown}; the collection's properties are {sorted(schema)}")
    for name, dtype in schema.items():
        if name not in columns:
            out[name] = np.full(n, np.nan, dtype=dtype) if np.dtype(dtype).kind == "f" else np.zeros(n, dtype=dtype)
            continue
        a = np.asarray(columns[name])
        if a.ndim != 1 or len(a) != n:
            raise InvalidArgumentError(f"column {name!r} must be 1-D with {n} rows, got shape {a.shape}")
        if not np.can_cast(a.dtype, dtype, casting="same_kind"):
            raise InvalidArgumentError(f"column {name!r} must be {dtype}, got dtype {a.dtype}")
        out[name] = a.astype(dtype, copy=False)
    return ids, out
