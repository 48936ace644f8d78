"""HTTP transport of the SDK: pooled connections, login, retries, deadlines and the circuit breaker.

:class:`Transport` (threads) and :class:`AsyncTransport` (asyncio) send one
request each through the same rules, which live in :class:`_Call` so both
share them:

* a request is retried on connection errors, timeouts and 408/429/502/503/504
  when it is safe to send twice: GET, HEAD, PUT, DELETE, OPTIONS, and a POST
  carrying an ``Idempotency-Key`` (the same key on every attempt, so the server
  stores the batch once);
* between attempts it sleeps ``Retry-After`` (capped) or, without one, a
  full-jitter backoff ``uniform(0, min(max_backoff, backoff * 2**n))``;
* ``attempts`` and a total ``deadline`` bound the whole thing; past the
  deadline :class:`RequestTimeoutError` is raised;
* every attempt first asks the :class:`CircuitBreaker`, and reports to it;
* every request carries an ``X-Request-ID``, and the errors carry it too;
* with a password the transport logs in at first use, logs in again shortly
  before the token expires and once after a 401 (then resends the request once).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import logging
import random
import threading
import time
import uuid
from typing import Any, Callable

import httpx

from .breaker import CircuitBreaker
from .problems import ConnectionFailedError, RequestTimeoutError, annotate, problem_error

__all__ = ["RetryPolicy", "Transport", "AsyncTransport"]

log = logging.getLogger("chronotope.client")

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRY_STATUS = frozenset({408, 429, 502, 503, 504})
_TOKEN_PATH = "/auth/token"


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a request is retried.

    Parameters
    ----------
    attempts : int
        Attempts in all (1 = no retry).
    backoff : float
        Base of the exponential backoff, seconds: attempt ``n`` (0-based) waits up to ``backoff * 2**n``.
    max_backoff : float
        Cap of one backoff sleep, seconds.
    retry_after_cap : float
        Cap on a server's ``Retry-After``, seconds.
    deadline : float
        Total seconds for a request, every attempt and sleep included (a call's ``deadline=`` overrides it).
    """

    attempts: int = 5
    backoff: float = 0.1
    max_backoff: float = 5.0
    retry_after_cap: float = 30.0
    deadline: float = 60.0

    def __post_init__(self):
        if self.attempts < 1 or self.backoff < 0 or self.max_backoff < 0 or self.retry_after_cap < 0 \
                or self.deadline <= 0:
            raise ValueError("attempts must be >= 1, the backoffs and cap >= 0 and the deadline > 0")

    def backoff_for(self, retry: int) -> float:
        """A full-jitter sleep before retry number ``retry`` (0 = the first retry)."""
        return random.uniform(0.0, min(self.max_backoff, self.backoff * 2.0 ** retry))


def retry_after(value: str | None, cap: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or HTTP-date), capped; None if absent/unreadable.

    >>> retry_after("3", 30.0), retry_after("120", 30.0), retry_after("soon", 30.0)
    (3.0, 30.0, None)
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), cap)


def _request_id(response: httpx.Response | None, sent: str) -> str:
    return (response.headers.get("x-request-id") if response is not None else None) or sent


def _error_for(response: httpx.Response, sent_id: str) -> Exception:
    """The chronotope exception for an error response whose body has been read."""
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:200] or response.reason_phrase}
    return problem_error(response.status_code, body, _request_id(response, sent_id))


