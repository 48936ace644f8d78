"""MF-JSON (OGC 19-045r3) encoding and decoding: numpy columns <-> MovingFeature documents.

Pure functions, no web framework: decoders turn a parsed JSON body into numpy
arrays (datetimes as int64 UTC nanoseconds) and raise :class:`MFJSONError`
naming the member at fault; encoders turn arrays into the JSON objects of the
standard (``MovingPoint``, ``MovingGeometryCollection``, ``ParametricValues``,
the API's ``TemporalProperty``). Whole arrays are checked and converted at once
(numpy parses the date-times, ``tolist`` builds the coordinate lists): no
Python loop over points.

Numbers a collection stores as float32 are written with their shortest float32
form (12.3, not 12.300000190734863), so what was posted reads back the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chronotope_api.params import iso_array

__all__ = ["MFJSONError", "PropertySpec", "DecodedFeature", "CRS84", "GREGORIAN", "crs_member", "trs_member",
           "check_crs", "check_trs", "parse_datetimes", "decode_moving_point", "decode_temporal_geometry",
           "decode_parametric_values", "decode_temporal_primitive_value", "decode_temporal_property",
           "decode_temporal_properties", "decode_feature", "decode_features", "moving_point", "temporal_geometry",
           "parametric_values", "temporal_primitive_value", "number_list"]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84_URN = "urn:ogc:def:crs:OGC:1.3:CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
_ISO8601_URN = "urn:ogc:data:time:iso8601"
INTERPOLATIONS = ("Discrete", "Step", "Linear")
_MS_NS = 1_000_000
_ASCII_DIGITS = (ord("0"), ord("9"))


class MFJSONError(ValueError):
    """A request body that is not the MF-JSON this server accepts; ``str()`` names the member at fault."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


@dataclass(frozen=True)
class PropertySpec:
    """How a collection's temporal property is described in MF-JSON."""

    name: str
    dtype: np.dtype
    interpolation: str  # Linear, Step or Discrete
    form: str | None = None  # unit of measure: a UN/CEFACT code or a URI
    description: str | None = None

    @property
    def api_type(self) -> str:
        """The TemporalProperty type of OGC API – Moving Features."""
        return {"b": "TBoolean", "f": "TReal"}.get(self.dtype.kind, "TInteger")

    @property
    def mf_type(self) -> str:
        """The ParametricValues type of MF-JSON (booleans are Text values true/false)."""
        return "Text" if self.dtype.kind == "b" else "Measure"


@dataclass
class DecodedFeature:
    """One MovingFeature of a request body, as arrays."""

    id: str | int | None
    t: np.ndarray  # int64 ns, strictly increasing
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray | None
    values: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # property -> (t, values)
    properties: dict | None = None
    has_properties: bool = False  # whether the body had a "properties" object


# ---------------------------------------------------------------- reference systems

def crs_member(crs: str) -> dict:
    """The MF-JSON ``crs`` object of a collection CRS ("EPSG:4326" is stored longitude first: CRS84)."""
    if crs == "EPSG:4326":
        return {"type": "Name", "properties": {"name": CRS84_URN}}
    authority, _, code = crs.partition(":")
    return {"type": "Name", "properties": {"name": f"urn:ogc:def:crs:{authority}::{code}" if code else crs}}


def trs_member() -> dict:
    """The MF-JSON ``trs`` object: UTC date-times of the Gregorian calendar."""
    return {"type": "Link", "properties": {"type": "OGCDEF", "href": GREGORIAN}}


