"""RFC 9457 problem details: every error the API returns is ``application/problem+json``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from chronotope.errors import ChronotopeError, CorruptDataError

__all__ = ["Problem", "install", "problem_body", "problem_response", "PROBLEM_JSON"]

PROBLEM_JSON = "application/problem+json"
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict", 413: "Content Too Large",
           415: "Unsupported Media Type", 422: "Unprocessable Content", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


class Problem(Exception):
    """An error to answer with: HTTP status and a detail for the client."""

    def __init__(self, status: int, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def problem_body(status: int, detail: str, instance: str, request_id: str | None = None,
                 error: str | None = None) -> dict:
    """The RFC 9457 members, plus ``request_id`` (to find the request in logs) and ``error`` (the package
    exception's class name, so that the SDK raises the same exception as the embedded store) when known."""
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail,
            "instance": instance}
    if request_id is not None:
        body["request_id"] = request_id
    if error is not None:
        body["error"] = error
    return body


def problem_response(request: Request, status: int, detail: str, headers=None, error: str | None = None) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(problem_body(status, detail, request.url.path, request_id, error), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on the request's path."""
    methods = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Map every exception to a problem response (never a stack trace)."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(request, exc.status, exc.detail, exc.headers)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names only the first matching route's methods
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return problem_response(request, exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return problem_response(request, 422, where or "invalid request")

    @app.exception_handler(CorruptDataError)
    async def _corrupt(request: Request, exc: CorruptDataError):
        return problem_response(request, 500, "the store holds damaged data; run `chronotope verify`",
                                error="CorruptDataError")

    @app.exception_handler(ChronotopeError)  # bad arguments (InvalidArgumentError) and the like
    async def _chronotope(request: Request, exc: ChronotopeError):
        return problem_response(request, 400, str(exc), error=type(exc).__name__)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return problem_response(request, 500, "internal error")