class _Call:
    """The retry/deadline/breaker bookkeeping of one logical request (no I/O: both transports drive it)."""

    def __init__(self, method: str, policy: RetryPolicy, breaker: CircuitBreaker, timeout: float,
                 deadline: float | None, idempotency_key: str | None, resendable: bool):
        self.method = method.upper()
        self.policy, self.breaker, self.timeout = policy, breaker, timeout
        self.budget = policy.deadline if deadline is None else deadline
        self.ends = time.monotonic() + self.budget
        self.retryable = resendable and (self.method in _IDEMPOTENT or
                                         (self.method == "POST" and idempotency_key is not None))
        self.request_id = uuid.uuid4().hex
        self.attempt = 0
        self.relogged = False

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def begin(self) -> httpx.Timeout:
        """Start an attempt: check the deadline and the breaker; the attempt's timeout."""
        left = self.remaining()
        if left <= 0:
            raise self._deadline_error(None)
        self.breaker.acquire()
        self.attempt += 1
        return httpx.Timeout(max(0.001, min(self.timeout, left)))

    def _deadline_error(self, cause: BaseException | None) -> RequestTimeoutError:
        exc = RequestTimeoutError(f"{self.method} gave no answer within its deadline of {self.budget:g}s "
                                  f"({self.attempt} attempt(s); request id {self.request_id})")
        annotate(exc, getattr(cause, "status", None), self.request_id, getattr(cause, "problem", None))
        exc.__cause__ = cause
        return exc

    def on_response(self, response: httpx.Response) -> bool:
        """Report a response to the breaker; True if the request should be retried (else handle it)."""
        status = response.status_code
        self.breaker.record(not (status >= 500 or status == 429))
        return self.retryable and status in _RETRY_STATUS and self.attempt < self.policy.attempts

    def on_exception(self, exc: httpx.TransportError, record: bool = True) -> Exception:
        """Report a connection error or timeout; the chronotope exception to raise if not retried."""
        if record:
            self.breaker.record(False)
        kind = RequestTimeoutError if isinstance(exc, httpx.TimeoutException) else ConnectionFailedError
        err = kind(f"{self.method} failed: {type(exc).__name__}: {exc or 'connection closed'} "
                   f"(request id {self.request_id})")
        annotate(err, None, self.request_id)
        err.__cause__ = exc
        return err

    def can_retry_error(self) -> bool:
        return self.retryable and self.attempt < self.policy.attempts

    def pause(self, response: httpx.Response | None, error: Exception) -> float:
        """Seconds to sleep before the next attempt; raises the deadline error if it would not fit."""
        wait = None
        if response is not None:
            wait = retry_after(response.headers.get("retry-after"), self.policy.retry_after_cap)
        if wait is None:
            wait = self.policy.backoff_for(self.attempt - 1)
        if wait >= self.remaining():
            raise self._deadline_error(error)
        log.debug("retrying %s (attempt %d failed: %s) in %.2fs", self.method, self.attempt, error, wait)
        return wait


class _Token:
    """A bearer token and when to renew it (shortly before it expires)."""

    def __init__(self):
        self.value: str | None = None
        self.renew_at = 0.0
        self.logins = 0

    def fresh(self) -> bool:
        return self.value is not None and time.monotonic() < self.renew_at

    def set(self, body: dict) -> None:
        ttl = float(body.get("expires_in") or 900)
        self.value = body["access_token"]
        self.renew_at = time.monotonic() + ttl - min(30.0, ttl * 0.2)  # renew in the last 20% (at most 30 s)
        self.logins += 1


class _Base:
    """Configuration and helpers shared by the sync and async transports."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 api_key: str | None = None, timeout: float = 30.0, retry: RetryPolicy | None = None,
                 breaker: CircuitBreaker | None = None, max_connections: int = 20, max_keepalive: int = 10,
                 keepalive_expiry: float = 30.0, on_request: Callable[[httpx.Request], Any] | None = None,
                 on_response: Callable[[httpx.Response], Any] | None = None):
        if password is not None and username is None:
            raise ValueError("a password needs a username")
        self.url = url.rstrip("/")
        self.username, self._password, self._api_key = username, password, api_key
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._on_request, self._on_response = on_request, on_response
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive,
                                    keepalive_expiry=keepalive_expiry)
        self._token = _Token()
        self.user: str | None = None  # the user name once logged in (None with an API key)

    @property
    def logins(self) -> int:
        """How many times this transport has logged in (first use, renewals, after a 401)."""
        return self._token.logins

    def _call(self, method, content, timeout, deadline, idempotency_key) -> _Call:
        resendable = content is None or isinstance(content, (bytes, bytearray, memoryview, str))
        return _Call(method, self.retry, self.breaker, self.timeout if timeout is None else timeout,
                     deadline, idempotency_key, resendable)

    def _headers(self, call: _Call, headers: dict | None, idempotency_key: str | None, token: str | None) -> dict:
        out = {"X-Request-ID": call.request_id, **(headers or {})}
        if idempotency_key is not None:
            out["Idempotency-Key"] = idempotency_key
        if self._api_key is not None:
            out["X-API-Key"] = self._api_key
        elif token is not None:
            out["Authorization"] = f"Bearer {token}"
        return out

    def _hooks_request(self, request: httpx.Request, call: _Call) -> None:
        log.debug("-> %s %s (request id %s, attempt %d)", request.method, request.url, call.request_id,
                  call.attempt)
        if self._on_request is not None:
            self._on_request(request)

    def _hooks_response(self, response: httpx.Response, call: _Call) -> None:
        log.debug("<- %s %s %d (request id %s)", response.request.method, response.request.url,
                  response.status_code, _request_id(response, call.request_id))
        if self._on_response is not None:
            self._on_response(response)

    def _needs_login(self) -> bool:
        return self._password is not None and not self._token.fresh()

    def _login_call(self, deadline: float | None) -> _Call:
        # logging in changes nothing on the server, so it may be retried like a GET
        call = _Call("POST", self.retry, self.breaker, self.timeout, deadline, None, True)
        call.retryable = True
        return call

    def _login_form(self) -> dict:
        return {"username": self.username, "password": self._password}

    def _stale_401(self, response: httpx.Response, call: _Call, token: str | None) -> bool:
        """A 401 to a password session's token: log in again and resend, once per request."""
        if response.status_code != 401 or self._password is None or call.relogged:
            return False
        call.relogged = True
        if self._token.value == token:  # nobody renewed it meanwhile
            self._token.renew_at = 0.0
        return True

    def __repr__(self) -> str:
        who = "api key" if self._api_key else (self.username or "anonymous")
        return f"<{type(self).__name__} {self.url} as {who}, breaker {self.breaker.state}>"


