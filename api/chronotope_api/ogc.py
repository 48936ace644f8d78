"""OGC API – Moving Features resources: collections, moving features (items), temporal geometries and properties."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, Request

from chronotope_api import problems
from chronotope_api.deps import Access, require
from chronotope_api.problems import Problem

router = APIRouter()

#: Conformance classes this server implements (more arrive with the items and query resources).
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
]
_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


def _crs_uri(crs: str) -> str:
    if crs == "EPSG:4326":  # stored as longitude, latitude: the CRS84 axis order
        return _CRS84
    authority, _, code = crs.partition(":")
    return f"http://www.opengis.net/def/crs/{authority}/0/{code}" if code else crs


def _instant(t: np.datetime64) -> str:
    return np.datetime_as_string(t, unit="auto") + "Z"


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def collection_doc(request: Request, name: str) -> dict:
    coll = request.app.state.db.collection(name)
    extent = coll.extent()
    url = f"{base(request)}/collections/{name}"
    doc = {"id": name, "title": name, "itemType": "movingfeature", "crs": [_crs_uri(coll.crs)],
           "links": [{"href": url, "rel": "self", "type": "application/json", "title": name}]}
    if extent["bbox"] is not None:
        doc["extent"] = {
            "spatial": {"bbox": [extent["bbox"]], "crs": _crs_uri(coll.crs)},
            "temporal": {"interval": [[_instant(t) for t in extent["time"]]], "trs": _GREGORIAN},
        }
    return doc


@router.get("/collections", summary="The collections of moving features", tags=["Collections"])
def collections(request: Request, access: Access = Depends(require("reader"))) -> dict:
    root = base(request)
    return {"collections": [collection_doc(request, name) for name in access.db.collections()],
            "links": [{"href": f"{root}/collections", "rel": "self", "type": "application/json"}]}


@router.get("/collections/{collectionId}", summary="One collection's metadata", tags=["Collections"],
            responses={404: {"description": "no such collection", "content": {problems.PROBLEM_JSON: {}}}})
def collection(request: Request, collectionId: str, access: Access = Depends(require("reader"))) -> dict:  # noqa: N803
    return collection_doc(request, access.collection)
