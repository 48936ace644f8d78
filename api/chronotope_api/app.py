"""The FastAPI application: OGC API – Moving Features resources over a chronotope store.

Handlers call the ``chronotope`` package's public interface only. The routes live
in one module per concern (security, ogc, engine, samples, explorer); this one
assembles them with the request guards, the problem handlers and the OpenAPI
document, and serves the landing page and conformance.
"""

from __future__ import annotations

from fastapi import FastAPI, Request

from chronotope import __version__
from chronotope_api import engine, explorer, ogc, openapi_doc, problems, samples, security
from chronotope_api.middleware import Guards
from chronotope_api.ogc import CONFORMANCE

__all__ = ["create_app", "CONFORMANCE"]


def create_app(db, settings=None) -> FastAPI:
    """The application serving the store ``db`` (an open ``chronotope.Store``) with ``settings``."""
    from chronotope_api.settings import Settings

    app = FastAPI(title="chronotope", version=__version__, openapi_url="/api", docs_url=None, redoc_url=None,
                  description="Moving features and their history: OGC API – Moving Features over a chronotope store.")
    settings = settings or Settings()
    app.state.db = db
    app.state.settings = settings
    app.state.guard = security.Guard(db.path, settings)
    app.add_middleware(Guards, throttle=app.state.guard.per_address, max_body=settings.max_body,
                       timeout=settings.request_timeout)
    problems.install(app)
    for module in (security, ogc, engine, samples, explorer):
        app.include_router(module.router)
    openapi_doc.install(app)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

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
                {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html",
                 "title": "the API documentation (Swagger UI; ReDoc at /redoc)"},
                {"href": f"{root}/conformance", "rel": "conformance", "type": "application/json",
                 "title": "conformance classes"},
                {"href": f"{root}/collections", "rel": "data", "type": "application/json", "title": "collections"},
            ],
        }

    @app.get("/conformance", summary="Conformance classes", tags=["Capabilities"])
    def conformance() -> dict:
        return {"conformsTo": CONFORMANCE}

    return app
