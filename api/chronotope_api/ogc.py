"""OGC API – Moving Features (OGC 22-003r3): the collection catalogue here; moving features, temporal
geometries and temporal properties in :mod:`ogc_items` and :mod:`ogc_temporal` (included below).

Collections: ``GET /collections`` lists those the principal can read;
``POST /collections`` (admin) creates one from the OGC members (title,
description, itemType, updateFrequency) plus how chronotope stores it (id,
properties, crs, has_z, max_gap, partition); ``PUT`` replaces the title and the
description only; ``DELETE`` drops the collection and all its data.
"""

from __future__ import annotations

import secrets

import numpy as np
from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import Response

from chronotope.errors import InvalidArgumentError
from chronotope_api import ogc_items, ogc_temporal
from chronotope_api.deps import Access, require
from chronotope_api.ogc_common import base, errors, json_response, property_specs
from chronotope_api.ogc_schemas import (EXAMPLES, Collection, CollectionBody, CollectionUpdate, Collections,
                                        PropertyDefinition)
from chronotope_api.problems import Problem

__all__ = ["router", "CONFORMANCE", "base", "collection_doc"]

router = APIRouter()

#: Conformance classes this server implements.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-movingfeatures-1/1.0/conf/common",
    "http://www.opengis.net/spec/ogcapi-movingfeatures-1/1.0/conf/mf-collection",
    "http://www.opengis.net/spec/ogcapi-movingfeatures-1/1.0/conf/movingfeatures",
]
_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
_TAG = ["Collections"]
_COLLECTION_ID = Path(description="the collection's id", examples=["ais"])


def _crs_uri(crs: str) -> str:
    if crs == "EPSG:4326":  # stored as longitude, latitude: the CRS84 axis order
        return _CRS84
    authority, _, code = crs.partition(":")
    return f"http://www.opengis.net/def/crs/{authority}/0/{code}" if code else crs


def _instant(t: np.datetime64) -> str:
    return np.datetime_as_string(t, unit="auto") + "Z"


def _duration(td: np.timedelta64) -> str:
    ns = int(td.astype("timedelta64[ns]").astype(np.int64))
    return f"{ns // 10**9}s" if ns % 10**9 == 0 else f"{ns}ns"


def collection_doc(request: Request, name: str) -> dict:
    """A collection's description (OGC API – Common collection, itemType movingfeature)."""
    coll = request.app.state.db.collection(name)
    meta = coll.metadata
    extent = coll.extent()
    url = f"{base(request)}/collections/{name}"
    doc = {"id": name, "title": meta.get("title") or name}
    if meta.get("description"):
        doc["description"] = meta["description"]
    doc["itemType"] = "movingfeature"
    if meta.get("updateFrequency") is not None:
        doc["updateFrequency"] = meta["updateFrequency"]
    doc["crs"] = [_crs_uri(coll.crs)]
    if extent["bbox"] is not None:
        doc["extent"] = {
            "spatial": {"bbox": [extent["bbox"]], "crs": _crs_uri(coll.crs)},
            "temporal": {"interval": [[_instant(t) for t in extent["time"]]], "trs": _GREGORIAN},
        }
    doc["links"] = [{"href": url, "rel": "self", "type": "application/json", "title": doc["title"]},
                    {"href": f"{url}/items", "rel": "items", "type": "application/json",
                     "title": "the moving features"}]
    props = {}
    for spec in property_specs(coll).values():
        props[spec.name] = {"type": spec.dtype.name, "interpolation": spec.interpolation}
        props[spec.name].update({k: v for k, v in (("form", spec.form), ("description", spec.description)) if v})
    doc["chronotope"] = {"properties": props, "has_z": coll.has_z, "max_gap": _duration(coll.max_gap),
                         "partition": _duration(coll.partition), "id_kind": coll.id_kind, "metadata": meta}
    return doc


@router.get("/collections", summary="The collections of moving features", tags=_TAG,
            response_model=Collections,
            responses={**errors(401, 403), 200: {"content": {"application/json": {"example": {
                "collections": [EXAMPLES["collection"]],
                "links": [{"href": "http://127.0.0.1:8000/collections", "rel": "self",
                           "type": "application/json"}]}}}}},
            description="Every collection the credentials can read, with its extent and temporal properties.")
def collections(request: Request, access: Access = Depends(require("reader", anywhere=True))):
    root = base(request)
    names = [n for n in access.db.collections() if access.can("reader", n)]
    return json_response({"collections": [collection_doc(request, n) for n in names],
                          "links": [{"href": f"{root}/collections", "rel": "self", "type": "application/json"}]})


