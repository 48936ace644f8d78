"""Many instants at once: RFC 3339 date-times or integer epoch nanoseconds, as int64 UTC nanoseconds.

The same rules as :func:`chronotope_api.params.instant` (``T``, ``t`` or a space
between date and time, up to nine fraction digits, ``Z`` or an offset ``±hh:mm``
required), vectorised: the strings are read as a table of code points and every
check and every field is computed column by column, with no Python loop per row.
An integer string (``-?digits``) is taken as epoch nanoseconds.

>>> parse_instants(np.array(["2020-12-01T05:00:00+01:00", "2020-12-01T04:00:00.5Z", "1606795200000000000"])).tolist()
[1606795200000000000, 1606795200500000000, 1606795200000000000]
"""

from __future__ import annotations

import numpy as np

from chronotope.errors import InvalidArgumentError

__all__ = ["parse_instants"]

_WIDTH = 36  # longest accepted form: 19 + "." + 9 digits + "+hh:mm" = 35, plus a pad column
_DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_INT64_MAX = "9223372036854775807"
_SPACES = np.array([9, 10, 11, 12, 13, 32], dtype=np.uint8)
# whole seconds whose nanoseconds fit int64 with any fraction (1677-09-22 to 2262-04-11)
_SECONDS = (-9_223_372_035, 9_223_372_035)


def _fail(values: np.ndarray, bad: np.ndarray, what: str, why: str) -> None:
    row = int(np.argmax(bad))
    raise InvalidArgumentError(f"{what}: row {row}: {str(values[row])[:64]!r} {why}")


def _number(d: np.ndarray, cols) -> np.ndarray:
    out = np.zeros(len(d), dtype=np.int64)
    for col in cols:
        out = out * 10 + d[:, col].astype(np.int64)
    return out


def _days_from_civil(year, month, day) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _table(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strings as a (rows, 36) table of bytes (code points beyond ASCII become 255), and their lengths."""
    wide = a.view(np.uint32).reshape(len(a), a.dtype.itemsize // 4)[:, :_WIDTH]
    c = np.zeros((len(a), _WIDTH), dtype=np.uint8)
    c[:, : wide.shape[1]] = np.minimum(wide, 255)
    return c, np.char.str_len(a)


def parse_instants(values, what: str = "column 't'") -> np.ndarray:
    """Strings (a unicode or object array) as int64 UTC nanoseconds; InvalidArgumentError names the
    first bad row."""
    a = np.asarray(values)
    if a.dtype.kind == "O":
        is_str = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)(a).astype(bool)
        if not is_str.all():
            _fail(a, ~is_str, what, "is not a date-time string or an integer")
        a = a.astype("U") if len(a) else np.empty(0, "U1")
    if a.dtype.kind != "U" or a.ndim != 1:
        raise InvalidArgumentError(f"{what} must hold RFC 3339 date-times or integer nanoseconds, got {a.dtype}")
    n = len(a)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    c, length = _table(a)
    rows = np.arange(n)
    edges = np.concatenate([c[:, 0], c[rows, np.clip(length - 1, 0, _WIDTH - 1)]])
    if np.isin(edges, _SPACES).any() or (length >= _WIDTH).any():  # rare: strip (as params.instant does) only then
        a = np.char.strip(a)
        c, length = _table(a)
    dv = c - np.uint8(48)  # digit values (wrapping below '0')
    digit = dv <= 9
    out = np.empty(n, dtype=np.int64)

    # integers: an optional minus, then 1 to 19 digits
    neg = c[:, 0] == 45
    count = length - neg  # digits wanted after the sign; past the string's end the table holds no digits
    is_int = (count >= 1) & (count <= 19) & (digit[:, :20].sum(axis=1) == count)
    if is_int.any():
        ints = a[is_int]
        unsigned = np.where(neg[is_int], np.char.lstrip(ints, "-"), ints)
        limit = np.where(neg[is_int], "9223372036854775808", _INT64_MAX)
        over = np.zeros(n, dtype=bool)
        over[is_int] = (np.char.str_len(unsigned) == 19) & (unsigned > limit)
        if over.any():
            _fail(a, over, what, "is beyond the int64 nanosecond range")
        out[is_int] = ints.astype(np.int64)

    # RFC 3339: fixed positions up to the seconds, an optional fraction, then Z or an offset
    ok = ~is_int & (length >= 20) & (length <= 35) & digit[:, _DATE_DIGITS].all(axis=1)
    ok &= (c[:, 4] == 45) & (c[:, 7] == 45) & (c[:, 13] == 58) & (c[:, 16] == 58)
    ok &= (c[:, 10] == 84) | (c[:, 10] == 116) | (c[:, 10] == 32)
    has_frac = c[:, 19] == 46
    frac_digits, run = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    for k in range(20, 29):  # the digits that follow the '.' without a break
        run &= digit[:, k]
        frac_digits += run
    ok &= ~has_frac | (frac_digits >= 1)
    z = 19 + has_frac * (1 + frac_digits)
    zone = c[rows, z]
    zulu = ((zone == 90) | (zone == 122)) & (length == z + 1)
    shifted = ((zone == 43) | (zone == 45)) & (length == z + 6) & (c[rows, z + 3] == 58)
    for k in (1, 2, 4, 5):
        shifted &= digit[rows, z + k]
    ok &= zulu | shifted
    bad = ~(is_int | ok)
    if bad.any():
        _fail(a, bad, what, "is not an RFC 3339 date-time such as 2020-12-01T04:00:00Z, nor integer nanoseconds")
    if not ok.any():
        return out

    d = np.where(digit, dv, 0)
    year, month, day = _number(d, [0, 1, 2, 3]), _number(d, [5, 6]), _number(d, [8, 9])
    hour, minute, second = _number(d, [11, 12]), _number(d, [14, 15]), _number(d, [17, 18])
    at = lambda k: d[rows, np.minimum(z + k, _WIDTH - 1)].astype(np.int64)  # noqa: E731
    off_h, off_m = at(1) * 10 + at(2), at(4) * 10 + at(5)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.where(month_ok, month, 1)] + (leap & (month == 2))
    valid = month_ok & (day >= 1) & (day <= last_day) & (hour <= 23) & (minute <= 59) & (second <= 59)
    valid &= zulu | ((off_h <= 23) & (off_m <= 59))
    if (ok & ~valid).any():
        _fail(a, ok & ~valid, what, "is not a valid date-time (month, day, hour, minute or second out of range)")
    offset = np.where(shifted, (off_h * 3600 + off_m * 60) * np.where(zone == 45, -1, 1), 0)
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    outside = ok & ((seconds < _SECONDS[0]) | (seconds > _SECONDS[1]))
    if outside.any():
        _fail(a, outside, what, "is outside the nanosecond time range (1677-09-22 to 2262-04-11)")
    frac = np.zeros(n, dtype=np.int64)
    for k in range(9):
        frac += np.where(k < frac_digits, d[:, 20 + k].astype(np.int64), 0) * 10 ** (8 - k)
    out[ok] = (seconds * 1_000_000_000 + np.where(has_frac, frac, 0))[ok]
    return out
