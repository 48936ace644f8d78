"""The FastAPI application: OGC API – Moving Features resources over a chronotope store.

Handlers call the ``chronotope`` package's public interface only. This first
part serves the landing page, conformance, the OpenAPI document (``/api``) and
the collections' metadata; items, queries, ingest and security follow.
"""

from __future__ import annotations

import numpy as np
from fastapi import FastAPI, Request

from chronotope import __version__
from chronotope_api import problems
from chronotope_api.problems import Problem

__all__ = ["create_app", "CONFORMANCE"]

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


def create_app(db) -> FastAPI:
    """The application serving the store ``db`` (an open ``chronotope.Store``)."""
    app = FastAPI(title="chronotope", version=__version__, openapi_url="/api",
                  description="Moving features and their history: OGC API – Moving Features over a chronotope store.")
    problems.install(app)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def collection_doc(request: Request, name: str) -> dict:
        coll = db.collection(name)
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

    def known(name: str) -> str:
        if name not in db.collections():  # also every name that could not be one
            raise Problem(404, f"no collection {name!r}")
        return name

    @app.get("/", summary="Landing page", tags=["Capabilities"])
    def landing(request: Request) -> dict:
        root = base(request)
        return {
            "title": "chronotope",
            "description": "Moving features and their history, served by chronotope " + __version__,
            "links": [
                {"href": f"{root}/", "rel": "self", "type": "application/json", "title": "this document"},
                {"href": f"{root}/api", "rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                 "title": "the API definition"},
                {"href": f"{root}/conformance", "rel": "conformance", "type": "application/json",
                 "title": "conformance classes"},
                {"href": f"{root}/collections", "rel": "data", "type": "application/json", "title": "collections"},
            ],
        }

    @app.get("/conformance", summary="Conformance classes", tags=["Capabilities"])
    def conformance() -> dict:
        return {"conformsTo": CONFORMANCE}

    @app.get("/collections", summary="The collections of moving features", tags=["Collections"])
    def collections(request: Request) -> dict:
        root = base(request)
        return {"collections": [collection_doc(request, name) for name in db.collections()],
                "links": [{"href": f"{root}/collections", "rel": "self", "type": "application/json"}]}

    @app.get("/collections/{collectionId}", summary="One collection's metadata", tags=["Collections"],
             responses={404: {"description": "no such collection", "content": {problems.PROBLEM_JSON: {}}}})
    def collection(request: Request, collectionId: str) -> dict:  # noqa: N803 - the standard's parameter name
        return collection_doc(request, known(collectionId))

    return app
