"""Authentication, accounts, rate limits and request limits against a real server (`chronotope serve`)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time

import httpx
import jwt
import pytest

pytest.importorskip("fastapi")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver import Server, assert_problem, cli, serving  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("auth") / "store")


@pytest.fixture(scope="module")
def srv(store):
    with serving(store, "--demo") as server:
        yield server


def test_public_pages_need_no_login_but_data_does(srv):
    for path in ("/", "/conformance", "/api"):
        assert httpx.get(srv.url + path).status_code == 200
    resp = httpx.get(srv.url + "/collections")
    assert_problem(resp, 401, "authentication required")
    assert resp.headers["www-authenticate"] == "Bearer"


def test_demo_admin_is_created_once_with_a_printed_password(srv, store):
    assert srv.admin_password and len(srv.admin_password) >= 16
    assert "created admin user 'demo'" in srv.console
    users = cli("user", "list", "--store", store)
    assert users.returncode == 0 and "demo: admin on every collection" in users.stdout
    # the accounts file: owner-only, an argon2 hash, never the password itself
    accounts = os.path.join(store, "auth.json")
    assert stat.S_IMODE(os.stat(accounts).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(store, "secret.key")).st_mode) == 0o600
    with open(accounts) as f:
        text = f.read()
    assert srv.admin_password not in text and json.loads(text)["users"]["demo"]["password"].startswith("$argon2id$")


def test_login_issues_a_short_lived_token(srv):
    resp = httpx.post(srv.url + "/auth/token", data={"username": "demo", "password": srv.admin_password})
    body = resp.json()
    assert resp.status_code == 200 and body["token_type"] == "bearer" and body["expires_in"] == 900
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "demo" and claims["iss"] == claims["aud"] == "chronotope"
    assert claims["exp"] - claims["iat"] == 900
    me = httpx.get(srv.url + "/auth/me", headers={"Authorization": "Bearer " + body["access_token"]}).json()
    assert me["user"] == "demo" and me["grants"][0]["role"] == "admin"


@pytest.mark.parametrize("username, password", [("demo", "wrong-password"), ("nobody", "whatever-pass"), ("", "x")])
def test_bad_logins_are_refused(srv, username, password):
    resp = httpx.post(srv.url + "/auth/token", data={"username": username, "password": password})
    assert resp.status_code in (401, 422)
    assert resp.headers["content-type"] == "application/problem+json"


def _forged(srv, store, **changes) -> str:
    with open(os.path.join(store, "secret.key")) as f:
        secret = f.read().strip()
    now = int(time.time())
    claims = {"sub": "demo", "iat": now, "nbf": now, "exp": now + 600, "iss": "chronotope", "aud": "chronotope"}
    algorithm = changes.pop("algorithm", "HS256")
    key = changes.pop("key", secret)
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize("changes", [
    {"exp": int(time.time()) - 10},          # expired
    {"aud": "someone-else"},                 # wrong audience
    {"iss": "someone-else"},                 # wrong issuer
    {"exp": None},                           # no expiry
    {"key": "another-secret-of-enough-length-0123456789"},  # signed with another key
    {"algorithm": "HS512"},                  # algorithm not the pinned one
    {"sub": "ghost"},                        # no such user
])
def test_bad_tokens_get_401(srv, store, changes):
    token = _forged(srv, store, **changes)
    assert_problem(httpx.get(srv.url + "/collections", headers={"Authorization": f"Bearer {token}"}), 401)


def test_a_forged_token_with_the_right_secret_works_so_the_checks_above_are_meaningful(srv, store):
    token = _forged(srv, store)
    assert httpx.get(srv.url + "/collections", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_unsigned_and_garbage_tokens_get_401(srv):
    none = jwt.encode({"sub": "demo", "exp": int(time.time()) + 60, "iss": "chronotope", "aud": "chronotope"},
                      None, algorithm="none")
    for token in (none, "not.a.token", "x" * 5000):
        assert_problem(httpx.get(srv.url + "/collections", headers={"Authorization": f"Bearer {token}"}), 401)


def test_users_added_while_serving_can_log_in_at_once_and_removal_is_immediate(srv, store):
    added = cli("user", "add", "alice", "--role", "reader", "--store", store, stdin="alice-password\n")
    assert added.returncode == 0, added.stderr
    assert "added user 'alice': reader on every collection" in added.stdout
    token = srv.token("alice", "alice-password")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(srv.url + "/collections", headers=headers).status_code == 200
    assert cli("user", "remove", "alice", "--store", store).returncode == 0
    assert_problem(httpx.get(srv.url + "/collections", headers=headers), 401, "no longer exists")


def test_api_keys_act_as_their_user_until_revoked(srv, store):
    assert cli("user", "add", "robot", "--role", "reader", "--collection", "ais", "--store", store,
               stdin="robot-password\n").returncode == 0
    made = cli("apikey", "create", "--user", "robot", "--label", "ingest box", "--store", store)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    key_id = made.stdout.split()[2]
    with open(os.path.join(store, "auth.json")) as f:
        assert key.startswith("ct_") and key not in f.read()
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        assert httpx.get(srv.url + "/collections/ais", headers=headers).status_code == 200
        assert httpx.get(srv.url + "/auth/me", headers=headers).json()["user"] == "robot"
    listed = cli("apikey", "list", "--store", store).stdout
    assert key_id in listed and "robot" in listed and "ingest box" in listed
    assert_problem(httpx.get(srv.url + "/collections/ais", headers={"X-API-Key": key[:-2] + "xx"}), 401)
    assert cli("apikey", "revoke", key_id, "--store", store).returncode == 0
    assert_problem(httpx.get(srv.url + "/collections/ais", headers={"X-API-Key": key}), 401, "revoked")


def test_user_commands_check_their_input(store):
    short = cli("user", "add", "bob", "--role", "reader", "--store", store, stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    bad_name = cli("user", "add", "../bob", "--role", "reader", "--store", store, stdin="long-enough\n")
    assert bad_name.returncode == 2 and "invalid user name" in bad_name.stderr
    unknown = cli("user", "grant", "nobody", "--role", "reader", "--store", store)
    assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr
    bad_bbox = cli("user", "add", "carol", "--role", "reader", "--bbox=1,2,3", "--store", store, stdin="long-enough\n")
    assert bad_bbox.returncode == 2 and "bbox" in bad_bbox.stderr
    bad_role = cli("user", "add", "carol", "--role", "god", "--store", store, stdin="long-enough\n")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr
    not_a_store = cli("user", "list", "--store", os.path.join(store, "nope"))
    assert not_a_store.returncode == 2 and "not a chronotope store" in not_a_store.stderr
    dup = cli("user", "add", "demo", "--role", "reader", "--store", store, stdin="long-enough\n")
    assert dup.returncode == 2 and "exists already" in dup.stderr


def test_grants_are_replaced_per_collection_and_revoked(store):
    assert cli("user", "add", "dave", "--role", "reader", "--store", store, stdin="dave-password\n").returncode == 0
    limited = cli("user", "grant", "dave", "--role", "writer", "--collection", "ais", "--bbox=-74.1,40.5,-73.9,40.7",
                  "--time", "2020-12-02T00:00:00Z/..", "--store", store)
    assert limited.returncode == 0, limited.stderr
    assert "writer on ais, inside [-74.1, 40.5, -73.9, 40.7], from 2020-12-02T00:00:00Z" in limited.stdout
    listing = cli("user", "list", "--store", store).stdout
    assert "dave: reader on every collection; writer on ais, inside" in listing
    assert cli("user", "revoke", "dave", "--collection", "ais", "--store", store).returncode == 0
    assert "dave: reader on every collection\n" in cli("user", "list", "--store", store).stdout
    again = cli("user", "revoke", "dave", "--collection", "ais", "--store", store)
    assert again.returncode == 2 and "has no grant on 'ais'" in again.stderr


def test_a_store_without_users_says_how_to_add_one(tmp_path):
    server = Server("--store", str(tmp_path / "s")).start()
    try:
        assert "chronotope user add NAME --role admin" in server.console and server.admin_password is None
    finally:
        assert server.stop() == 0


def test_a_configured_secret_signs_the_tokens_and_a_short_one_is_refused(tmp_path):
    secret = "s" * 40
    server = Server("--store", str(tmp_path / "s"), "--demo", env={"CHRONOTOPE_SECRET": secret}).start()
    try:
        claims = jwt.decode(server.token(), secret, algorithms=["HS256"], audience="chronotope")
        assert claims["sub"] == "demo"
        assert not (tmp_path / "s" / "secret.key").exists()
    finally:
        assert server.stop() == 0
    proc = subprocess.run([sys.executable, "-m", "chronotope.cli", "serve", "--store", str(tmp_path / "s")],
                          env={**os.environ, "CHRONOTOPE_SECRET": "too-short"}, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "secret is too short" in proc.stderr


# ---- rate limits and request limits ----

@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    # the rate limit as a command-line option (it beats the environment's), the rest from the environment
    server = Server("--store", str(tmp_path_factory.mktemp("strict") / "store"), "--demo", "--rate-limit", "8/2 second",
                    env={"CHRONOTOPE_LOGIN_RATE_LIMIT": "3/minute",
                         "CHRONOTOPE_MAX_BODY": "1000", "CHRONOTOPE_REQUEST_TIMEOUT": "1.5"}).start()
    try:
        yield server
    finally:
        assert server.stop() == 0


def _burst_until_429(client: httpx.Client, path: str, tries: int = 40) -> httpx.Response:
    for _ in range(tries):
        resp = client.get(path)
        if resp.status_code == 429:
            return resp
        assert resp.status_code == 200
        assert int(resp.headers["ratelimit-limit"]) == 8
    raise AssertionError("no 429 in the burst")


def test_a_burst_gets_429_with_retry_after_and_service_resumes(strict):
    time.sleep(2.1)
    with httpx.Client(base_url=strict.url) as client:
        resp = _burst_until_429(client, "/conformance")
        body = assert_problem(resp, 429, "rate limit")
        wait = int(resp.headers["retry-after"])
        assert 1 <= wait <= 2 and resp.headers["ratelimit-remaining"] == "0" and body["status"] == 429
        time.sleep(wait + 0.2)
        assert client.get("/conformance").status_code == 200


def test_the_limit_is_per_principal_too(strict):
    """Two client addresses (127.0.0.1 and 127.0.0.2) with one principal share its budget."""
    time.sleep(2.1)
    token = strict.token()
    time.sleep(2.1)
    headers = {"Authorization": f"Bearer {token}"}
    first = httpx.Client(base_url=strict.url, headers=headers, transport=httpx.HTTPTransport(local_address="127.0.0.1"))
    second = httpx.Client(base_url=strict.url, headers=headers, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with first, second:
        for _ in range(4):
            assert first.get("/collections").status_code == 200
        statuses = [second.get("/collections").status_code for _ in range(6)]
        assert statuses[:4] == [200] * 4 and 429 in statuses  # 127.0.0.2's own budget is not used up


def test_login_attempts_are_limited(strict):
    codes = [httpx.post(strict.url + "/auth/token", data={"username": "mallory", "password": f"guess-{i}"},
                        headers={}).status_code for i in range(5)]
    assert codes[:3] == [401] * 3 and codes[3:] == [429, 429]


def test_bodies_over_the_limit_get_413(strict):
    time.sleep(2.1)
    resp = httpx.post(strict.url + "/auth/token", content=b"u" * 2000,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(resp, 413, "larger than 1000 bytes")

    def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(10):
            yield b"u" * 300

    resp = httpx.post(strict.url + "/auth/token", content=chunks(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(resp, 413, "larger than 1000 bytes")


def test_a_request_that_stalls_is_answered_503_after_the_timeout(strict):
    time.sleep(2.1)
    with socket.create_connection(("127.0.0.1", strict.port)) as sock:
        sock.sendall(b"POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100\r\n\r\nusername=demo")  # and never the rest
        sock.settimeout(10)
        start = time.monotonic()
        reply = sock.recv(4096).decode()
        assert reply.startswith("HTTP/1.1 503") and "application/problem+json" in reply
        assert 1.0 < time.monotonic() - start < 8
