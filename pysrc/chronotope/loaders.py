"""Readers for tracktable's ``.traj`` files and AIS point CSV files.

Contract
--------
Every reader returns a plain ``dict`` that maps column names to 1-D numpy
arrays of equal length, one element per point:

``object_id``
    The moving object's identifier: ``int64`` when every identifier in the
    file is a plain non-negative integer without leading zeros (AIS MMSI
    numbers), otherwise a numpy ``str`` array.
``t``
    ``int64`` nanoseconds since 1970-01-01 UTC.  Timestamps without a zone
    are taken to be UTC.
``x``, ``y``
    ``float64`` longitude and latitude in degrees (the first and second
    coordinate for non-terrestrial ``.traj`` domains).
``z``
    ``float64`` third coordinate, only for 3-D ``.traj`` files.
``traj_id``
    ``int32``, ``.traj`` only: 0-based index of the trajectory line the point
    came from (blank lines are not counted).
any other column
    Point attributes.  Numbers are floating point with ``NaN`` where the
    field is empty (``float64`` for ``.traj`` properties, ``float32`` for AIS
    CSV columns); text stays a numpy ``str`` array; ``.traj`` timestamp
    properties become ``int64`` nanoseconds (``numpy.iinfo(int64).min``, the
    NaT value, where empty).

Rows are sorted by ``(object_id, t)`` with a stable sort, so points of one
object that share a timestamp keep their order in the file.

Inputs may be paths (``str`` or ``os.PathLike``) or open file objects in text
or binary mode; gzip-compressed data is recognised by its magic bytes, so
``.gz`` files work whatever their name.  Text must be UTF-8.

Malformed input raises :class:`chronotope.errors.ParseError` (a ``ValueError``) whose message names the file, the
line number (1-based) and what is wrong: a bad header, a wrong number of
fields, or a number or timestamp that does not parse.  No ``IndexError`` or
``KeyError`` escapes from parsing.

Parsing is bulk: a ``.traj`` line (one trajectory) is split once and its
point records are reshaped into a 2-D numpy array; a CSV body is split in one
pass.  Conversions use ``numpy`` ``astype`` on whole columns.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import os
import zlib
from typing import IO, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from chronotope.errors import ParseError

__all__ = ["read_traj", "read_ais_csv", "read_tracktable"]

PathOrFile = Union[str, "os.PathLike[str]", IO[str], IO[bytes]]

# Error type raised for malformed input (see the module docstring); it is a
# ValueError subclass, so callers catching ValueError keep working.
_FormatError = ParseError

# tracktable's PropertyUnderlyingType codes, as written in .traj headers.
_TYPE_REAL = 1
_TYPE_STRING = 2
_TYPE_TIMESTAMP = 3
_KNOWN_TYPES = {0, _TYPE_REAL, _TYPE_STRING, _TYPE_TIMESTAMP, 4}

# Domain names tracktable writes; used to tell an optional uuid apart.
_DOMAINS = frozenset(["terrestrial", "cartesian2d", "cartesian3d", "generic"])

# Column names of the core layout; attributes with these names get a prefix.
_CORE = ("object_id", "t", "x", "y", "z", "traj_id")

# Marine Cadastre AIS layout, lower-cased.
_AIS_REQUIRED = ("mmsi", "basedatetime", "lon", "lat")
_AIS_NUMERIC = frozenset(
    ["sog", "cog", "heading", "vesseltype", "status", "length", "width",
     "draft", "cargo"])
_AIS_TEXT = frozenset(
    ["vesselname", "imo", "callsign", "transceiverclass", "transcieverclass",
     "eta"])

def _fail(name: str, lineno: Optional[int], message: str):
    where = f"{name}, line {lineno}" if lineno is not None else name
    # ``from None``: the low-level parse error adds nothing to the message.
    raise _FormatError(f"{where}: {message}") from None


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------

def _read_text(source: PathOrFile) -> Tuple[str, str]:
    """Return ``(text, display_name)`` for a path or file object."""
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        with open(name, "rb") as handle:
            data: Union[str, bytes] = handle.read()
    elif hasattr(source, "read"):
        name = str(getattr(source, "name", "<stream>"))
        data = source.read()
    else:
        raise TypeError(
            f"expected a path or a file object, not {type(source).__name__}")
    if isinstance(data, str):
        return data.lstrip("\ufeff"), name
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            _fail(name, None, f"corrupt gzip data ({exc})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        _fail(name, lineno, f"text is not valid UTF-8 ({exc.reason})")
    return text.lstrip("\ufeff"), name


# --------------------------------------------------------------------------
# Column conversion (bulk; the per-element loops run only to report errors)
# --------------------------------------------------------------------------

def _first_bad(values: np.ndarray, check) -> int:
    """Index of the first element that ``check`` rejects (error path only)."""
    for i, value in enumerate(values.tolist()):
        try:
            check(value)
        except (ValueError, OverflowError):
            return i
    return 0


def _check_float(text: str) -> None:
    np.array([text]).astype(np.float64)


def _to_float(values: np.ndarray, dtype, *, allow_empty: bool, what: str,
              name: str, linenos: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.empty(0, dtype=dtype)
    work = values
    if allow_empty:
        work = np.where(np.char.str_len(np.char.strip(values)) == 0,
                        "nan", values)
    try:
        return work.astype(dtype)
    except ValueError:
        i = _first_bad(work, _check_float)
        shown = str(values[i])
        problem = "empty" if not shown.strip() else f"not a number: {shown!r}"
        _fail(name, int(linenos[i]), f"{what} is {problem}")


def _to_ns(values: np.ndarray, *, allow_empty: bool, what: str, name: str,
           linenos: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.empty(0, dtype=np.int64)
    work = np.char.strip(values)
    if np.any(np.char.endswith(work, "Z")):
        work = np.char.rstrip(work, "Z")
    empty = np.char.str_len(work) == 0
    if np.any(empty) and not allow_empty:
        i = int(np.argmax(empty))
        _fail(name, int(linenos[i]), f"{what} is empty")

    def check(s):
        if s and np.isnat(np.datetime64(s, "ns")):
            raise ValueError(s)

    try:
        out = work.astype("datetime64[ns]")
    except (ValueError, OverflowError):
        i = _first_bad(work, check)
        _fail(name, int(linenos[i]),
              f"{what} is not a timestamp: {str(values[i])!r}")
    bad = np.isnat(out) & ~empty
    if np.any(bad):  # e.g. the literal text "NaT"
        i = int(np.argmax(bad))
        _fail(name, int(linenos[i]),
              f"{what} is not a timestamp: {str(values[i])!r}")
    return out.view(np.int64)


def _object_ids(values: np.ndarray, *, what: str, name: str,
                linenos: np.ndarray) -> np.ndarray:
    ids = np.char.strip(values)
    if ids.size == 0:
        return ids.astype(np.int64)
    lengths = np.char.str_len(ids)
    if np.any(lengths == 0):
        i = int(np.argmax(lengths == 0))
        _fail(name, int(linenos[i]), f"{what} is empty")
    integral = (np.all(np.char.isdigit(ids)) and np.all(lengths <= 18)
                and not np.any((lengths > 1) & np.char.startswith(ids, "0")))
    if integral:
        try:
            return ids.astype(np.int64)
        except (ValueError, OverflowError):  # e.g. non-ASCII digits
            pass
    return _compact(ids)


def _sorted_by_object_time(columns: Dict[str, np.ndarray]
                           ) -> Dict[str, np.ndarray]:
    ids = columns["object_id"]
    key = ids if ids.dtype.kind == "i" else np.unique(
        ids, return_inverse=True)[1]
    order = np.lexsort((columns["t"], key))
    if np.all(order[1:] > order[:-1]):
        return columns
    return {k: v[order] for k, v in columns.items()}


def _compact(values: np.ndarray) -> np.ndarray:
    """Return a str array whose itemsize fits its longest element."""
    longest = int(np.char.str_len(values).max()) if values.size else 1
    return values.astype(f"<U{max(longest, 1)}")


def _attr_name(raw: str) -> str:
    return "attr_" + raw if raw in _CORE else raw


# --------------------------------------------------------------------------
# .traj
# --------------------------------------------------------------------------

def _int_field(fields: Sequence[str], pos: int, what: str, name: str,
               lineno: int) -> int:
    if pos >= len(fields):
        _fail(name, lineno, f"bad header: line ends before {what}")
    try:
        return int(fields[pos])
    except ValueError:
        _fail(name, lineno,
              f"bad header: {what} is not an integer: {fields[pos]!r}")


def _parse_traj_line(fields: List[str], name: str, lineno: int):
    """Parse one trajectory line's header and check its field count.

    Returns ``(layout, uuid, records, num_points)`` where ``records`` is the
    flat list of record fields and ``layout`` is
    ``(has_object_id, dimension, ((prop_name, prop_type), ...))``.
    """
    if fields[0].strip() != "*T*":
        _fail(name, lineno,
              f"bad header: expected '*T*' at the start of the line, "
              f"found {fields[0][:40]!r}")
    # The uuid is optional: "*T*,domain,num_points,..." or
    # "*T*,uuid,domain,num_points,...".
    pos = 1
    uuid = None
    if (len(fields) > 2 and fields[1].strip().lower() not in _DOMAINS
            and not fields[2].strip().isdigit()):
        uuid = fields[1]
        pos = 2
    num_points = _int_field(fields, pos + 1, "the number of points", name,
                            lineno)
    num_props = _int_field(fields, pos + 2,
                           "the number of trajectory properties", name, lineno)
    if num_points < 0 or num_props < 0:
        _fail(name, lineno, "bad header: negative count")
    pos += 3 + 3 * num_props
    if pos >= len(fields) or fields[pos].strip() != "*P*":
        found = fields[pos][:40] if pos < len(fields) else "end of line"
        _fail(name, lineno,
              f"bad header: expected '*P*' after {num_props} trajectory "
              f"properties, found {found!r}")
    dimension = _int_field(fields, pos + 2, "the point dimension", name,
                           lineno)
    has_id = _int_field(fields, pos + 3, "the has_object_id flag", name,
                        lineno)
    has_time = _int_field(fields, pos + 4, "the has_timestamp flag", name,
                          lineno)
    num_point_props = _int_field(fields, pos + 5,
                                 "the number of point properties", name,
                                 lineno)
    if dimension not in (2, 3):
        _fail(name, lineno,
              f"bad header: point dimension must be 2 or 3, not {dimension}")
    if has_id not in (0, 1) or has_time not in (0, 1):
        _fail(name, lineno, "bad header: has_object_id and has_timestamp "
                            "must be 0 or 1")
    if not has_time:
        _fail(name, lineno, "bad header: points have no timestamps "
                            "(has_timestamp is 0)")
    if num_point_props < 0:
        _fail(name, lineno, "bad header: negative number of point properties")
    pos += 6
    props = []
    for k in range(num_point_props):
        if pos + 1 >= len(fields):
            _fail(name, lineno, f"bad header: line ends inside point "
                                f"property declaration {k + 1}")
        prop_name = fields[pos].strip()
        prop_type = _int_field(fields, pos + 1,
                               f"the type of point property {prop_name!r}",
                               name, lineno)
        if prop_type not in _KNOWN_TYPES:
            _fail(name, lineno, f"bad header: unknown type code {prop_type} "
                                f"for point property {prop_name!r}")
        props.append((prop_name, prop_type))
        pos += 2
    width = has_id + has_time + dimension + num_point_props
    records = fields[pos:]
    if len(records) == num_points * width + 1 and records[-1] == "":
        records.pop()  # tolerate a trailing comma
    if len(records) != num_points * width:
        _fail(name, lineno,
              f"wrong field count: header announces {num_points} points of "
              f"{width} fields ({num_points * width} fields), found "
              f"{len(records)}")
    layout = (has_id, dimension, tuple(props))
    return layout, uuid, records, num_points


def read_traj(path_or_file: PathOrFile) -> Dict[str, np.ndarray]:
    """Read a tracktable ``.traj`` file into columns, one element per point.

    Each line of the file holds one trajectory: the header
    ``*T*,[uuid,]domain,num_points,num_traj_props,(name,type,value)*,``
    ``*P*,domain,dimension,has_object_id,has_timestamp,num_point_props,``
    ``(name,type)*`` followed by ``num_points`` records
    ``object_id,timestamp,coord_1..coord_dimension[,point properties]``.

    Parameters
    ----------
    path_or_file : str, os.PathLike or file object
        Plain or gzip-compressed ``.traj`` data (text or binary mode).

    Returns
    -------
    dict of str to numpy.ndarray
        ``object_id`` (``int64`` if all ids are integers, else ``str``),
        ``t`` (``int64`` UTC nanoseconds), ``x`` and ``y`` (``float64``;
        longitude and latitude in the terrestrial domain), ``z`` for 3-D
        files, ``traj_id`` (``int32`` index of the trajectory line) and one
        array per point property: ``float64`` for real properties (``NaN``
        where empty), ``str`` for string properties, ``int64`` nanoseconds
        for timestamp properties.  A property whose name clashes with one of
        those columns is stored as ``attr_<name>``.  Rows are sorted stably
        by ``(object_id, t)``.  Trajectory-level properties are skipped.

    Raises
    ------
    ValueError
        If a header is malformed, a line has the wrong number of fields, or a
        number or timestamp does not parse.  The message names the file and
        the line.

    Examples
    --------
    >>> import io
    >>> text = ("*T*,terrestrial,2,0,*P*,terrestrial,2,1,1,1,speed,1,"
    ...         "42,2020-01-01 00:00:10,-74.5,40.25,3.5,"
    ...         "42,2020-01-01 00:00:00,-74.25,40.125,\\n")
    >>> cols = read_traj(io.StringIO(text))
    >>> sorted(cols)
    ['object_id', 'speed', 't', 'traj_id', 'x', 'y']
    >>> cols["object_id"].tolist(), cols["x"].tolist(), cols["speed"].tolist()
    ([42, 42], [-74.25, -74.5], [nan, 3.5])
    >>> int(cols["t"][1] - cols["t"][0])
    10000000000
    """
    text, name = _read_text(path_or_file)
    # Column-wise lists of field strings, filled by slicing each line's
    # records (every ``width``-th field); converted to arrays at the end.
    ids: List[str] = []
    times: List[str] = []
    coords: List[List[str]] = [[], [], []]
    props_raw: Dict[str, List[str]] = {}
    prop_types: Dict[str, Tuple[int, int]] = {}   # name -> (type, first line)
    counts: List[int] = []                        # points per trajectory
    linenos_per_traj: List[int] = []
    dimension_seen: Optional[Tuple[int, int]] = None
    total = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(",")
        (has_id, dimension, props), uuid, records, n = _parse_traj_line(
            fields, name, lineno)
        if dimension_seen is None:
            dimension_seen = (dimension, lineno)
        elif dimension != dimension_seen[0]:
            _fail(name, lineno,
                  f"bad header: point dimension {dimension} differs from "
                  f"{dimension_seen[0]} on line {dimension_seen[1]}")
        width = has_id + 1 + dimension + len(props)
        if has_id:
            ids.extend(records[0::width])
        else:
            ids.extend([uuid if uuid is not None else str(len(counts))] * n)
        times.extend(records[has_id::width])
        for j in range(dimension):
            coords[j].extend(records[has_id + 1 + j::width])
        first_prop = has_id + 1 + dimension
        for k, (prop_name, prop_type) in enumerate(props):
            known = prop_types.setdefault(prop_name, (prop_type, lineno))
            if known[0] != prop_type:
                _fail(name, lineno,
                      f"bad header: point property {prop_name!r} has type "
                      f"{prop_type} here but {known[0]} on line {known[1]}")
            column = props_raw.setdefault(prop_name, [""] * total)
            column.extend(records[first_prop + k::width])
        total += n
        for column in props_raw.values():   # pad properties this line lacks
            if len(column) < total:
                column.extend([""] * (total - len(column)))
        counts.append(n)
        linenos_per_traj.append(lineno)

    if dimension_seen is None:
        empty_f = np.empty(0, dtype=np.float64)
        return {"object_id": np.empty(0, dtype=np.int64),
                "t": np.empty(0, dtype=np.int64), "x": empty_f,
                "y": empty_f.copy(), "traj_id": np.empty(0, dtype=np.int32)}

    per_traj = np.asarray(counts, dtype=np.int64)
    linenos = np.repeat(np.asarray(linenos_per_traj, dtype=np.int64),
                        per_traj)
    out: Dict[str, np.ndarray] = {}
    out["object_id"] = _object_ids(np.array(ids, dtype=str),
                                   what="object id", name=name,
                                   linenos=linenos)
    out["t"] = _to_ns(np.array(times, dtype=str), allow_empty=False,
                      what="timestamp", name=name, linenos=linenos)
    for j, axis in enumerate(("x", "y", "z")[:dimension_seen[0]]):
        out[axis] = _to_float(np.array(coords[j], dtype=str), np.float64,
                              allow_empty=False, what=f"coordinate {j + 1}",
                              name=name, linenos=linenos)
    out["traj_id"] = np.repeat(np.arange(len(counts), dtype=np.int32),
                               per_traj)
    for prop_name, (prop_type, _) in prop_types.items():
        raw = np.array(props_raw[prop_name], dtype=str)
        what = f"point property {prop_name!r}"
        if prop_type == _TYPE_REAL:
            col = _to_float(raw, np.float64, allow_empty=True, what=what,
                            name=name, linenos=linenos)
        elif prop_type == _TYPE_TIMESTAMP:
            col = _to_ns(raw, allow_empty=True, what=what, name=name,
                         linenos=linenos)
        else:
            col = raw
        out[_attr_name(prop_name)] = col
    return _sorted_by_object_time(out)


# --------------------------------------------------------------------------
# AIS CSV
# --------------------------------------------------------------------------

def _split_csv_body(lines: List[str], linenos: np.ndarray, ncols: int,
                    name: str, quoted: bool) -> List[np.ndarray]:
    """Split CSV body lines into ``ncols`` str column arrays."""
    if not lines:
        return [np.empty(0, dtype=str) for _ in range(ncols)]
    if not quoted:
        counts = np.fromiter(map(str.count, lines, itertools.repeat(",")),
                             dtype=np.int64, count=len(lines))
        bad = counts != ncols - 1
        if np.any(bad):
            i = int(np.argmax(bad))
            _fail(name, int(linenos[i]),
                  f"wrong field count: expected {ncols} fields as in the "
                  f"header, found {int(counts[i]) + 1}")
        fields = ",".join(lines).split(",")
        return [np.array(fields[j::ncols], dtype=str) for j in range(ncols)]
    # Quoted fields: let the csv module split them.
    reader = csv.reader(lines, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        # Each list item is one line, so line_num indexes ``linenos``.
        i = min(max(reader.line_num - 1, 0), len(linenos) - 1)
        _fail(name, int(linenos[i]), f"malformed CSV quoting ({exc})")
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    bad = lengths != ncols
    if np.any(bad):
        i = int(np.argmax(bad))
        _fail(name, int(linenos[i]),
              f"wrong field count: expected {ncols} fields as in the "
              f"header, found {int(lengths[i])}")
    return [np.array(column, dtype=str) for column in zip(*rows)]


def read_ais_csv(path_or_file: PathOrFile) -> Dict[str, np.ndarray]:
    """Read an AIS point CSV in NOAA/BOEM Marine Cadastre's layout.

    The first line is a header naming the columns, e.g.
    ``MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,``
    ``VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass``; column
    order does not matter and names are matched case-insensitively.
    ``MMSI``, ``BaseDateTime``, ``LAT`` and ``LON`` are required.

    Parameters
    ----------
    path_or_file : str, os.PathLike or file object
        Plain or gzip-compressed CSV data (text or binary mode).

    Returns
    -------
    dict of str to numpy.ndarray
        ``object_id`` (MMSI, ``int64``; ``str`` if some MMSI is not a plain
        integer), ``t`` (``BaseDateTime`` as ``int64`` UTC nanoseconds), ``x``
        (``LON``, ``float64``), ``y`` (``LAT``, ``float64``) and every other
        column under its lower-cased name: ``sog``, ``cog``, ``heading``,
        ``vesseltype``, ``status``, ``length``, ``width``, ``draft`` and
        ``cargo`` as ``float32`` with ``NaN`` where empty; ``vesselname``,
        ``imo``, ``callsign``, the transceiver class and ``eta`` as ``str``;
        other columns as ``float32`` if every non-empty value is a number,
        else ``str``.  Rows are sorted stably by ``(object_id, t)``.

    Raises
    ------
    ValueError
        If the header lacks a required column, a row has the wrong number of
        fields, or an MMSI, number or timestamp does not parse.  The message
        names the file and the line.

    Examples
    --------
    >>> import io
    >>> text = ("MMSI,BaseDateTime,LAT,LON,SOG,VesselName\\n"
    ...         "367000140,2020-06-30T00:01:00,40.64409,-74.07157,,FERRY\\n"
    ...         "367000140,2020-06-30T00:00:00,40.6441,-74.0716,0.5,FERRY\\n")
    >>> cols = read_ais_csv(io.StringIO(text))
    >>> list(cols)
    ['object_id', 't', 'x', 'y', 'sog', 'vesselname']
    >>> cols["y"].tolist(), cols["sog"].tolist()
    ([40.6441, 40.64409], [0.5, nan])
    >>> str(cols["t"].astype("datetime64[ns]")[0])
    '2020-06-30T00:00:00.000000000'
    """
    text, name = _read_text(path_or_file)
    all_lines = text.splitlines()
    # Lengths of the stripped lines, computed without a Python-level loop.
    sizes = np.fromiter(map(len, map(str.strip, all_lines)), dtype=np.int64,
                        count=len(all_lines))
    kept = np.flatnonzero(sizes)
    if kept.size == 0:
        _fail(name, 1, "bad header: the file is empty")
    header_lineno = int(kept[0]) + 1
    header_line = all_lines[kept[0]]
    header = [h.strip().strip('"').strip() for h in header_line.split(",")]
    lowered = [h.lower() for h in header]
    missing = [c for c in _AIS_REQUIRED if c not in lowered]
    if missing:
        want = ", ".join(c.upper() if c != "basedatetime" else "BaseDateTime"
                         for c in missing)
        hint = ""
        if header_line.lstrip().startswith("#"):
            hint = (" (a '#' comment header suggests a tracktable point "
                    "file, which is not an AIS CSV)")
        _fail(name, header_lineno,
              f"bad header: missing column(s) {want}; found "
              f"{header_line[:120]!r}{hint}")
    dupes = sorted({h for h in lowered if lowered.count(h) > 1})
    if dupes or "" in lowered:
        _fail(name, header_lineno,
              "bad header: empty or repeated column name(s) "
              f"{', '.join(repr(d) for d in dupes) or repr('')}")
    ncols = len(header)
    body_index = kept[1:]
    linenos = body_index + 1
    if body_index.size == len(all_lines) - header_lineno:
        body = all_lines[header_lineno:]          # no blank lines to skip
    else:
        body = [all_lines[i] for i in body_index.tolist()]
    tables = _split_csv_body(body, linenos, ncols, name, quoted='"' in text)
    column = dict(zip(lowered, tables))

    out: Dict[str, np.ndarray] = {}
    out["object_id"] = _object_ids(column["mmsi"], what="MMSI", name=name,
                                   linenos=linenos)
    out["t"] = _to_ns(column["basedatetime"], allow_empty=False,
                      what="BaseDateTime", name=name, linenos=linenos)
    out["x"] = _to_float(column["lon"], np.float64, allow_empty=False,
                         what="LON", name=name, linenos=linenos)
    out["y"] = _to_float(column["lat"], np.float64, allow_empty=False,
                         what="LAT", name=name, linenos=linenos)
    for raw_name, key in zip(header, lowered):
        if key in _AIS_REQUIRED:
            continue
        values = column[key]
        if key in _AIS_TEXT:
            col = values
        elif key in _AIS_NUMERIC:
            col = _to_float(values, np.float32, allow_empty=True,
                            what=raw_name, name=name, linenos=linenos)
        else:
            try:
                col = _to_float(values, np.float32, allow_empty=True,
                                what=raw_name, name=name, linenos=linenos)
            except ValueError:
                col = values
        out[_attr_name(key)] = col
    return _sorted_by_object_time(out)


# --------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------

def read_tracktable(path: Union[str, "os.PathLike[str]"]
                    ) -> Dict[str, np.ndarray]:
    """Read a ``.traj`` or AIS ``.csv`` file, choosing the reader by extension.

    Parameters
    ----------
    path : str or os.PathLike
        A file ending in ``.traj`` or ``.csv``, optionally followed by
        ``.gz`` (case-insensitive).

    Returns
    -------
    dict of str to numpy.ndarray
        The columns returned by :func:`read_traj` or :func:`read_ais_csv`.

    Raises
    ------
    ValueError
        If the extension is not recognised, or the file is malformed.

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "one.csv")
    >>> with open(p, "w") as f:
    ...     _ = f.write("MMSI,BaseDateTime,LAT,LON\\n"
    ...                 "1,2020-06-30T00:00:00,1.5,2.5\\n")
    >>> read_tracktable(p)["x"].tolist()
    [2.5]
    """
    name = os.fspath(path)
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    if lower.endswith(".traj"):
        return read_traj(name)
    if lower.endswith(".csv"):
        return read_ais_csv(name)
    raise ValueError(
        f"{name}: unsupported file extension; expected .traj, .csv, "
        ".traj.gz or .csv.gz")
