"""A moving feature's temporal geometry and temporal properties (OGC API – Moving Features, clause 8).

- ``/tgsequence``: the feature's track as a sequence of temporal primitive
  geometries (MovingPoints), cut at gaps longer than the collection's
  ``max_gap``; ``tGeometryId`` is the primitive's position in that sequence,
  ``0`` for the first, over every sample the principal may see.
- ``/tgsequence/{tGeometryId}/distance|velocity|acceleration``: curves derived
  from the primitive's positions (metres, m/s, m/s² for longitude/latitude).
- ``/tproperties`` and ``/tproperties/{tPropertyName}``: the numeric columns the
  collection samples with the positions; a property's values are cut into
  temporal primitive values at gaps longer than ``max_gap`` the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response

from chronotope.errors import InvalidArgumentError
from chronotope.spatial import in_boxes
from chronotope_api import mfjson, motion, params
from chronotope_api.deps import Access, require
from chronotope_api.mfjson import MFJSONError, PropertySpec
from chronotope_api.ogc_common import (bounded, collection_of, created, crs_and_trs, errors, feature_id, feature_url,
                                       json_response, offset_of, page_links, parse_flag, parse_leaf, parse_limit,
                                       property_specs, timestamp, unprocessable, visible_track, with_values)
from chronotope_api.ogc_items import BBOX, COLLECTION_ID, CURSOR, DATETIME, FEATURE_ID, LIMIT, SUB_TRAJECTORY
from chronotope_api.ogc_schemas import (EXAMPLES, MovingPointInput, ParametricValues, TemporalGeometrySequence,
                                        TemporalPrimitiveValueInput, TemporalProperties, TemporalProperty,
                                        TemporalPropertyInput, inline_schema)
from chronotope_api.problems import Problem

__all__ = ["router"]

router = APIRouter()
_GEOMETRY, _QUERY, _PROPERTY = ["TemporalGeometry"], ["TemporalGeometryQuery"], ["TemporalProperty"]
_I64 = np.iinfo(np.int64)

LEAF = Query(None, description="comma-separated RFC 3339 instants, strictly increasing: the positions (or values) "
                               "at these instants, interpolated; not with subTrajectory/subTemporalValue",
             openapi_examples={"two": {"summary": "two instants",
                                       "value": "2020-12-01T04:50:00Z,2020-12-01T04:52:00Z"}})
SUB_TEMPORAL_VALUE = Query(None, alias="subTemporalValue",
                           description="true: the values over the datetime interval (which must be bounded), "
                                       "values at its ends interpolated",
                           json_schema_extra={"type": "boolean"},
                           openapi_examples={"yes": {"summary": "clip to the interval", "value": "true"}})
T_GEOMETRY_ID = Path(description="the temporal primitive geometry: its position in the feature's tgsequence (0 is "
                                 "the first)", examples=["0"])
T_PROPERTY_NAME = Path(description="a temporal property the collection declares", examples=["sog"])


def _json_body(schema: dict, examples: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema,
                                                                               "examples": examples}}}}


def _interval(interval) -> tuple[int, int]:
    if interval is None:
        return int(_I64.min), int(_I64.max)
    lo, hi = interval
    return (int(_I64.min) if lo is None else lo), (int(_I64.max) if hi is None else hi)


def _exclusive(leaf, flag: bool, name: str) -> None:
    if leaf is not None and flag:
        raise InvalidArgumentError(f"leaf and {name} cannot be used together")


def _gap(coll) -> int:
    return int(coll.max_gap.astype(np.int64))


def _ends(starts: np.ndarray, n: int) -> np.ndarray:
    return np.r_[starts[1:], n].astype(np.int64)


def _values_at(values: np.ndarray, t: np.ndarray, starts: np.ndarray, at: np.ndarray, interpolation: str,
               wrap: bool = False):
    """(instants, values) at the instants of ``at`` some primitive covers, read as ``interpolation`` says
    (Discrete: only where a value is)."""
    idx, frac = motion.locate(t, starts, at)
    ok = idx >= 0
    if interpolation == "Discrete":
        ok &= frac == 0
    idx, frac, at = idx[ok], frac[ok], at[ok]
    if interpolation == "Linear":
        return at, motion.linear(values, idx, frac, wrap=wrap)
    return at, motion.step(values, idx)


# ---------------------------------------------------------------- temporal geometry


@router.get("/collections/{collectionId}/items/{mFeatureId}/tgsequence", tags=_GEOMETRY,
            summary="The temporal geometry of a moving feature", response_model=TemporalGeometrySequence,
            responses={**errors(400, 401, 403, 404),
                       200: {"content": {"application/json": {"example": EXAMPLES["tgsequence"]}}}},
            description="The feature's track as MovingPoints, one per temporal primitive (a gap longer than the "
                        "collection's max_gap starts a new one), each with its `id`. `datetime` selects the "
                        "primitives it meets, `bbox` those with a sample inside it (and in `datetime`), `leaf` "
                        "gives positions at instants, `subTrajectory=true` clips to the bounded `datetime`. "
                        "`limit` counts primitives.")
def tgsequence(request: Request, collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
               bbox: str | None = BBOX, datetime: str | None = DATETIME, limit: str = LIMIT,
               leaf: str | None = LEAF, subTrajectory: str = SUB_TRAJECTORY,  # noqa: N803
               cursor: str | None = CURSOR, access: Access = Depends(require("reader"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    box, interval, n = params.bbox(bbox), params.datetime_interval(datetime), parse_limit(limit)
    at, sub = parse_leaf(leaf), parse_flag(subTrajectory, "subTrajectory")
    _exclusive(at, sub, "subTrajectory")
    window = bounded(interval, "subTrajectory") if sub else None
    offset = offset_of(cursor)
    rows = visible_track(access, coll, fid)
    t, x, y, z = rows["t"], rows["x"], rows["y"], rows.get("z")
    starts = motion.starts_of(t, _gap(coll))
    ends = _ends(starts, len(t))
    lo, hi = _interval(interval)
    chosen = (t[starts] <= hi) & (t[ends - 1] >= lo)
    if box is not None:
        inside = in_boxes(x, y, box) & (t >= lo) & (t <= hi)
        chosen &= np.logical_or.reduceat(inside, starts)
    if at is not None:
        idx, _ = motion.locate(t, starts, at)
        labels = motion.labels_of(len(t), starts)
        chosen &= np.isin(np.arange(len(starts)), labels[idx[idx >= 0]])
    chosen = np.flatnonzero(chosen)
    page = chosen[offset:offset + n]
    geographic = coll.crs == "EPSG:4326"
    refs = crs_and_trs(coll)
    sequence = []
    for k in page.tolist():  # one temporal primitive each
        a, b = int(starts[k]), int(ends[k])
        pt, px, py, pz = t[a:b], x[a:b], y[a:b], None if z is None else z[a:b]
        if window is not None or at is not None:
            one = np.zeros(1, dtype=np.int64)
            want = motion.window_instants(pt, one, *window) if window is not None else at
            idx, frac = motion.locate(pt, one, want)
            keep = idx >= 0
            idx, frac, pt = idx[keep], frac[keep], want[keep]
            px, py = motion.linear(px, idx, frac, wrap=geographic), motion.linear(py, idx, frac)
            pz = None if pz is None else motion.linear(pz, idx, frac)
        sequence.append({**mfjson.moving_point(pt, px, py, pz, id=str(k)), **refs})
    more = offset + n < len(chosen)
    return json_response({"type": "TemporalGeometrySequence", "geometrySequence": sequence,
                          "links": page_links(request, {"o": offset + n} if more else None),
                          "timeStamp": timestamp(), "numberMatched": int(len(chosen)),
                          "numberReturned": len(sequence)})


@router.post("/collections/{collectionId}/items/{mFeatureId}/tgsequence", tags=_GEOMETRY, status_code=201,
             summary="Add positions to a moving feature (writer)", response_class=Response,
             responses={**errors(400, 401, 403, 404, 409, 422),
                        201: {"description": "stored; `Location` names the temporal geometry holding them"}},
             openapi_extra=_json_body(inline_schema(MovingPointInput), {"point": {"summary": "a MovingPoint",
                                                                             "value": EXAMPLES["moving_point"]}}),
             description="Appends an MF-JSON MovingPoint to the feature's track. As the standard asks, it must "
                         "begin after the feature's last sample (409 otherwise; the bulk ingest accepts late "
                         "samples). Positions within max_gap of the last sample extend the last temporal "
                         "geometry, later ones start a new one.")
def add_positions(request: Request, collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
                  body: Any = Body(None), access: Access = Depends(require("writer"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    try:
        t, x, y, z = mfjson.decode_moving_point(body, "", has_z=coll.has_z, geographic=coll.crs == "EPSG:4326")
    except MFJSONError as exc:
        raise unprocessable(exc) from None
    visible_track(access, coll, fid)  # 404 unless the feature exists for this principal
    last = int(coll.track(fid, columns=["t"])["t"].view(np.int64)[-1])
    if t[0] <= last:
        raise Problem(409, f"the new positions must begin after the feature's last sample ({params.iso(last)})")
    access.scope.check_write(t, x, y)
    try:
        coll.append(fid, t, x, y, z)
    except InvalidArgumentError as exc:
        raise Problem(422, str(exc)) from None
    after = visible_track(access, coll, fid)["t"]
    starts = motion.starts_of(after, _gap(coll))
    k = int(motion.labels_of(len(after), starts)[np.searchsorted(after, t[0])])
    return created([feature_url(request, coll.name, fid, "tgsequence", str(k))])


def _derived(kind: str, unit: str, interpolation: str):
    """The route answering one derived curve of a temporal primitive geometry."""

    def curve(request: Request, collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
              tGeometryId: str = T_GEOMETRY_ID, datetime: str | None = DATETIME,  # noqa: N803
              leaf: str | None = LEAF, subTemporalValue: str = SUB_TEMPORAL_VALUE,  # noqa: N803
              access: Access = Depends(require("reader"))):
        coll = collection_of(access)
        fid = feature_id(coll, mFeatureId)
        interval, at = params.datetime_interval(datetime), parse_leaf(leaf)
        sub = parse_flag(subTemporalValue, "subTemporalValue")
        _exclusive(at, sub, "subTemporalValue")
        window = bounded(interval, "subTemporalValue") if sub else None
        rows = visible_track(access, coll, fid, derive=True)
        t = rows["t"]
        starts = motion.starts_of(t, _gap(coll))
        if not (tGeometryId.isdigit() and int(tGeometryId) < len(starts)):
            raise Problem(404, f"no temporal geometry {tGeometryId!r} in moving feature {fid!r}")
        k = int(tGeometryId)
        a, b = int(starts[k]), int(_ends(starts, len(t))[k])
        values = motion.derived(t, rows["speed"], starts)[kind][a:b]
        known = ~np.isnan(values)
        pt, pv = t[a:b][known], values[known]
        one = np.zeros(1, dtype=np.int64)
        if window is not None:
            pt, pv = _values_at(pv, pt, one, motion.window_instants(pt, one, *window), interpolation)
        elif at is not None:
            pt, pv = _values_at(pv, pt, one, at, interpolation)
        else:
            lo, hi = _interval(interval)
            keep = (pt >= lo) & (pt <= hi)
            pt, pv = pt[keep], pv[keep]
        seq = [mfjson.temporal_primitive_value(pt, pv, interpolation)] if len(pt) else []
        doc = {"name": kind, "type": "TReal", **({"form": unit} if coll.crs == "EPSG:4326" else {}),
               "valueSequence": seq}
        return json_response(doc)

    return curve


for _kind, _unit, _interp, _what in (
        ("distance", "MTR", "Linear", "the distance travelled since the first position of the temporal geometry "
                                      "(metres, linear between samples)"),
        ("velocity", "MTS", "Step", "the speed (m/s) from each sample to the next (a step curve)"),
        ("acceleration", "MSK", "Linear", "the change of speed (m/s²) at each sample, between the steps before "
                                          "and after it")):
    router.add_api_route(
        f"/collections/{{collectionId}}/items/{{mFeatureId}}/tgsequence/{{tGeometryId}}/{_kind}",
        _derived(_kind, _unit, _interp), methods=["GET"], tags=_QUERY, response_model=TemporalProperty,
        summary=f"The {_kind} curve of a temporal geometry", name=f"tgsequence_{_kind}",
        responses={**errors(400, 401, 403, 404), 200: {"content": {"application/json": {"example": EXAMPLES[_kind]}}}},
        description=f"A TemporalProperty of type TReal: {_what}. `datetime` keeps the values in it, `leaf` reads "
                    "the curve at instants, `subTemporalValue=true` clips it to the bounded `datetime`. "
                    "Units are given (`form`) for longitude/latitude collections.")


# ---------------------------------------------------------------- temporal properties


def _property_series(spec: PropertySpec, rows: dict) -> tuple[np.ndarray, np.ndarray]:
    """A property's instants and values (a float property has none where it is NaN)."""
    col = rows[spec.name]
    has = ~np.isnan(col) if col.dtype.kind == "f" else np.ones(len(col), dtype=bool)
    return rows["t"][has], col[has]