@router.post("/collections", summary="Create a collection of moving features (admin)", tags=_TAG,
             status_code=201, response_model=Collection,
             responses={**errors(400, 401, 403, 409, 422),
                        201: {"description": "created; `Location` names it",
                              "content": {"application/json": {"example": EXAMPLES["collection"]}}}},
             description="Registers a collection. `id` names it in URLs (generated when absent); `properties`, "
                         "`crs`, `has_z`, `max_gap` and `partition` say how it is stored and cannot change "
                         "later. Answers 201 with `Location` and the new collection; 409 when the id is taken.")
def create_collection(request: Request, access: Access = Depends(require("admin")),
                      body: CollectionBody = Body(openapi_examples={
                          "vessels": {"summary": "vessels with speed and course",
                                      "value": {"id": "vessels", "title": "AIS vessel positions",
                                                "description": "Class A transponders", "itemType": "movingfeature",
                                                "properties": {"sog": {"type": "float32", "form": "KNT"},
                                                               "cog": "float32"},
                                                "max_gap": "30m"}},
                          "minimal": {"summary": "only a title",
                                      "value": {"title": "drones", "itemType": "movingfeature"}}})):
    db = access.db
    name = body.id or f"mfc_{secrets.token_hex(6)}"
    if name in db.collections():
        raise Problem(409, f"collection {name!r} exists already")
    dtypes, described = {}, {}
    for prop, spec in body.properties.items():
        if isinstance(spec, str):
            spec = PropertyDefinition(type=spec)
        dtypes[prop] = spec.type
        if spec.model_dump(exclude={"type"}, exclude_none=True):
            described[prop] = spec.model_dump(exclude={"type"}, exclude_none=True)
    try:
        coll = db.create_collection(name, properties=dtypes, crs=body.crs, has_z=body.has_z, max_gap=body.max_gap,
                                    partition=body.partition)
    except (InvalidArgumentError, TypeError) as exc:
        if name in db.collections():
            raise Problem(409, f"collection {name!r} exists already") from None
        raise Problem(422, str(exc)) from None
    meta = {k: v for k, v in (("title", body.title), ("description", body.description),
                              ("updateFrequency", body.updateFrequency)) if v is not None}
    if described:  # what the schema does not say (units, interpolation, descriptions); else the defaults
        meta["properties"] = described
    coll.set_metadata(meta)
    doc = collection_doc(request, name)
    return json_response(doc, status=201, headers={"Location": doc["links"][0]["href"]})


@router.get("/collections/{collectionId}", summary="One collection's metadata", tags=_TAG,
            response_model=Collection, responses={**errors(401, 403, 404),
                                                  200: {"content": {"application/json": {
                                                      "example": EXAMPLES["collection"]}}}})
def collection(request: Request, collectionId: str = _COLLECTION_ID,  # noqa: N803
               access: Access = Depends(require("reader"))):
    return json_response(collection_doc(request, access.collection))


@router.put("/collections/{collectionId}", summary="Replace a collection's title and description (admin)",
            tags=_TAG, status_code=204, response_class=Response, responses=errors(400, 401, 403, 404, 422),
            description="Replaces the title and the description (a member left out is removed). "
                        "`updateFrequency` is ignored, as the standard says; the id, properties, crs, has_z, "
                        "max_gap and partition are fixed at creation. With `metadata` (a JSON object), the "
                        "collection's whole descriptive metadata is replaced by it first (what "
                        "`Collection.set_metadata` does; the document's `chronotope.metadata` shows it).")
def replace_collection(collectionId: str = _COLLECTION_ID,  # noqa: N803
                       access: Access = Depends(require("admin")),
                       body: CollectionUpdate = Body(openapi_examples={
                           "retitle": {"summary": "a new title and description",
                                       "value": {"title": "AIS, New York harbour, December 2020",
                                                 "description": "Positions from the Marine Cadastre sample"}}})):
    coll = access.db.collection(access.collection)
    if body.metadata is not None:
        meta = body.metadata
    else:
        meta = {k: v for k, v in coll.metadata.items() if k not in ("title", "description")}
    meta.update({k: v for k, v in (("title", body.title), ("description", body.description)) if v is not None})
    coll.set_metadata(meta)
    return Response(status_code=204)


@router.delete("/collections/{collectionId}", summary="Delete a collection and all its data (admin)", tags=_TAG,
               status_code=204, response_class=Response, responses=errors(401, 403, 404))
def delete_collection(collectionId: str = _COLLECTION_ID,  # noqa: N803
                      access: Access = Depends(require("admin"))):
    access.db.drop_collection(access.collection)
    return Response(status_code=204)


router.include_router(ogc_items.router)
router.include_router(ogc_temporal.router)