def _crs_names(crs: str) -> set[str]:
    authority, _, code = crs.partition(":")
    names = {crs, f"urn:ogc:def:crs:{authority}::{code}", f"http://www.opengis.net/def/crs/{authority}/0/{code}"}
    if crs == "EPSG:4326":  # coordinates are longitude, latitude
        names |= {CRS84, CRS84_URN, "urn:ogc:def:crs:OGC::CRS84", "OGC:CRS84", "CRS84",
                  "https://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    return names


def check_crs(member, crs: str, where: str = "crs") -> None:
    """Accept a ``crs`` member naming the collection's CRS (absent or null: the default, CRS84)."""
    if member is None:
        if crs != "EPSG:4326":
            raise MFJSONError(where, f"the collection's CRS is {crs}: name it, the default CRS84 does not apply")
        return
    if not isinstance(member, dict) or not isinstance(member.get("properties"), dict):
        raise MFJSONError(where, 'must be {"type": "Name", "properties": {"name": ...}} or a Link object')
    kind, props = member.get("type"), member["properties"]
    name = props.get("name") if kind == "Name" else props.get("href") if kind == "Link" else None
    if not isinstance(name, str):
        raise MFJSONError(where, 'must be {"type": "Name", "properties": {"name": ...}} or a Link object')
    if name not in _crs_names(crs):
        raise MFJSONError(where, f"{name!r} is not the collection's CRS ({crs}); coordinates are not reprojected")


def check_trs(member, where: str = "trs") -> None:
    """Accept a ``trs`` member naming ISO 8601 / the Gregorian calendar (absent or null: the default)."""
    if member is None:
        return
    props = member.get("properties") if isinstance(member, dict) else None
    if isinstance(props, dict) and (props.get("href") in (GREGORIAN, GREGORIAN.replace("http:", "https:"))
                                    or props.get("name") == _ISO8601_URN):
        return
    raise MFJSONError(where, f"only the Gregorian calendar in UTC is supported ({GREGORIAN})")


# ---------------------------------------------------------------- date-times

def parse_datetimes(values, where: str = "datetimes") -> np.ndarray:
    """MF-JSON ``datetimes``: RFC 3339 strings (``Z`` or an offset; up to nanoseconds) or numbers of
    milliseconds since 1970 (not mixed), as int64 UTC nanoseconds."""
    if not isinstance(values, list) or not values:
        raise MFJSONError(where, "must be a non-empty array of RFC 3339 date-times")
    kinds = set(map(type, values))
    if kinds == {str}:
        return _parse_rfc3339(values, where)
    if kinds <= {int, float}:
        ms = np.asarray(values, dtype=np.float64)
        bad = ~np.isfinite(ms) | (np.abs(ms) > 9.2e15)
        if bad.any():
            raise MFJSONError(f"{where}[{int(np.argmax(bad))}]", "is not a time in milliseconds since 1970")
        if kinds == {int}:
            return np.asarray(values, dtype=np.int64) * _MS_NS
        whole = np.floor(ms)  # exact below 2**53 ms; the fraction separately keeps the nanoseconds
        return whole.astype(np.int64) * _MS_NS + np.round((ms - whole) * _MS_NS).astype(np.int64)
    raise MFJSONError(where, "must hold RFC 3339 date-time strings (or only numbers of milliseconds since 1970)")


def _parse_rfc3339(values: list[str], where: str) -> np.ndarray:
    """Vectorised RFC 3339: check the layout column by column on a byte matrix, parse the date and clock
    with numpy, add the fraction and the offset."""
    text = np.asarray(values)
    try:
        raw = text.astype("S")
    except UnicodeEncodeError:
        raw = None
    length = np.char.str_len(text)
    if raw is None or raw.dtype.itemsize < 20:
        return _first_bad(values, np.ones(len(values), bool) if raw is None else length < 20, where)
    n, w = len(raw), raw.dtype.itemsize
    b = np.frombuffer(raw.tobytes(), dtype=np.uint8).reshape(n, w)
    digit = (b >= _ASCII_DIGITS[0]) & (b <= _ASCII_DIGITS[1])
    ok = length >= 20
    for col in (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18):
        ok &= digit[:, col]
    ok &= (b[:, 4] == ord("-")) & (b[:, 7] == ord("-")) & (b[:, 13] == ord(":")) & (b[:, 16] == ord(":"))
    ok &= np.isin(b[:, 10], [ord("T"), ord("t"), ord(" ")])
    rows = np.arange(n)
    last = np.maximum(length - 1, 0)
    zulu = np.isin(b[rows, last], [ord("Z"), ord("z")])
    off = np.maximum(length - 6, 0)
    offset_form = (np.isin(b[rows, off], [ord("+"), ord("-")]) & digit[rows, np.minimum(off + 1, w - 1)]
                   & digit[rows, np.minimum(off + 2, w - 1)] & (b[rows, np.minimum(off + 3, w - 1)] == ord(":"))
                   & digit[rows, np.minimum(off + 4, w - 1)] & digit[rows, np.minimum(off + 5, w - 1)])
    ok &= zulu | offset_form
    end = np.where(zulu, length - 1, length - 6)  # where the fraction (if any) ends
    frac_len = end - 20
    has_frac = end > 19
    ok &= (end >= 19) & (~has_frac | ((b[:, 19] == ord(".")) & (frac_len >= 1) & (frac_len <= 9)))
    pos = np.arange(w)
    in_frac = (pos >= 20) & (pos < end[:, None])
    ok &= ~(in_frac & ~digit).any(axis=1)
    if not ok.all():
        return _first_bad(values, ~ok, where)
    clock = b[:, :19].copy()
    clock[:, 10] = ord("T")
    try:
        seconds = clock.view("S19").ravel().astype("datetime64[s]").astype(np.int64)
    except ValueError:  # a date or clock out of range (month 13, 25:00, Feb 30)
        return _first_valid_date(values, clock, where)
    frac = np.zeros(n, dtype=np.int64)
    for k in range(9):  # nine digit columns, whole arrays each
        col = 20 + k
        d = (b[:, col].astype(np.int64) - ord("0")) if col < w else np.zeros(n, dtype=np.int64)
        frac = frac * 10 + np.where(col < end, d, 0)
    sign = np.where(b[rows, off] == ord("-"), -1, 1)
    hh = (b[rows, np.minimum(off + 1, w - 1)].astype(np.int64) - 48) * 10 + b[rows, np.minimum(off + 2, w - 1)] - 48
    mm = (b[rows, np.minimum(off + 4, w - 1)].astype(np.int64) - 48) * 10 + b[rows, np.minimum(off + 5, w - 1)] - 48
    if (~zulu & ((hh > 23) | (mm > 59))).any():
        return _first_bad(values, ~zulu & ((hh > 23) | (mm > 59)), where)
    offset_ns = np.where(zulu, 0, sign * (hh * 60 + mm) * 60 * 10**9)
    bad = np.abs(seconds * 1e9 + frac - offset_ns) >= 9.2233720368547e18  # int64 nanoseconds: 1677 to 2262
    if bad.any():
        i = int(np.argmax(bad))
        raise MFJSONError(f"{where}[{i}]", f"{values[i]!r} is outside the years 1678 to 2262")
    return seconds * 10**9 + frac - offset_ns


def _first_bad(values, bad: np.ndarray, where: str):
    i = int(np.argmax(bad))
    raise MFJSONError(f"{where}[{i}]", f"{values[i]!r} is not an RFC 3339 date-time such as 2020-12-01T04:00:00Z")


def _first_valid_date(values, clock: np.ndarray, where: str):
    for i, row in enumerate(clock):  # only on the error path: find which one numpy refused
        try:
            np.datetime64(row.tobytes().decode(), "s")
        except ValueError:
            raise MFJSONError(f"{where}[{i}]", f"{values[i]!r} is not a valid date-time") from None
    raise MFJSONError(where, "holds an invalid date-time")


def _increasing(t: np.ndarray, where: str) -> None:
    bad = np.diff(t) <= 0
    if bad.any():
        raise MFJSONError(f"{where}[{int(np.argmax(bad)) + 1}]", "date-times must be strictly increasing")


# ---------------------------------------------------------------- decoding

def _p(where: str) -> str:
    """The prefix for a member of ``where`` (nothing at the top of the body)."""
    return f"{where}." if where else ""


def _object(obj, where: str, what: str) -> dict:
    if not isinstance(obj, dict):
        raise MFJSONError(where, f"must be {what} (a JSON object)")
    return obj


def decode_moving_point(obj, where: str = "temporalGeometry", *, has_z: bool = False, geographic: bool = True):
    """A ``MovingPoint`` (TemporalPrimitiveGeometry) -> (t, x, y, z or None)."""
    obj = _object(obj, where, "a MovingPoint")
    kind = obj.get("type")
    if kind != "MovingPoint":
        if kind in ("MovingLineString", "MovingPolygon", "MovingPointCloud"):
            raise MFJSONError(f"{_p(where)}type", f"{kind} is not supported: a moving feature here is a MovingPoint")
        raise MFJSONError(f"{_p(where)}type", f'must be "MovingPoint", got {kind!r}')
    interpolation = obj.get("interpolation", "Linear")
    if interpolation != "Linear":
        raise MFJSONError(f"{_p(where)}interpolation", f'must be "Linear" (positions between samples are linear), '
                                                   f"got {interpolation!r}")
    for unsupported in ("base", "orientations"):
        if obj.get(unsupported) is not None:
            raise MFJSONError(f"{_p(where)}{unsupported}", "3D models and orientations are not stored by this server")
    t = parse_datetimes(obj.get("datetimes"), f"{_p(where)}datetimes")
    _increasing(t, f"{_p(where)}datetimes")
    coords = obj.get("coordinates")
    if not isinstance(coords, list) or len(coords) != len(t):
        raise MFJSONError(f"{_p(where)}coordinates", f"must hold one position per date-time ({len(t)})")
    try:
        a = np.array(coords)
    except (ValueError, TypeError):
        a = None
    if a is None or a.ndim != 2 or a.shape[1] not in (2, 3) or a.dtype.kind not in "iuf":
        raise MFJSONError(f"{_p(where)}coordinates", "positions must all be [x, y] or all [x, y, z] numbers")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        raise MFJSONError(f"{_p(where)}coordinates[{int(np.argmax(bad))}]", "is not made of finite numbers")
    if geographic:
        bad = (np.abs(a[:, 0]) > 180) | (np.abs(a[:, 1]) > 90)
        if bad.any():
            i = int(np.argmax(bad))
            raise MFJSONError(f"{_p(where)}coordinates[{i}]", f"{coords[i]} is not a longitude, latitude in range")
    z = None
    if a.shape[1] == 3:
        if not has_z:
            raise MFJSONError(f"{_p(where)}coordinates", "the collection has no heights: give [x, y] positions")
        z = a[:, 2].copy()
    return t, a[:, 0].copy(), a[:, 1].copy(), z


def decode_temporal_geometry(obj, where: str = "temporalGeometry", *, has_z: bool = False, geographic: bool = True):
    """A ``MovingPoint`` or a ``MovingGeometryCollection`` of MovingPoints (in time order) -> (t, x, y, z)."""
    obj = _object(obj, where, "a temporal geometry")
    if obj.get("type") != "MovingGeometryCollection":
        return decode_moving_point(obj, where, has_z=has_z, geographic=geographic)
    prisms = obj.get("prisms")
    if not isinstance(prisms, list) or not prisms:
        raise MFJSONError(f"{_p(where)}prisms", "must be a non-empty array of MovingPoint objects")
    parts = [decode_moving_point(p, f"{_p(where)}prisms[{i}]", has_z=has_z, geographic=geographic)
             for i, p in enumerate(prisms)]
    if len({p[3] is None for p in parts}) > 1:
        raise MFJSONError(f"{_p(where)}prisms", "give heights in every prism or in none")
    t = np.concatenate([p[0] for p in parts])
    _increasing(t, f"{_p(where)}prisms (all date-times)")
    z = None if parts[0][3] is None else np.concatenate([p[3] for p in parts])
    return t, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]), z


