"""ASGI middleware around every request: a request id, a rate limit per client address, a body size limit, a
timeout.

Pure ASGI (no BaseHTTPMiddleware), so streamed responses pass through untouched.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets

from chronotope_api.problems import PROBLEM_JSON, Problem, problem_body
from chronotope_api.throttle import Throttle

__all__ = ["Guards"]


async def _send_problem(send, status: int, detail: str, instance: str, headers: dict | None = None,
                        request_id: str | None = None) -> None:
    body = json.dumps(problem_body(status, detail, instance, request_id)).encode()
    headers = {**(headers or {}), **({"X-Request-ID": request_id} if request_id else {})}
    raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


_SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def _request_id(sent: bytes | None) -> str:
    """The client's X-Request-ID when it is short and plain (it goes into logs and answers), else a new one."""
    if sent is not None and _SAFE_ID.fullmatch(sent):
        return sent.decode()
    return secrets.token_hex(8)


class _TooLarge(Exception):
    pass


class Guards:
    """Per-address rate limit (RateLimit headers on every answer), ``max_body`` bytes, ``timeout`` seconds
    until the response starts."""

    def __init__(self, app, *, throttle: Throttle, max_body: int, timeout: float):
        self.app, self.throttle, self.max_body, self.timeout = app, throttle, max_body, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = dict(scope.get("headers") or [])
        rid = _request_id(headers.get(b"x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid  # request.state.request_id for the problem handlers

        async def problem(status: int, detail: str, extra: dict | None = None) -> None:
            await _send_problem(send, status, detail, path, extra, rid)

        address = scope["client"][0] if scope.get("client") else "?"
        try:
            limit_headers = {**self.throttle.hit(address), "X-Request-ID": rid}
        except Problem as exc:
            return await problem(429, exc.detail, exc.headers)
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await problem(413, f"the request body is larger than {self.max_body} bytes")

        received = 0
        overflow = False  # the body went over the limit: whatever the app answers becomes a 413
        too_large = f"the request body is larger than {self.max_body} bytes"

        async def counted_receive():
            nonlocal received, overflow
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    overflow = True
                    raise _TooLarge()
            return message

        started = asyncio.Event()

        async def send_guarded(message):
            if message["type"] == "http.response.start":
                started.set()
                if overflow:
                    return await problem(413, too_large)
                message = {**message, "headers": list(message.get("headers", [])) +
                           [(k.lower().encode(), v.encode()) for k, v in limit_headers.items()]}
            elif overflow:
                return None
            await send(message)

        task = asyncio.ensure_future(self.app(scope, counted_receive, send_guarded))
        waiter = asyncio.ensure_future(started.wait())
        await asyncio.wait({task, waiter}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not started.is_set() and not task.done():
            task.cancel()  # a handler in a worker thread runs on, but the client is answered
            return await problem(503, f"the request took longer than {self.timeout:g} s", {"Retry-After": "1"})
        try:
            await task
        except _TooLarge:
            if not started.is_set():
                await problem(413, too_large)
