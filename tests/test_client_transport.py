"""The SDK's transport against real `chronotope serve` processes, with a fault-injecting TCP proxy in between.

Retries, idempotent ingest, Retry-After, the circuit breaker, deadlines, token renewal, API keys, a server
restart, and many threads or tasks on one transport. Timing bounds are generous (at least 2x).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import sys
import threading
import time
import uuid

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from chronotope.client import (AsyncTransport, AuthenticationError, CircuitBreaker, CircuitOpenError,  # noqa: E402
                               ConnectionFailedError, PermissionDeniedError, RequestTimeoutError, RetryPolicy,
                               ServerError, Transport)
from chronotope.client.problems import problem_error  # noqa: E402
from chronotope.client.transport import retry_after  # noqa: E402
from chronotope.errors import ChronotopeError, CorruptDataError, InvalidArgumentError  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server, cli, serving  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

FAST = RetryPolicy(attempts=30, backoff=0.05, max_backoff=0.3, retry_after_cap=5.0, deadline=20.0)
PATIENT = CircuitBreaker(failure_threshold=1000, failure_rate=1.0, window=1000)  # template: never opens


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("store"), "--demo") as server:
        yield server


@pytest.fixture
def proxy(srv):
    with FaultProxy(srv.port) as p:
        yield p


def transport(srv, url=None, **options) -> Transport:
    """A demo-admin transport on ``url`` (default: the server), with quick retries and a breaker that never opens."""
    options.setdefault("retry", FAST)
    options.setdefault("breaker", CircuitBreaker(failure_threshold=1000, failure_rate=1.0, window=1000))
    if "api_key" not in options:
        options.setdefault("username", "demo")
        options.setdefault("password", srv.admin_password)
    return Transport(url or srv.url, **options)


def points(srv) -> int:
    """Rows in `ais`, read straight from the server (not through the proxy)."""
    with srv.client() as c:
        stats = c.get("/stats").json()["collections"]["ais"]
    return stats["points"] + stats["unflushed_points"]


def rows(n: int) -> list[dict]:
    oid = uuid.uuid4().int % 10**9
    return [{"object_id": oid, "t": f"2020-12-01T05:{i:02d}:00Z", "x": -74.0 + i * 1e-3, "y": 40.6} for i in range(n)]


def later(seconds: float, action) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


# -- problem+json -> exceptions -------------------------------------------------------------------------------------
def test_problems_become_the_embedded_stores_exceptions():
    exc = problem_error(422, {"detail": "column 'x': bad", "error": "InvalidArgumentError"}, "rid")
    assert type(exc) is InvalidArgumentError and isinstance(exc, ValueError)
    assert str(exc) == "column 'x': bad (request id rid)" and exc.status == 422 and exc.request_id == "rid"
    from chronotope.store import IdempotencyConflictError
    assert type(problem_error(422, {"detail": "d", "error": "IdempotencyConflictError"}, "r")) is \
        IdempotencyConflictError
    assert type(problem_error(500, {"detail": "d", "error": "CorruptDataError"}, "r")) is CorruptDataError
    assert type(problem_error(400, {"detail": "d", "error": "os.system"}, "r")) is InvalidArgumentError
    for status, cls in [(400, InvalidArgumentError), (404, InvalidArgumentError), (409, InvalidArgumentError),
                        (413, InvalidArgumentError), (401, AuthenticationError), (403, PermissionDeniedError),
                        (503, ServerError), (500, ServerError)]:
        exc = problem_error(status, {"detail": "d"}, None)
        assert type(exc) is cls and isinstance(exc, ChronotopeError) and exc.status == status


def test_server_errors_carry_status_detail_and_request_id(srv, caplog):
    seen = []
    caplog.set_level(logging.DEBUG, logger="chronotope.client")
    with transport(srv, on_response=seen.append) as t:
        with pytest.raises(InvalidArgumentError) as caught:
            t.request("GET", "/collections/nowhere/query")
        exc = caught.value
        assert exc.status == 404 and exc.problem["status"] == 404 and isinstance(exc, ValueError)
        assert exc.request_id and f"(request id {exc.request_id})" in str(exc)
        assert exc.request_id == seen[-1].headers.get("x-request-id", exc.request_id)
        assert seen[-1].request.headers["x-request-id"]
    logged = [r.getMessage() for r in caplog.records if r.name == "chronotope.client"]
    assert any(m.startswith("-> GET") for m in logged) and any(m.startswith("<- GET") and " 404 " in m
                                                                for m in logged)


# -- retries --------------------------------------------------------------------------------------------------------
def test_retry_after_reads_seconds_and_dates_and_is_capped():
    assert retry_after("2", 30.0) == 2.0 and retry_after("999", 30.0) == 30.0 and retry_after(None, 1) is None
    date = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= retry_after(date, 30.0) <= 10.0 and retry_after(date, 3.0) == 3.0
    assert retry_after(email.utils.formatdate(time.time() - 100, usegmt=True), 30.0) == 0.0


def test_full_jitter_backoff_stays_under_its_bound():
    policy = RetryPolicy(backoff=0.1, max_backoff=1.0)
    sleeps = [policy.backoff_for(n) for n in range(8) for _ in range(50)]
    assert all(0 <= s <= 1.0 for s in sleeps) and max(policy.backoff_for(0) for _ in range(50)) <= 0.1
    assert len(set(sleeps)) > 100  # jittered, not fixed


def test_requests_are_retried_until_dropped_connections_pass_again(srv, proxy):
    with transport(srv, proxy.url) as t:
        t.request("GET", "/collections")  # logged in
        proxy.drop()
        later(0.6, proxy.passing)
        started = time.monotonic()
        assert t.request("GET", "/collections").status_code == 200
        assert proxy.counters["dropped"] >= 1 and time.monotonic() - started >= 0.5


def test_a_delayed_proxy_slows_requests_but_they_succeed(srv, proxy):
    with transport(srv, proxy.url) as t:
        t.request("GET", "/collections")
        proxy.delay(300)
        started = time.monotonic()
        assert t.request("GET", "/collections").status_code == 200
        assert time.monotonic() - started >= 0.3


def test_a_keyed_post_whose_answer_was_lost_is_retried_and_stored_once(srv, proxy):
    before = points(srv)
    with transport(srv, proxy.url) as t:
        t.request("GET", "/collections")
        proxy.drop_response()  # the server stores the batch, the client never hears back
        later(0.8, proxy.passing)
        resp = t.request("POST", "/collections/ais/samples", json=rows(5), idempotency_key=f"k-{uuid.uuid4()}")
    assert resp.json() == {"appended": 5} and resp.headers.get("idempotent-replayed") == "true"
    assert proxy.counters["responses_dropped"] >= 1
    assert points(srv) == before + 5


def test_a_post_without_a_key_is_not_retried(srv, proxy):
    sent = []
    before = points(srv)
    with transport(srv, proxy.url, on_request=sent.append) as t:
        t.request("GET", "/collections")
        proxy.drop_response()
        with pytest.raises(ConnectionFailedError) as caught:
            t.request("POST", "/collections/ais/samples", json=rows(3))
    assert [r.method for r in sent].count("POST") == 2  # the login, and the one attempt
    assert caught.value.request_id == sent[-1].headers["x-request-id"]
    assert points(srv) == before + 3  # stored by the server once; nobody sent it again


def test_retry_after_of_a_503_is_honoured(srv, proxy):
    with transport(srv, proxy.url) as t:
        t.request("GET", "/collections")
        proxy.fail503(retry_after=1)
        later(0.2, proxy.passing)
        started = time.monotonic()
        assert t.request("GET", "/collections").status_code == 200
        assert 0.9 <= time.monotonic() - started < 5.0 and proxy.counters["answered_503"] == 1


def test_a_long_retry_after_is_capped(srv, proxy):
    policy = RetryPolicy(attempts=10, backoff=0.05, retry_after_cap=0.3, deadline=20)
    with transport(srv, proxy.url, retry=policy) as t:
        t.request("GET", "/collections")
        proxy.fail503(retry_after=3600)
        later(0.5, proxy.passing)
        started = time.monotonic()
        assert t.request("GET", "/collections").status_code == 200
        assert 0.3 <= time.monotonic() - started < 5.0 and proxy.counters["answered_503"] >= 2


def test_503s_that_outlast_the_attempts_raise_server_error(srv, proxy):
    with transport(srv, proxy.url, retry=RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05)) as t:
        t.request("GET", "/collections")
        proxy.fail503(retry_after=0)
        with pytest.raises(ServerError) as caught:
            t.request("GET", "/collections")
    assert caught.value.status == 503 and proxy.counters["answered_503"] == 3


# -- deadlines ------------------------------------------------------------------------------------------------------
def test_the_total_deadline_is_respected(srv, proxy):
    with transport(srv, proxy.url, retry=RetryPolicy(attempts=100, backoff=0.05, deadline=30)) as t:
        t.request("GET", "/collections")
        proxy.pause()
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            t.request("GET", "/collections", timeout=0.4, deadline=1.5)
        assert 1.0 <= time.monotonic() - started <= 3.0
        assert isinstance(caught.value, ChronotopeError) and isinstance(caught.value, TimeoutError)
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):  # a POST times out once: no retry
            t.request("POST", "/collections/ais/samples", json=rows(1), timeout=0.5)
        assert time.monotonic() - started <= 1.5
        proxy.passing()


def test_a_retry_after_beyond_the_deadline_fails_at_once(srv, proxy):
    with transport(srv, proxy.url) as t:
        t.request("GET", "/collections")
        proxy.fail503(retry_after=4)
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            t.request("GET", "/collections", deadline=2.0)
        assert time.monotonic() - started < 1.5 and isinstance(caught.value.__cause__, ServerError)


# -- circuit breaker ------------------------------------------------------------------------------------------------
def test_the_breaker_opens_fails_fast_half_opens_and_closes(srv, proxy):
    breaker = CircuitBreaker(failure_threshold=3, cooldown=1.0)
    with transport(srv, proxy.url, retry=RetryPolicy(attempts=1), breaker=breaker) as t:
        t.request("GET", "/collections")
        proxy.fail503(retry_after=0)
        for _ in range(3):
            with pytest.raises(ServerError):
                t.request("GET", "/collections")
        assert breaker.state == "open" and breaker.counters["opened"] == 1
        started = time.monotonic()
        with pytest.raises(CircuitOpenError, match="probe"):
            t.request("GET", "/collections")
        assert time.monotonic() - started < 0.5
        assert proxy.counters["answered_503"] == 3 and breaker.counters["rejected"] == 1

        time.sleep(1.1)
        assert breaker.state == "half-open"
        with pytest.raises(ServerError):  # the probe fails: open again
            t.request("GET", "/collections")
        assert breaker.state == "open" and breaker.counters["opened"] == 2
        with pytest.raises(CircuitOpenError):
            t.request("GET", "/collections")

        time.sleep(1.1)
        proxy.passing()
        assert t.request("GET", "/collections").status_code == 200  # the probe succeeds: closed
        assert breaker.state == "closed" and breaker.counters["consecutive_failures"] == 0


def test_client_errors_do_not_open_the_breaker(srv):
    breaker = CircuitBreaker(failure_threshold=2, window=3)
    with transport(srv, breaker=breaker) as t:
        for _ in range(5):
            with pytest.raises(InvalidArgumentError):
                t.request("GET", "/collections/nowhere/query")
    assert breaker.state == "closed" and breaker.counters["failures"] == 0


def test_the_breaker_opens_on_a_failure_rate_and_lets_one_probe_through():
    now = [0.0]
    b = CircuitBreaker(failure_threshold=10, failure_rate=0.5, window=4, cooldown=5, clock=lambda: now[0])
    for ok in (True, False, True):
        b.acquire()
        b.record(ok)
    assert b.state == "closed"
    b.acquire()
    b.record(False)  # 2 of the last 4 failed, never 2 in a row
    assert b.state == "open" and b.counters["failure_rate"] == 0.5
    with pytest.raises(CircuitOpenError, match=r"in 5\.0s"):
        b.acquire()
    now[0] = 5.0
    b.acquire()  # the probe
    with pytest.raises(CircuitOpenError, match="in flight"):
        b.acquire()
    b.record(True)
    assert b.state == "closed"
    b.reset()
    assert b.counters["calls"] == 0


# -- authentication -------------------------------------------------------------------------------------------------
def logins(requests) -> int:
    return sum(r.url.path == "/auth/token" for r in requests)


def test_a_401_triggers_exactly_one_login_again(srv):
    sent = []
    with transport(srv, on_request=sent.append) as t:
        t.request("GET", "/collections")
        assert logins(sent) == 1 and t.user == "demo"
        t._token.value = "not-a-token"  # as if the server forgot our token
        assert t.request("GET", "/collections").status_code == 200
        assert logins(sent) == 2 and t.logins == 2


def test_a_wrong_password_fails_once_without_looping(srv):
    sent = []
    with transport(srv, password="wrong", on_request=sent.append) as t:
        with pytest.raises(AuthenticationError) as caught:
            t.request("GET", "/collections")
    assert caught.value.status == 401 and logins(sent) == 1 and len(sent) == 1


def test_api_keys_are_sent_as_x_api_key(srv):
    made = cli("user", "add", "robot", "--role", "reader", "--store", srv.store, stdin="robot-password\n")
    assert made.returncode == 0, made.stderr
    made = cli("apikey", "create", "--user", "robot", "--store", srv.store)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    sent = []
    with transport(srv, api_key=key, on_request=sent.append) as t:
        assert t.request("GET", "/collections").status_code == 200
        with pytest.raises(PermissionDeniedError) as caught:
            t.request("GET", "/stats")  # admin only
        assert caught.value.status == 403
    assert logins(sent) == 0 and all(r.headers["x-api-key"] == key for r in sent)
    assert all("authorization" not in r.headers for r in sent)
    with transport(srv, api_key="ct_nonsense", on_request=sent.append) as t:
        with pytest.raises(AuthenticationError):
            t.request("GET", "/collections")


def test_tokens_are_renewed_before_they_expire(tmp_path):
    with serving(tmp_path / "store", "--demo", env={"CHRONOTOPE_TOKEN_TTL": "2"}) as short:
        with transport(short) as t:
            ends = time.monotonic() + 3.5
            while time.monotonic() < ends:
                assert t.request("GET", "/collections").status_code == 200
                time.sleep(0.25)
            assert t.logins >= 2


# -- restarts and concurrency ---------------------------------------------------------------------------------------
def test_the_client_rides_through_a_server_restart(tmp_path):
    store = tmp_path / "store"
    first = Server("--store", str(store), "--demo").start()
    second = Server("--store", str(store), port=first.port)
    try:
        policy = RetryPolicy(attempts=200, backoff=0.1, max_backoff=0.5, deadline=90)
        with transport(first, retry=policy) as t:
            assert t.request("GET", "/collections").status_code == 200
            assert first.stop() == 0
            restarting = threading.Thread(target=second.start)
            restarting.start()
            try:
                assert t.request("GET", "/collections").status_code == 200  # no user action
            finally:
                restarting.join()
            assert t.breaker.counters["failures"] >= 1  # it did see the server gone
            assert t.logins == 1  # the token outlives the process: the store keeps the secret
    finally:
        first.stop()
        second.stop()


def test_many_threads_share_one_transport(srv, proxy):
    proxy.delay(20)
    ids, errors = [], []
    with transport(srv, proxy.url, max_connections=4, max_keepalive=4,
                   on_request=lambda r: ids.append(r.headers["x-request-id"])) as t:
        def work():
            try:
                for _ in range(8):
                    assert t.request("GET", "/collections").status_code == 200
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors and t.logins == 1
    assert len(set(ids)) == len(ids) == 65


def test_many_tasks_share_one_async_transport(srv, proxy):
    sent = []

    async def main():
        async with AsyncTransport(proxy.url, username="demo", password=srv.admin_password, retry=FAST,
                                  breaker=CircuitBreaker(failure_threshold=1000, failure_rate=1.0, window=1000),
                                  max_connections=5, on_request=sent.append) as t:
            results = await asyncio.gather(*(t.request("GET", "/collections") for _ in range(40)))
            assert all(r.status_code == 200 for r in results) and t.logins == 1
            proxy.drop()
            asyncio.get_running_loop().call_later(0.5, proxy.passing)
            results = await asyncio.gather(*(t.request("GET", "/collections") for _ in range(10)))
            assert all(r.status_code == 200 for r in results)
            with pytest.raises(InvalidArgumentError):
                await t.request("GET", "/collections/nowhere/query")
            async with t.stream("GET", "/collections/ais/query", params={"f": "arrow"}) as resp:
                body = b"".join([chunk async for chunk in resp.aiter_bytes()])
            return body

    body = asyncio.run(main())
    assert logins(sent) == 1 and proxy.counters["dropped"] >= 1
    pa = pytest.importorskip("pyarrow")
    import pyarrow.ipc  # noqa: F401 - makes pa.ipc available
    assert pa.ipc.open_stream(body).read_all().num_rows == points(srv)


def test_streams_retry_before_the_body_and_yield_arrow(srv, proxy):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.ipc  # noqa: F401 - makes pa.ipc available
    with transport(srv, proxy.url) as t:
        t.request("GET", "/collections")
        proxy.fail503(retry_after=0.1)
        later(0.3, proxy.passing)
        with t.stream("GET", "/collections/ais/query", params={"f": "arrow"}) as resp:
            table = pa.ipc.open_stream(resp.read()).read_all()
    assert table.num_rows == points(srv) and proxy.counters["answered_503"] >= 1


def test_the_async_transport_logs_in_again_once_and_keeps_its_deadline(srv, proxy):
    sent = []

    async def main():
        async with AsyncTransport(proxy.url, username="demo", password=srv.admin_password, on_request=sent.append,
                                  retry=RetryPolicy(attempts=100, backoff=0.05, deadline=30)) as t:
            await t.request("GET", "/collections")
            t._token.value = "not-a-token"  # as if the server forgot our token
            assert (await t.request("GET", "/collections")).status_code == 200
            assert logins(sent) == 2 and t.user == "demo"
            proxy.pause()
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError):
                await t.request("GET", "/collections", timeout=0.4, deadline=1.5)
            assert 1.0 <= time.monotonic() - started <= 3.0
            proxy.passing()

    asyncio.run(main())