def _values(raw, n: int, spec: PropertySpec, where: str) -> np.ndarray:
    """Property values (JSON numbers, null for none in a float property, booleans for a bool property)."""
    if not isinstance(raw, list) or len(raw) != n:
        raise MFJSONError(where, f"must hold one value per date-time ({n})")
    kinds = set(map(type, raw))
    kind = spec.dtype.kind
    if kind == "b":
        if kinds != {bool}:
            raise MFJSONError(where, f"{spec.name!r} holds true/false values")
        return np.asarray(raw, dtype=bool)
    if kind == "f":
        if not kinds <= {int, float, type(None)}:
            raise MFJSONError(where, f"{spec.name!r} holds numbers (or null for no value)")
        a = np.asarray(raw, dtype=np.float64)  # null becomes NaN: no value
        info = np.finfo(spec.dtype)
        bad = np.isinf(a) | (np.abs(np.nan_to_num(a)) > info.max)
        if bad.any():
            raise MFJSONError(f"{where}[{int(np.argmax(bad))}]", f"is out of range for {spec.dtype}")
        return a.astype(spec.dtype)
    if not kinds <= {int}:
        raise MFJSONError(where, f"{spec.name!r} holds integers")
    try:
        a = np.asarray(raw, dtype=np.int64)
    except OverflowError:
        raise MFJSONError(where, f"holds an integer out of range for {spec.dtype}") from None
    info = np.iinfo(spec.dtype)
    bad = (a < info.min) | (a > info.max)
    if bad.any():
        raise MFJSONError(f"{where}[{int(np.argmax(bad))}]", f"is out of range for {spec.dtype}")
    return a.astype(spec.dtype)


