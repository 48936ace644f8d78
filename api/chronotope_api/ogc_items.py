"""Moving features: ``/collections/{collectionId}/items`` (GET, POST) and ``/items/{mFeatureId}`` (GET, DELETE).

A moving feature is an id with samples: it exists while it has samples the
principal may see. Its ``properties`` are its document (``set_properties``),
its temporal geometry the samples cut into temporal primitives at gaps longer
than the collection's ``max_gap``.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response

from chronotope.documents import diff as check_document
from chronotope.errors import InvalidArgumentError
from chronotope_api import mfjson, motion, params
from chronotope_api.deps import Access, OutsideScope, require
from chronotope_api.mfjson import MFJSONError
from chronotope_api.ogc_common import (bounded, collection_of, created, crs_and_trs, errors, feature_id, feature_url,
                                       json_response, page_links, parse_flag, parse_limit, property_specs,
                                       timestamp, unprocessable, visible_track, with_values)
from chronotope_api.ogc_schemas import EXAMPLES, MovingFeature, MovingFeatureInput, MovingFeatures, inline_schema
from chronotope_api.problems import Problem

__all__ = ["router", "COLLECTION_ID", "FEATURE_ID", "BBOX", "DATETIME", "LIMIT", "CURSOR", "feature_doc"]

router = APIRouter(tags=["MovingFeatures"])

COLLECTION_ID = Path(description="the collection's id", examples=["ais"])
FEATURE_ID = Path(description="the moving feature's id (an integer or a string, as the collection stores them)",
                  examples=["367000150"])
BBOX = Query(None, description="minLon,minLat,maxLon,maxLat (a west edge greater than the east one crosses the "
                               "antimeridian; 6 numbers: heights ignored). Only features with a sample inside are "
                               "selected.",
             openapi_examples={"harbour": {"summary": "Upper New York Bay", "value": "-74.08,40.62,-74.00,40.70"}})
DATETIME = Query(None, description="an RFC 3339 instant, or an interval start/end with '..' for an open end. "
                                   "Only features present in it (a sample inside, or positions interpolated across "
                                   "it) are selected.",
                 openapi_examples={"interval": {"summary": "a morning",
                                                "value": "2020-12-01T06:00:00Z/2020-12-01T12:00:00Z"},
                                   "instant": {"summary": "an instant", "value": "2020-12-03T12:00:00Z"},
                                   "open": {"summary": "from an instant on", "value": "2020-12-06T00:00:00Z/.."}})
# limit and the true/false flags are read as text (a bad value is a 400 problem, as the standard has it); their
# parameters are declared `str` without None so that the documented schema is the integer or boolean alone
LIMIT = Query(None, description="the most items on a page: 1 to 10000 (default 10); the `next` link goes on",
              json_schema_extra={"type": "integer", "minimum": 1, "maximum": 10000, "default": 10},
              openapi_examples={"ten": {"summary": "ten", "value": 10}})
CURSOR = Query(None, description="the opaque position of a page: take it from a `next` link",
               openapi_examples={"next": {"summary": "as a next link gives it", "value": "eyJhIjozNjcwMDAxNTB9"}})
SUB_TRAJECTORY = Query(None, alias="subTrajectory",
                       description="true: each feature's temporalGeometry over the datetime interval (which must "
                                   "be bounded), positions at its ends interpolated",
                       json_schema_extra={"type": "boolean"},
                       openapi_examples={"yes": {"summary": "with the sub-trajectories", "value": "true"}})
_FEATURE_BODY = {"required": True, "content": {"application/json": {
    "schema": {"oneOf": [inline_schema(MovingFeatureInput), {
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"const": "FeatureCollection"},
                       "features": {"type": "array", "minItems": 1, "items": inline_schema(MovingFeatureInput)}}}]},
    "examples": {"feature": {"summary": "one moving feature", "value": EXAMPLES["feature"]},
                 "collection": {"summary": "a FeatureCollection of them",
                                "value": {"type": "FeatureCollection", "features": [EXAMPLES["feature"]]}}}}}}


def _matching_ids(coll, scope, bbox, interval) -> np.ndarray:
    """The sorted ids of the features the request selects (and the grant lets the principal see)."""
    if bbox is None and interval is None and not scope.limited:
        return np.unique(coll.ids())
    cols = ["object_id", "t", "x", "y"]
    found = [scope.filter(coll.query(bbox=bbox, time=interval, columns=cols))]
    if interval is not None and interval[0] is not None:
        # present at the start by interpolation, with no sample inside: seen by a snapshot
        found.append(scope.filter(coll.snapshot(at=np.datetime64(interval[0], "ns"), bbox=bbox, columns=cols)))
    return np.unique(np.concatenate([r["object_id"] for r in found]))


def _after(ids: np.ndarray, cursor: str | None) -> int:
    """Where a page starts: after the last id of the previous page (stable while features come and go)."""
    if cursor is None:
        return 0
    state = params.decode_cursor(cursor)
    last = state.get("a")
    ok = isinstance(last, str) if ids.dtype.kind == "U" else isinstance(last, int) and not isinstance(last, bool)
    if not ok and len(ids):
        raise InvalidArgumentError("cursor is not one this server issued")
    return int(np.searchsorted(ids, last, side="right")) if len(ids) else 0


def _summary(t, x, y, z) -> dict:
    box = [float(x.min()), float(y.min()), float(x.max()), float(y.max())]
    if z is not None and np.isfinite(z).any():
        box = box[:2] + [float(np.nanmin(z))] + box[2:] + [float(np.nanmax(z))]
    return {"bbox": box, "time": params.iso_array(np.array([t[0], t[-1]]))}


def feature_doc(request: Request, coll, fid, rows: dict, *, full: bool, window=None) -> dict:
    """A MovingFeature: its document as properties, crs/trs, bbox and life span, links; with ``full`` its
    temporal geometry and properties; with ``window`` (t0, t1) the temporal geometry over it only."""
    t, x, y, z = rows["t"], rows["x"], rows["y"], rows.get("z")
    doc = {"type": "Feature", "id": fid.item() if isinstance(fid, np.generic) else fid,
           "properties": coll.properties(fid), **crs_and_trs(coll), **_summary(t, x, y, z)}
    gap = int(coll.max_gap.astype(np.int64))
    starts = motion.starts_of(t, gap)
    if full:
        doc["temporalGeometry"] = mfjson.temporal_geometry(t, x, y, z, starts)
        specs = property_specs(coll)
        tprops = mfjson.parametric_values(t, {n: rows[n] for n in specs}, specs)
        if tprops:
            doc["temporalProperties"] = tprops
    elif window is not None:
        at = motion.window_instants(t, starts, *window)
        if len(at):
            idx, frac = motion.locate(t, starts, at)
            labels = motion.labels_of(len(t), starts)[idx]
            sub_starts = np.flatnonzero(np.r_[True, np.diff(labels) != 0])
            geographic = coll.crs == "EPSG:4326"
            doc["temporalGeometry"] = mfjson.temporal_geometry(
                at, motion.linear(x, idx, frac, wrap=geographic), motion.linear(y, idx, frac),
                None if z is None else motion.linear(z, idx, frac), sub_starts)
    url = feature_url(request, coll.name, doc["id"])
    doc["links"] = [{"href": url, "rel": "self", "type": "application/json"},
                    {"href": f"{url}/tgsequence", "rel": "tgsequence", "type": "application/json",
                     "title": "the temporal geometry"},
                    {"href": f"{url}/tproperties", "rel": "tproperties", "type": "application/json",
                     "title": "the temporal properties"}]
    return doc


@router.get("/collections/{collectionId}/items", summary="The moving features of a collection",
            response_model=MovingFeatures,
            responses={**errors(400, 401, 403, 404),
                       200: {"content": {"application/json": {"example": EXAMPLES["features"]}}}},
            description="A page of moving features (MF-JSON FeatureCollection) ordered by id, each with its "
                        "properties, bounding box and life span; with `subTrajectory=true` also its temporal "
                        "geometry over the `datetime` interval. `numberMatched` counts every page; follow the "
                        "`next` link for the rest.")
def items(request: Request, collectionId: str = COLLECTION_ID,  # noqa: N803
          bbox: str | None = BBOX, datetime: str | None = DATETIME, limit: str = LIMIT,
          subTrajectory: str = SUB_TRAJECTORY, cursor: str | None = CURSOR,  # noqa: N803
          access: Access = Depends(require("reader"))):
    coll = collection_of(access)
    box, interval, n = params.bbox(bbox), params.datetime_interval(datetime), parse_limit(limit)
    window = bounded(interval, "subTrajectory") if parse_flag(subTrajectory, "subTrajectory") else None
    try:
        box, scoped = access.scope.window(box, interval)
        ids = _matching_ids(coll, access.scope, box, scoped)
    except OutsideScope:
        ids = np.empty(0, dtype=np.int64)
    start = _after(ids, cursor)
    page = ids[start:start + n]
    features = {}
    if len(page):
        rows = coll.scan(ids=page).to_dict()
        rows["t"] = rows["t"].view(np.int64)
        if access.scope.limited:
            keep = access.scope.mask(rows["t"], rows["x"], rows["y"])
            rows = {k: v[keep] for k, v in rows.items()}
        oid = rows["object_id"]
        bounds = np.flatnonzero(np.r_[True, oid[1:] != oid[:-1], True])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):  # one feature each
            part = {k: v[a:b] for k, v in rows.items()}
            doc = feature_doc(request, coll, oid[a], part, full=False, window=window)
            features[doc["id"]] = doc
    features = [features[i] for i in page.tolist() if i in features]  # in id order, as pages are cut
    more = start + n < len(ids)
    last = page[-1].item() if len(page) else None
    return json_response({"type": "FeatureCollection", "features": features, **crs_and_trs(coll),
                          "links": page_links(request, {"a": last} if more else None),
                          "timeStamp": timestamp(), "numberMatched": int(len(ids)), "numberReturned": len(features)})


def _id_for(coll, fid, where: str):
    """A posted id in the kind the collection stores (a string of digits for integer ids is accepted)."""
    kind = coll.id_kind
    if fid is None:
        if kind == "int":
            raise Problem(422, f"{where}id: required (this collection has integer feature ids)")
        return uuid.uuid4().hex
    if kind == "int" and isinstance(fid, str):
        if not fid.lstrip("-").isdigit() or len(fid) > 18:
            raise Problem(422, f"{where}id: this collection has integer feature ids, got {fid!r}")
        return int(fid)
    if kind == "str" and isinstance(fid, int):
        return str(fid)
    if isinstance(fid, int) and not -(2**63) <= fid < 2**63:
        raise Problem(422, f"{where}id: {fid} is out of the int64 range")
    if isinstance(fid, str) and ("/" in fid or len(fid) > 256 or not fid.isprintable()):
        raise Problem(422, f"{where}id: a feature id has at most 256 printable characters and no '/'")
    return fid


@router.post("/collections/{collectionId}/items", summary="Add moving features (writer)", status_code=201,
             response_class=Response, responses={**errors(400, 401, 403, 404, 422),
                                                 201: {"description": "stored; `Location` names the first new "
                                                                      "feature, `Locations` all of them"}},
             openapi_extra={"requestBody": _FEATURE_BODY},
             description="Stores an MF-JSON MovingFeature, or a FeatureCollection of them: the temporal geometry "
                         "(MovingPoint, or a MovingGeometryCollection of MovingPoints) as samples, temporal "
                         "properties the collection declares with them, and `properties` as the feature's "
                         "document (valid from its first instant). Everything is checked before anything is "
                         "stored; a bad body is answered 422 naming the member. Samples at instants already "
                         "stored replace them.")
def add_features(request: Request, collectionId: str = COLLECTION_ID,  # noqa: N803
                 body: Any = Body(None), access: Access = Depends(require("writer"))):
    coll = collection_of(access)
    specs = property_specs(coll)
    try:
        decoded = mfjson.decode_features(body, specs, crs=coll.crs, has_z=coll.has_z)
    except MFJSONError as exc:
        raise unprocessable(exc) from None
    gap = int(coll.max_gap.astype(np.int64))
    geographic = coll.crs == "EPSG:4326"
    batches, seen = [], {}
    for i, f in enumerate(decoded):
        where = f"features[{i}]." if len(decoded) > 1 else ""
        f.id = _id_for(coll, f.id, where)
        if f.id in seen:
            raise Problem(422, f"{where}id: {f.id!r} repeats features[{seen[f.id]}]")
        seen[f.id] = i
        if f.has_properties:
            try:
                check_document({}, f.properties)
            except InvalidArgumentError as exc:
                raise Problem(422, f"{where}properties: {exc}") from None
        track = {"t": f.t, "x": f.x, "y": f.y, **({"z": f.z} if f.z is not None else {})}
        rows = with_values(track, f.values, specs, max_gap=gap, geographic=geographic, has_z=coll.has_z,
                           instants=f.t)
        batches.append((f.id, rows))
    if len({type(fid) for fid, _ in batches}) > 1:
        raise Problem(422, "feature ids must all be integers or all be strings")
    cols = {k: np.concatenate([rows[k] for _, rows in batches]) for k in batches[0][1]}
    ids = np.concatenate([np.full(len(rows["t"]), fid) for fid, rows in batches])
    access.scope.check_write(cols["t"], cols["x"], cols["y"])
    try:
        coll.append(ids, cols.pop("t"), cols.pop("x"), cols.pop("y"), cols.pop("z", None), **cols)
    except InvalidArgumentError as exc:
        raise Problem(422, str(exc)) from None
    for f in decoded:
        if f.has_properties:
            coll.set_properties(f.id, f.properties, at=int(f.t[0]))
    return created([feature_url(request, coll.name, fid) for fid, _ in batches])


@router.get("/collections/{collectionId}/items/{mFeatureId}", summary="One moving feature",
            response_model=MovingFeature,
            responses={**errors(401, 403, 404),
                       200: {"content": {"application/json": {"example": EXAMPLES["feature"]}}}},
            description="The MF-JSON MovingFeature: its document as `properties`, bounding box, life span, crs "
                        "and trs, and (beyond the standard's static description, so that what was posted reads "
                        "back the same) its whole temporal geometry and temporal properties. For long tracks "
                        "use `tgsequence` with `datetime` and `limit`.")
def get_feature(request: Request, collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
                access: Access = Depends(require("reader"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    rows = visible_track(access, coll, fid)
    return json_response(feature_doc(request, coll, fid, rows, full=True))


@router.delete("/collections/{collectionId}/items/{mFeatureId}", summary="Delete a moving feature (writer)",
               status_code=204, response_class=Response, responses=errors(401, 403, 404),
               description="Deletes every sample of the feature (its temporal geometry and properties). A grant "
                           "limited to a region or time window may delete only a feature lying entirely inside.")
def delete_feature(collectionId: str = COLLECTION_ID, mFeatureId: str = FEATURE_ID,  # noqa: N803
                   access: Access = Depends(require("writer"))):
    coll = collection_of(access)
    fid = feature_id(coll, mFeatureId)
    visible_track(access, coll, fid)  # 404 unless the principal sees the feature
    if access.scope.limited:
        everything = coll.track(fid, columns=["t", "x", "y"]).to_dict()
        access.scope.check_write(everything["t"].view(np.int64), everything["x"], everything["y"])
    coll.delete(fid)
    return Response(status_code=204)
