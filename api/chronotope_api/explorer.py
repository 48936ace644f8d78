"""The API explorer: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, working without internet access.

FastAPI's pages load their JavaScript and CSS from a CDN by default; a server on
an isolated network would show blank pages. Here the assets come from the
``fastapi-offline`` package (part of the ``server`` extra) and are served by this
router under ``/docs/assets/``, so both pages reference only their own origin.
The pages, like ``/api``, are public: they hold no data, and the Authorize
dialog logs in through ``/auth/token`` like any client.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from chronotope_api.problems import Problem

__all__ = ["router", "ASSETS_PACKAGE", "ASSETS"]

router = APIRouter(include_in_schema=False)

ASSETS_PACKAGE = "fastapi_offline"
# the files the pages use (an allow-list: nothing else in the package is served)
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
_ASSETS_PATH = "/docs/assets"

SWAGGER_UI_PARAMETERS = {
    "persistAuthorization": True,  # the token survives a page reload (kept in the browser's localStorage)
    "validatorUrl": None,  # no badge fetched from validator.swagger.io
    "displayRequestDuration": True,
    "filter": True,  # a "filter by tag" box over the operations
}


# Same origin only, enforced by the browser too: ReDoc's sidebar loads a logo from cdn.redoc.ly, which this
# blocks. Inline scripts are allowed by hash; styles inline, as both UIs inject theirs at run time.
_POLICY = ("default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    hashes = ["'sha256-" + base64.b64encode(hashlib.sha256(code).digest()).decode() + "'"
              for code in _INLINE_SCRIPT.findall(page.body)]
    page.headers["Content-Security-Policy"] = _POLICY.format(scripts=" ".join(hashes))
    return page


@functools.lru_cache(maxsize=len(ASSETS))
def _asset(name: str) -> tuple[bytes, str] | None:
    """The bytes of a bundled asset and their ETag, or None when the package is not installed."""
    try:
        data = (resources.files(ASSETS_PACKAGE) / "static" / name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return None
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _prefix(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


@router.api_route("/docs/assets/{name}", methods=["GET", "HEAD"])
def asset(name: str, request: Request) -> Response:
    if name not in ASSETS:
        raise Problem(404, f"no explorer asset named {name!r}")
    found = _asset(name)
    if found is None:
        raise Problem(404, f"the API explorer's assets are not installed (package {ASSETS_PACKAGE!r}; "
                           "install chronotope's `server` extra)")
    data, etag = found
    # revalidated on every load (cheap: 304), so an upgraded package is picked up at once
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=ASSETS[name], headers=headers)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = _prefix(request)
    return _same_origin_only(get_swagger_ui_html(
        openapi_url=root + request.app.openapi_url,
        title=f"{request.app.title} – Swagger UI",
        swagger_js_url=f"{root}{_ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{_ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{_ASSETS_PATH}/favicon.png",
        init_oauth={"appName": request.app.title},
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    ))


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = _prefix(request)
    return _same_origin_only(get_redoc_html(
        openapi_url=root + request.app.openapi_url,
        title=f"{request.app.title} – ReDoc",
        redoc_js_url=f"{root}{_ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{_ASSETS_PATH}/favicon.png",
        with_google_fonts=False,  # fonts from Google would be a request off the server
    ))
