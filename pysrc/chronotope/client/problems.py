"""Turn the server's ``application/problem+json`` answers into chronotope exceptions.

A remote store raises what the embedded store raises: the problem's ``error``
member names the package exception class when the server raised one; without
it the HTTP status decides. Every exception built here carries ``status``,
``request_id`` and ``problem`` (the decoded body, or ``{}``) as attributes, and
its message ends with the request id so a log line can be matched with the
server's.

>>> exc = problem_error(404, {"detail": "no collection 'x'", "status": 404}, "abc")
>>> type(exc).__name__, isinstance(exc, ValueError), exc.request_id
('InvalidArgumentError', True, 'abc')
>>> str(exc)
"no collection 'x' (request id abc)"
"""

from __future__ import annotations

import chronotope.errors as _errors
from chronotope.errors import ChronotopeError, InvalidArgumentError

__all__ = ["AuthenticationError", "PermissionDeniedError", "RateLimitedError", "ServerError",
           "ConnectionFailedError", "RequestTimeoutError", "CircuitOpenError", "problem_error", "annotate"]


class AuthenticationError(ChronotopeError):
    """The server refused the credentials (HTTP 401): wrong password, unknown or revoked API key."""


class PermissionDeniedError(ChronotopeError):
    """The user lacks the role or grant the request needs (HTTP 403)."""


class RateLimitedError(ChronotopeError):
    """The server is throttling this client (HTTP 429) and the retries ran out."""


class ServerError(ChronotopeError):
    """The server failed (HTTP 5xx) and the retries, if allowed, ran out."""


class ConnectionFailedError(ChronotopeError, ConnectionError):
    """No answer from the server: refused, reset or closed connection (after the retries allowed)."""


class RequestTimeoutError(ChronotopeError, TimeoutError):
    """A request's total deadline, or its last attempt's timeout, passed before an answer came."""


class CircuitOpenError(ChronotopeError):
    """The client's circuit breaker is open: requests fail fast until its cool-down ends."""


def _by_status(status: int) -> type[ChronotopeError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return InvalidArgumentError  # 400/404/406/409/413/415/422: the request itself is wrong, as embedded


def _named_class(name: object) -> type[ChronotopeError] | None:
    """The chronotope exception class the server named, if the client knows it."""
    if not isinstance(name, str) or not name.isidentifier():
        return None
    if name == "IdempotencyConflictError":
        from chronotope.store import IdempotencyConflictError  # store imports the C core: only when needed
        return IdempotencyConflictError
    cls = getattr(_errors, name, None) or globals().get(name)
    return cls if isinstance(cls, type) and issubclass(cls, ChronotopeError) else None


def annotate(exc: BaseException, status: int | None, request_id: str | None,
             problem: dict | None = None) -> BaseException:
    """Attach ``status``, ``request_id`` and ``problem`` to ``exc`` and return it."""
    exc.status, exc.request_id, exc.problem = status, request_id, problem or {}
    return exc


def problem_error(status: int, problem: dict | None, request_id: str | None) -> ChronotopeError:
    """The exception for an error answer with ``status`` and decoded body ``problem`` (None if not JSON)."""
    problem = problem if isinstance(problem, dict) else {}
    request_id = problem.get("request_id") if request_id is None else request_id
    cls = _named_class(problem.get("error")) or _by_status(status)
    detail = problem.get("detail") or problem.get("title") or f"HTTP {status}"
    message = f"{detail} (request id {request_id})" if request_id else str(detail)
    return annotate(cls(message), status, request_id, problem)