def _clipped(spec: PropertySpec, t: np.ndarray, v: np.ndarray, gap: int, window) -> tuple[np.ndarray, np.ndarray]:
    starts = motion.starts_of(t, gap)
    return _values_at(v, t, starts, motion.window_instants(t, starts, *window), spec.interpolation)


@router.get("/collections/{collectionId}/items/{mFeatureId}/tproperties", tags=_PROPERTY,
            summary="The temporal properties of a moving feature", response_model=TemporalProperties,
            responses={**errors(400, 401, 403, 404),
                       200: {"content": {"application/json": {"example": EXAMPLES["tproperties"]}}}},
            description="The temporal properties the feature has values of (in `datetime`, when given): their "
                        "name, type and unit. With `subTemporalValue=true` and a bounded `datetime`, the values "
                        "over that interval as MF-JSON ParametricValues instead. `limit` counts properties.")
def tproperties(request: Request, collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
                datetime: str | None = DATETIME, limit: str = LIMIT,
                subTemporalValue: str = SUB_TEMPORAL_VALUE,  # noqa: N803
                cursor: str | None = CURSOR, access: Access = Depends(require("reader"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    interval, n = params.datetime_interval(datetime), parse_limit(limit)
    window = bounded(interval, "subTemporalValue") if parse_flag(subTemporalValue, "subTemporalValue") else None
    offset = offset_of(cursor)
    rows = visible_track(access, coll, fid)
    lo, hi = _interval(interval)
    found = []
    for spec in property_specs(coll).values():  # one per declared property
        t, v = _property_series(spec, rows)
        if window is not None:
            t, v = _clipped(spec, t, v, _gap(coll), window)
            if len(t):
                found.append({"datetimes": params.iso_array(t), spec.name: {
                    "type": spec.mf_type, "values": mfjson.number_list(v), "interpolation": spec.interpolation,
                    **({"form": spec.form} if spec.form else {})}})
        elif ((t >= lo) & (t <= hi)).any():
            url = feature_url(request, coll.name, fid, "tproperties", spec.name)
            found.append(mfjson.temporal_property(spec, links=[{"href": url, "rel": "self",
                                                                "type": "application/json"}]))
    page = found[offset:offset + n]
    more = offset + n < len(found)
    return json_response({"temporalProperties": page,
                          "links": page_links(request, {"o": offset + n} if more else None),
                          "timeStamp": timestamp(), "numberMatched": len(found), "numberReturned": len(page)})


@router.post("/collections/{collectionId}/items/{mFeatureId}/tproperties", tags=_PROPERTY, status_code=201,
             summary="Add temporal property values (writer)", response_class=Response,
             responses={**errors(400, 401, 403, 404, 422),
                        201: {"description": "stored; `Locations` names each property given"}},
             openapi_extra=_json_body(
                 {"oneOf": [{"type": "array", "minItems": 1, "items": {
                     "anyOf": [inline_schema(ParametricValues), inline_schema(TemporalPropertyInput)]}},
                     inline_schema(ParametricValues), inline_schema(TemporalPropertyInput)]},
                 {"parametric": {"summary": "MF-JSON TemporalProperties", "value": EXAMPLES["parametric_values"]},
                  "property": {"summary": "a TemporalProperty",
                               "value": {"name": "sog", "type": "TReal",
                                         "valueSequence": [EXAMPLES["temporal_primitive_value"]]}}}),
             description="Sets values of the collection's temporal properties: MF-JSON TemporalProperties (an "
                         "array of ParametricValues) or TemporalProperty objects. A value at an instant the "
                         "feature has a sample at is stored with that sample; at another instant, with the "
                         "position interpolated along the track (422 where the track does not cover it).")
def add_tproperties(request: Request, collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
                    body: Any = Body(None), access: Access = Depends(require("writer"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    specs = property_specs(coll)
    try:
        posted = mfjson.decode_temporal_properties(body, specs)
    except MFJSONError as exc:
        raise unprocessable(exc) from None
    rows = visible_track(access, coll, fid)
    _store_values(access, coll, fid, rows, posted, specs)
    return created([feature_url(request, coll.name, fid, "tproperties", name) for name in posted])


def _store_values(access, coll, fid, rows: dict, posted: dict, specs: dict) -> None:
    new = with_values(rows, posted, specs, max_gap=_gap(coll), geographic=coll.crs == "EPSG:4326",
                      has_z=coll.has_z)
    access.scope.check_write(new["t"], new["x"], new["y"])
    try:
        coll.append(fid, new.pop("t"), new.pop("x"), new.pop("y"), new.pop("z", None), **new)
    except InvalidArgumentError as exc:
        raise Problem(422, str(exc)) from None


def _spec_of(coll, name: str) -> PropertySpec:
    specs = property_specs(coll)
    if name not in specs:
        raise Problem(404, f"collection {coll.name!r} has no temporal property {name!r}")
    return specs[name]


@router.get("/collections/{collectionId}/items/{mFeatureId}/tproperties/{tPropertyName}", tags=_PROPERTY,
            summary="The values of one temporal property", response_model=TemporalProperty,
            responses={**errors(400, 401, 403, 404),
                       200: {"content": {"application/json": {"example": EXAMPLES["tproperty"]}}}},
            description="A TemporalProperty whose valueSequence holds one TemporalPrimitiveValue per run of "
                        "values without a gap longer than max_gap. `datetime` selects the runs it meets, `leaf` "
                        "reads values at instants, `subTemporalValue=true` clips to the bounded `datetime`. "
                        "`limit` counts the runs; the `next` link goes on.")
def tproperty(request: Request, collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
              tPropertyName: str = T_PROPERTY_NAME, datetime: str | None = DATETIME,  # noqa: N803
              limit: str = LIMIT, leaf: str | None = LEAF,
              subTemporalValue: str = SUB_TEMPORAL_VALUE,  # noqa: N803
              cursor: str | None = CURSOR, access: Access = Depends(require("reader"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    spec = _spec_of(coll, tPropertyName)
    interval, n, at = params.datetime_interval(datetime), parse_limit(limit), parse_leaf(leaf)
    sub = parse_flag(subTemporalValue, "subTemporalValue")
    _exclusive(at, sub, "subTemporalValue")
    window = bounded(interval, "subTemporalValue") if sub else None
    offset = offset_of(cursor)
    t, v = _property_series(spec, visible_track(access, coll, fid))
    if not len(t):
        raise Problem(404, f"moving feature {fid!r} has no values of {spec.name!r}")
    starts = motion.starts_of(t, _gap(coll))
    ends = _ends(starts, len(t))
    lo, hi = _interval(interval)
    chosen = np.flatnonzero((t[starts] <= hi) & (t[ends - 1] >= lo))
    page = chosen[offset:offset + n]
    one = np.zeros(1, dtype=np.int64)
    sequence = []
    for k in page.tolist():  # one run of values each
        pt, pv = t[starts[k]:ends[k]], v[starts[k]:ends[k]]
        if window is not None:
            pt, pv = _values_at(pv, pt, one, motion.window_instants(pt, one, *window), spec.interpolation)
        elif at is not None:
            pt, pv = _values_at(pv, pt, one, at, spec.interpolation)
        if len(pt):
            sequence.append(mfjson.temporal_primitive_value(pt, pv, spec.interpolation))
    more = offset + n < len(chosen)
    return json_response(mfjson.temporal_property(spec, sequence, links=page_links(
        request, {"o": offset + n} if more else None)))


@router.post("/collections/{collectionId}/items/{mFeatureId}/tproperties/{tPropertyName}", tags=_PROPERTY,
             status_code=201, summary="Add values to one temporal property (writer)", response_class=Response,
             responses={**errors(400, 401, 403, 404, 409, 422),
                        201: {"description": "stored; `Location` names the temporal property"}},
             openapi_extra=_json_body(inline_schema(TemporalPrimitiveValueInput), {"values": {
                 "summary": "a TemporalPrimitiveValue", "value": EXAMPLES["temporal_primitive_value"]}}),
             description="Appends a TemporalPrimitiveValue. As the standard asks, it must begin after the "
                         "property's last value (409 otherwise; POST to /tproperties to set values at any "
                         "instant). Values are stored with the samples at their instants, or with positions "
                         "interpolated along the track.")
def add_tproperty_values(request: Request, collectionId: str = COLLECTION_ID,  # noqa: N803
                         mFeatureId: str = FEATURE_ID, tPropertyName: str = T_PROPERTY_NAME,  # noqa: N803
                         body: Any = Body(None), access: Access = Depends(require("writer"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    spec = _spec_of(coll, tPropertyName)
    try:
        t, v = mfjson.decode_temporal_primitive_value(body, spec)
    except MFJSONError as exc:
        raise unprocessable(exc) from None
    rows = visible_track(access, coll, fid)
    stored = coll.track(fid, columns=["t", spec.name]).to_dict()
    known, _ = _property_series(spec, {"t": stored["t"].view(np.int64), spec.name: stored[spec.name]})
    if len(known) and t[0] <= known[-1]:
        raise Problem(409, f"the new values must begin after the last value of {spec.name!r} "
                           f"({params.iso(known[-1])})")
    _store_values(access, coll, fid, rows, {spec.name: (t, v)}, property_specs(coll))
    return created([feature_url(request, coll.name, fid, "tproperties", spec.name)])