def _check_interpolation(value, spec: PropertySpec, where: str) -> None:
    if value is not None and value != spec.interpolation:
        raise MFJSONError(where, f"{spec.name!r} is interpolated {spec.interpolation!r} in this collection, "
                                 f"got {value!r}")


def _check_form(value, spec: PropertySpec, where: str) -> None:
    if value is not None and spec.form is not None and value != spec.form:
        raise MFJSONError(where, f"{spec.name!r} is measured in {spec.form!r} in this collection, got {value!r}")


def _spec(name, specs: dict[str, PropertySpec], where: str) -> PropertySpec:
    if not isinstance(name, str) or name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise MFJSONError(where, f"the collection has no temporal property {name!r} (its properties: {known})")
    return specs[name]


def decode_parametric_values(obj, specs: dict[str, PropertySpec], where: str) -> dict[str, tuple]:
    """One MF-JSON ``ParametricValues`` object -> {property: (t, values)}."""
    obj = _object(obj, where, "a ParametricValues object")
    t = parse_datetimes(obj.get("datetimes"), f"{_p(where)}datetimes")
    _increasing(t, f"{_p(where)}datetimes")
    out = {}
    for name, member in obj.items():
        if name == "datetimes":
            continue
        at = f"{_p(where)}{name}"
        spec = _spec(name, specs, at)
        member = _object(member, at, "a property object with type and values")
        want = spec.mf_type
        if member.get("type") != want:
            raise MFJSONError(f"{at}.type", f'must be "{want}" for {spec.name!r}')
        _check_interpolation(member.get("interpolation"), spec, f"{at}.interpolation")
        _check_form(member.get("form"), spec, f"{at}.form")
        out[name] = (t, _values(member.get("values"), len(t), spec, f"{at}.values"))
    if not out:
        raise MFJSONError(where, "names no temporal property")
    return out