class Transport(_Base):
    """Synchronous transport: one pooled ``httpx.Client``, safe to share between threads.

    Parameters
    ----------
    url : str
        The server, e.g. ``"http://127.0.0.1:8000"``.
    username, password : str, optional
        Log in at first use and keep the token fresh.
    api_key : str, optional
        Send ``X-API-Key`` instead (takes precedence over a password).
    timeout : float
        Seconds one attempt may take (connect, write, read); a call's ``timeout=`` overrides it.
    retry : RetryPolicy
        Attempts, backoff and total deadline.
    breaker : CircuitBreaker
        This transport's breaker (a new one by default).
    max_connections, max_keepalive, keepalive_expiry
        Connection pool limits: open connections, idle ones kept, seconds an idle one is kept.
    on_request, on_response : callable, optional
        Called with each ``httpx.Request`` before it is sent and each ``httpx.Response`` received
        (every attempt). The ``chronotope.client`` logger also logs both at DEBUG.
    """

    def __init__(self, url: str, **options):
        super().__init__(url, **options)
        self._client = httpx.Client(base_url=self.url, limits=self._limits, timeout=self.timeout)
        self._login_lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params=None, json=None, content=None, data=None,
                headers: dict | None = None, idempotency_key: str | None = None, timeout: float | None = None,
                deadline: float | None = None) -> httpx.Response:
        """Send a request and return its 2xx response (body read); raise the chronotope exception otherwise.

        ``timeout`` bounds each attempt, ``deadline`` the whole call with its retries (seconds).
        ``idempotency_key`` makes a POST retryable: it is sent as ``Idempotency-Key`` on every attempt.
        """
        with self._send(method, path, params, json, content, data, headers, idempotency_key, timeout, deadline,
                        stream=False) as response:
            return response

    @contextlib.contextmanager
    def stream(self, method: str, path: str, *, params=None, json=None, content=None, data=None,
               headers: dict | None = None, idempotency_key: str | None = None, timeout: float | None = None,
               deadline: float | None = None):
        """Like :meth:`request`, but yield the 2xx response with its body unread (``iter_bytes``, ``read``);
        it is closed when the ``with`` block ends. Retries happen only before the body starts."""
        with self._send(method, path, params, json, content, data, headers, idempotency_key, timeout, deadline,
                        stream=True) as response:
            yield response

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- machinery ----------------------------------------------------------------------------------------------
    def _ensure_login(self, deadline: float) -> str | None:
        if not self._needs_login():
            return self._token.value
        with self._login_lock:  # one thread logs in; the others wait and use its token
            if self._needs_login():
                with self._send("POST", _TOKEN_PATH, None, None, None, self._login_form(), None, None, None,
                                deadline, stream=False, login=True) as response:
                    self._token.set(response.json())
                    self.user = self.username
            return self._token.value

    @contextlib.contextmanager
    def _send(self, method, path, params, json, content, data, headers, idempotency_key, timeout, deadline, *,
              stream: bool, login: bool = False):
        call = self._login_call(deadline) if login else self._call(method, content, timeout, deadline, idempotency_key)
        while True:
            # logging in counts against the request's deadline
            token = None if login else self._ensure_login(call.remaining())
            attempt_timeout = call.begin()
            try:
                request = self._client.build_request(
                    method, path, params=params, json=json, content=content, data=data, timeout=attempt_timeout,
                    headers=self._headers(call, headers, idempotency_key, token))
                self._hooks_request(request, call)
                response = self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                error = call.on_exception(exc)
                if not call.can_retry_error():
                    raise error from exc
                time.sleep(call.pause(None, error))
                continue
            except BaseException:  # a bad argument, a hook's error, an interrupt: says nothing about the server
                call.breaker.release()
                raise
            try:
                try:  # read whole answers (and error bodies) here, so that a broken body is retried too
                    if not (stream and response.is_success):
                        response.read()
                except httpx.TransportError as exc:
                    error = call.on_exception(exc)
                    if not call.can_retry_error():
                        raise error from exc
                    time.sleep(call.pause(None, error))
                    continue
                retry = call.on_response(response)
                self._hooks_response(response, call)
                if response.is_success:
                    try:
                        yield response
                    except httpx.TransportError as exc:  # the streamed body broke off: too late to retry
                        raise call.on_exception(exc, record=False) from exc
                    return
                error = _error_for(response, call.request_id)
            finally:
                response.close()
            if not login and self._stale_401(response, call, token):
                continue
            if not retry:
                raise error
            time.sleep(call.pause(response, error))


