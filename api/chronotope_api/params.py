"""Query parameters as OGC API – Moving Features has them: bbox, datetime, ids and paging cursors.

Bad values raise InvalidArgumentError (answered 400 with a problem document, as
the standard asks for invalid parameters).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

import numpy as np

from chronotope.errors import InvalidArgumentError

__all__ = ["bbox", "datetime_interval", "instant", "object_id", "encode_cursor", "decode_cursor", "iso", "iso_array"]

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$")
_OPEN = ("", "..")
_NS_MIN, _NS_MAX = -(2**63) + 1, 2**63 - 1  # int64 ns; the minimum itself is NaT


def bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` (or the 6-number form with heights, which are ignored); west > east
    crosses the antimeridian.

    >>> bbox("170,-10,-170,10")
    (170.0, -10.0, -170.0, 10.0)
    """
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) not in (4, 6):
        raise InvalidArgumentError(f"bbox must be minLon,minLat,maxLon,maxLat, got {text!r}")
    try:
        v = [float(p) for p in parts]
    except ValueError:
        raise InvalidArgumentError(f"bbox must hold numbers, got {text!r}") from None
    if not np.isfinite(v).all():
        raise InvalidArgumentError(f"bbox must hold finite numbers, got {text!r}")
    box = (v[0], v[1], v[2], v[3]) if len(v) == 4 else (v[0], v[1], v[3], v[4])
    if box[1] > box[3]:
        raise InvalidArgumentError(f"bbox minLat {box[1]} is above maxLat {box[3]}")
    return box


def instant(text: str, what: str = "datetime") -> int:
    """An RFC 3339 date-time (``Z`` or an offset; up to nanoseconds) as int64 UTC nanoseconds.

    >>> instant("2020-12-01T05:00:00+01:00") == instant("2020-12-01T04:00:00Z")
    True
    """
    m = _RFC3339.match(text.strip())
    if not m:
        raise InvalidArgumentError(f"{what} {text!r} is not an RFC 3339 date-time such as 2020-12-01T04:00:00Z")
    date, clock, frac, _z, sign, hh, mm = m.groups()
    try:  # to seconds first: nanoseconds since 1970 only reach the years 1678-2262
        seconds = int(np.datetime64(f"{date}T{clock}", "s").astype(np.int64))
    except ValueError:
        raise InvalidArgumentError(f"{what} {text!r} is not a valid date-time") from None
    if sign:
        seconds -= (1 if sign == "+" else -1) * (int(hh) * 60 + int(mm)) * 60
    ns = seconds * 10**9 + int((frac or "").ljust(9, "0"))
    if not _NS_MIN <= ns <= _NS_MAX:
        raise InvalidArgumentError(f"{what} {text!r} is out of range: times run from 1678-09-22 to 2262-04-11")
    return ns


def datetime_interval(text: str | None) -> tuple[int | None, int | None] | None:
    """``datetime`` as the standard has it: an instant, or ``start/end`` with ``..`` (or nothing) for an
    open end; the inclusive (start, end) in ns (None: open), or None when not given."""
    if text is None:
        return None
    if "/" not in text:
        t = instant(text)
        return t, t
    start, _, end = text.partition("/")
    if "/" in end:
        raise InvalidArgumentError(f"datetime {text!r} has more than one '/'")
    lo = None if start.strip() in _OPEN else instant(start, "datetime start")
    hi = None if end.strip() in _OPEN else instant(end, "datetime end")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidArgumentError(f"datetime {text!r}: the start is after the end")
    return lo, hi


def object_id(collection, text: str):
    """A moving feature id from a URL as the collection stores ids (integers or strings)."""
    if collection.id_kind == "int" or (collection.id_kind is None and re.fullmatch(r"-?\d{1,18}", text)):
        try:
            return int(text)
        except ValueError:
            raise InvalidArgumentError(f"collection {collection.name!r} has integer feature ids, got {text!r}") from None
    return text


def iso(t_ns) -> str:
    """int64 ns (or datetime64) as an RFC 3339 UTC string, trailing zeros of the fraction dropped."""
    s = np.datetime_as_string(np.asarray(t_ns).astype("datetime64[ns]"), unit="ns")
    if isinstance(s, np.ndarray):
        raise TypeError("iso takes one instant; use iso_array")
    date, frac = s.split(".")
    frac = frac.rstrip("0")
    return f"{date}.{frac}Z" if frac else f"{date}Z"


def iso_array(t_ns: np.ndarray) -> list[str]:
    """Many instants as RFC 3339 UTC strings (vectorised)."""
    s = np.datetime_as_string(np.asarray(t_ns).astype("datetime64[ns]"), unit="ns")
    return [x[:-10] + "Z" if x.endswith(".000000000") else x.rstrip("0") + "Z" for x in s.tolist()]


def encode_cursor(state: dict) -> str:
    """An opaque paging cursor for ``links rel=next``."""
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> dict:
    try:
        state = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgumentError("cursor is not one this server issued") from None
    if not isinstance(state, dict):
        raise InvalidArgumentError("cursor is not one this server issued")
    return state