def decode_temporal_primitive_value(obj, spec: PropertySpec, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The API's ``TemporalPrimitiveValue`` ({datetimes, values, interpolation}) -> (t, values)."""
    obj = _object(obj, where, "a TemporalPrimitiveValue")
    sub = f"{_p(where)}" if where else ""
    t = parse_datetimes(obj.get("datetimes"), f"{sub}datetimes")
    _increasing(t, f"{sub}datetimes")
    if obj.get("interpolation") not in INTERPOLATIONS:
        raise MFJSONError(f"{sub}interpolation", f"must be one of {', '.join(INTERPOLATIONS)}")
    _check_interpolation(obj["interpolation"], spec, f"{sub}interpolation")
    return t, _values(obj.get("values"), len(t), spec, f"{sub}values")


def decode_temporal_property(obj, specs: dict[str, PropertySpec], where: str) -> dict[str, tuple]:
    """The API's ``TemporalProperty`` ({name, type, form, valueSequence}) -> {name: (t, values)}."""
    obj = _object(obj, where, "a TemporalProperty")
    spec = _spec(obj.get("name"), specs, f"{_p(where)}name")
    if obj.get("type") != spec.api_type:
        raise MFJSONError(f"{_p(where)}type", f'must be "{spec.api_type}" for {spec.name!r}')
    _check_form(obj.get("form"), spec, f"{_p(where)}form")
    seq = obj.get("valueSequence")
    if not isinstance(seq, list) or not seq:
        raise MFJSONError(f"{_p(where)}valueSequence", "must be a non-empty array of TemporalPrimitiveValue objects")
    parts = [decode_temporal_primitive_value(v, spec, f"{_p(where)}valueSequence[{i}]") for i, v in enumerate(seq)]
    t = np.concatenate([p[0] for p in parts])
    _increasing(t, f"{_p(where)}valueSequence (all date-times)")
    return {spec.name: (t, np.concatenate([p[1] for p in parts]))}


def decode_temporal_properties(body, specs: dict[str, PropertySpec], where: str = "") -> dict[str, tuple]:
    """MF-JSON ``TemporalProperties`` (an array of ParametricValues) or the API's TemporalProperty objects,
    one or an array of them -> {property: (t, values)}; a property given twice must not repeat an instant."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise MFJSONError(where, "must name at least one temporal property")
    merged: dict[str, list] = {}
    for i, item in enumerate(items):
        at = f"{where}[{i}]" if isinstance(body, list) else where
        if isinstance(item, dict) and "valueSequence" in item:
            part = decode_temporal_property(item, specs, at)
        else:
            part = decode_parametric_values(item, specs, at)
        for name, tv in part.items():
            merged.setdefault(name, []).append(tv)
    out = {}
    for name, parts in merged.items():
        t = np.concatenate([p[0] for p in parts])
        order = np.argsort(t, kind="stable")
        if (np.diff(t[order]) == 0).any():
            raise MFJSONError(where, f"{name!r} is given twice at the same instant")
        out[name] = (t[order], np.concatenate([p[1] for p in parts])[order])
    return out


def decode_feature(obj, specs: dict[str, PropertySpec], *, crs: str, has_z: bool, where: str = "",
                   crs_default=None, trs_default=None) -> DecodedFeature:
    """An MF-JSON ``MovingFeature`` ("type": "Feature" with a temporalGeometry)."""
    sub = f"{_p(where)}" if where else ""
    obj = _object(obj, where, "a MovingFeature")
    if obj.get("type") != "Feature":
        raise MFJSONError(f"{sub}type",
                          f'must be "Feature" (or a "FeatureCollection" of them), got {obj.get("type")!r}')
    fid = obj.get("id")
    if fid is not None and (isinstance(fid, bool) or not isinstance(fid, (str, int)) or fid == ""):
        raise MFJSONError(f"{sub}id", "must be a non-empty string or an integer")
    check_crs(obj.get("crs", crs_default), crs, f"{sub}crs")
    check_trs(obj.get("trs", trs_default), f"{sub}trs")
    if "temporalGeometry" not in obj:
        raise MFJSONError(f"{sub}temporalGeometry", "is required: the positions of the moving feature")
    t, x, y, z = decode_temporal_geometry(obj["temporalGeometry"], f"{sub}temporalGeometry", has_z=has_z,
                                          geographic=crs == "EPSG:4326")
    props = obj.get("properties")
    if props is not None and not isinstance(props, dict):
        raise MFJSONError(f"{sub}properties", "must be a JSON object or null")
    values = {}
    tprops = obj.get("temporalProperties")
    if tprops is not None:
        if not isinstance(tprops, list):
            raise MFJSONError(f"{sub}temporalProperties", "must be an array of ParametricValues objects")
        if tprops:
            values = decode_temporal_properties(tprops, specs, f"{sub}temporalProperties")
    return DecodedFeature(fid, t, x, y, z, values, props, props is not None)


def decode_features(body, specs: dict[str, PropertySpec], *, crs: str, has_z: bool) -> list[DecodedFeature]:
    """A request body holding one MovingFeature or a FeatureCollection of them."""
    body = _object(body, "", "a MovingFeature or a FeatureCollection")
    if body.get("type") != "FeatureCollection":
        return [decode_feature(body, specs, crs=crs, has_z=has_z)]
    features = body.get("features")
    if not isinstance(features, list) or not features:
        raise MFJSONError("features", "must be a non-empty array of MovingFeature objects")
    check_crs(body.get("crs"), crs)
    check_trs(body.get("trs"))
    return [decode_feature(f, specs, crs=crs, has_z=has_z, where=f"features[{i}]", crs_default=body.get("crs"),
                           trs_default=body.get("trs")) for i, f in enumerate(features)]


# ---------------------------------------------------------------- encoding

def number_list(values: np.ndarray) -> list:
    """JSON numbers of a column: NaN as null, float32 in its shortest form, integers and booleans as such."""
    v = np.asarray(values)
    if v.dtype.kind != "f":
        return v.tolist()
    out = v.astype(str).astype(np.float64) if v.dtype.itemsize < 8 else v.astype(np.float64)
    nan = np.isnan(out)
    if nan.any():
        return np.where(nan, None, out).tolist()
    return out.tolist()


def _positions(x, y, z) -> list:
    if z is not None and np.isfinite(z).all():
        return np.column_stack([x, y, z]).tolist()
    return np.column_stack([x, y]).tolist()  # heights unknown (NaN) for some samples: positions stay 2-D


def moving_point(t, x, y, z=None, **members) -> dict:
    """A ``MovingPoint`` (Linear interpolation) from sample arrays; ``members`` are added first (e.g. id)."""
    return {**members, "type": "MovingPoint", "datetimes": iso_array(t), "coordinates": _positions(x, y, z),
            "interpolation": "Linear"}


def temporal_geometry(t, x, y, z, starts: np.ndarray) -> dict:
    """The feature's temporal geometry: one MovingPoint, or a ``MovingGeometryCollection`` of one
    MovingPoint per primitive (``starts``: the first sample of each)."""
    if len(starts) <= 1:
        return moving_point(t, x, y, z)
    ends = np.r_[starts[1:], len(t)]
    return {"type": "MovingGeometryCollection",
            "prisms": [moving_point(t[a:b], x[a:b], y[a:b], None if z is None else z[a:b])
                       for a, b in zip(starts.tolist(), ends.tolist())]}


def parametric_values(t: np.ndarray, columns: dict[str, np.ndarray], specs: dict[str, PropertySpec]) -> list:
    """MF-JSON ``TemporalProperties``: one ParametricValues object per set of properties that have values at
    the same instants (a float property has none where it is NaN); properties with no value are left out."""
    groups: dict[bytes, list[str]] = {}
    masks = {}
    for name, col in columns.items():
        has = ~np.isnan(col) if col.dtype.kind == "f" else np.ones(len(col), dtype=bool)
        if has.any():
            masks[name] = has
            groups.setdefault(np.packbits(has).tobytes() + len(has).to_bytes(8, "little"), []).append(name)
    out = []
    for names in groups.values():
        has = masks[names[0]]
        obj = {"datetimes": iso_array(t[has])}
        for name in names:
            spec = specs[name]
            obj[name] = {"type": spec.mf_type, "values": number_list(columns[name][has]),
                         "interpolation": spec.interpolation, **_described(spec)}
        out.append(obj)
    return out


def _described(spec: PropertySpec) -> dict:
    extra = {}
    if spec.form is not None:
        extra["form"] = spec.form
    if spec.description is not None:
        extra["description"] = spec.description
    return extra


def temporal_primitive_value(t: np.ndarray, values: np.ndarray, interpolation: str) -> dict:
    """The API's ``TemporalPrimitiveValue``."""
    return {"datetimes": iso_array(t), "values": number_list(values), "interpolation": interpolation}


def temporal_property(spec: PropertySpec, value_sequence: list | None = None, **members) -> dict:
    """The API's ``TemporalProperty`` (without ``valueSequence`` when None: the static description)."""
    out = {"name": spec.name, "type": spec.api_type, **_described(spec)}
    if value_sequence is not None:
        out["valueSequence"] = value_sequence
    return {**out, **members}