class AsyncTransport(_Base):
    """Asynchronous transport: one pooled ``httpx.AsyncClient``, safe to share between the tasks of one loop.

    Takes the same parameters as :class:`Transport`; ``await request(...)``, ``async with stream(...)``,
    ``await aclose()`` / ``async with``.
    """

    def __init__(self, url: str, **options):
        super().__init__(url, **options)
        self._client = httpx.AsyncClient(base_url=self.url, limits=self._limits, timeout=self.timeout)
        self._login_lock: asyncio.Lock | None = None  # made on first use, inside the running loop

    async def request(self, method: str, path: str, *, params=None, json=None, content=None, data=None,
                      headers: dict | None = None, idempotency_key: str | None = None,
                      timeout: float | None = None, deadline: float | None = None) -> httpx.Response:
        """See :meth:`Transport.request`."""
        async with self._send(method, path, params, json, content, data, headers, idempotency_key, timeout,
                              deadline, stream=False) as response:
            return response

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, *, params=None, json=None, content=None, data=None,
                     headers: dict | None = None, idempotency_key: str | None = None,
                     timeout: float | None = None, deadline: float | None = None):
        """See :meth:`Transport.stream` (``aiter_bytes``, ``aread`` on the response)."""
        async with self._send(method, path, params, json, content, data, headers, idempotency_key, timeout,
                              deadline, stream=True) as response:
            yield response

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def __aenter__(self) -> "AsyncTransport":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def _ensure_login(self, deadline: float) -> str | None:
        if not self._needs_login():
            return self._token.value
        if self._login_lock is None:
            self._login_lock = asyncio.Lock()
        async with self._login_lock:  # one task logs in; the others wait and use its token
            if self._needs_login():
                async with self._send("POST", _TOKEN_PATH, None, None, None, self._login_form(), None, None, None,
                                      deadline, stream=False, login=True) as response:
                    self._token.set(response.json())
                    self.user = self.username
            return self._token.value

    @contextlib.asynccontextmanager
    async def _send(self, method, path, params, json, content, data, headers, idempotency_key, timeout, deadline,
                    *, stream: bool, login: bool = False):
        call = self._login_call(deadline) if login else self._call(method, content, timeout, deadline, idempotency_key)
        while True:
            # logging in counts against the request's deadline
            token = None if login else await self._ensure_login(call.remaining())
            attempt_timeout = call.begin()
            try:
                request = self._client.build_request(
                    method, path, params=params, json=json, content=content, data=data, timeout=attempt_timeout,
                    headers=self._headers(call, headers, idempotency_key, token))
                self._hooks_request(request, call)
                response = await self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                error = call.on_exception(exc)
                if not call.can_retry_error():
                    raise error from exc
                await asyncio.sleep(call.pause(None, error))
                continue
            except BaseException:  # also cancellation: says nothing about the server
                call.breaker.release()
                raise
            try:
                try:  # read whole answers (and error bodies) here, so that a broken body is retried too
                    if not (stream and response.is_success):
                        await response.aread()
                except httpx.TransportError as exc:
                    error = call.on_exception(exc)
                    if not call.can_retry_error():
                        raise error from exc
                    await asyncio.sleep(call.pause(None, error))
                    continue
                retry = call.on_response(response)
                self._hooks_response(response, call)
                if response.is_success:
                    try:
                        yield response
                    except httpx.TransportError as exc:  # the streamed body broke off: too late to retry
                        raise call.on_exception(exc, record=False) from exc
                    return
                error = _error_for(response, call.request_id)
            finally:
                await response.aclose()
            if not login and self._stale_401(response, call, token):
                continue
            if not retry:
                raise error
            await asyncio.sleep(call.pause(response, error))
