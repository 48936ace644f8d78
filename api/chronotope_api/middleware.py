"""ASGI middleware guarding every request: a rate limit per client address, a body size limit, a timeout.

Pure ASGI (no BaseHTTPMiddleware), so streamed responses pass through untouched.
"""

from __future__ import annotations

import asyncio
import json

from chronotope_api.problems import PROBLEM_JSON, Problem, problem_body
from chronotope_api.throttle import Throttle

__all__ = ["Guards"]


async def _send_problem(send, status: int, detail: str, instance: str, headers: dict | None = None) -> None:
    body = json.dumps(problem_body(status, detail, instance)).encode()
    raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


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
        address = scope["client"][0] if scope.get("client") else "?"
        try:
            limit_headers = self.throttle.hit(address)
        except Problem as exc:
            return await _send_problem(send, 429, exc.detail, path, exc.headers)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return await _send_problem(send, 413, f"the request body is larger than {self.max_body} bytes", path)

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
                    return await _send_problem(send, 413, too_large, path)
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
            return await _send_problem(send, 503, f"the request took longer than {self.timeout:g} s", path,
                                       {"Retry-After": "1"})
        try:
            await task
        except _TooLarge:
            if not started.is_set():
                await _send_problem(send, 413, too_large, path)
