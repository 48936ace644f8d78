"""A real `chronotope serve` process on 127.0.0.1 for the API tests, and clients logged in to it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

PROBLEM = "application/problem+json"
_PASSWORD = re.compile(r"user 'demo' with password '([^']+)'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `chronotope serve` process; ``start()`` waits until it answers and returns its URL."""

    def __init__(self, *args: str, env: dict | None = None, port: int | None = None):
        self.port = port or free_port()
        self.args = [*args, "--port", str(self.port)]
        # generous limits unless a test sets its own: the suites send bursts from one address
        self.env = {**os.environ, "CHRONOTOPE_RATE_LIMIT": "1000000/minute",
                    "CHRONOTOPE_LOGIN_RATE_LIMIT": "100000/minute", **(env or {})}
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_password: str | None = None
        self.proc = None

    def start(self, timeout: float = 90.0) -> "Server":
        self.proc = subprocess.Popen([sys.executable, "-m", "chronotope.cli", "serve", *self.args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            self.stop()
            raise AssertionError("server did not start")
        # the console lines before "serving ..." (printed before the socket opens) hold the demo password
        os.set_blocking(self.proc.stderr.fileno(), False)
        text = self.proc.stderr.read() or ""
        os.set_blocking(self.proc.stderr.fileno(), True)
        found = _PASSWORD.search(text)
        if found:
            self.admin_password = found.group(1)
        self.console = text
        return self

    def token(self, username: str = "demo", password: str | None = None) -> str:
        resp = httpx.post(self.url + "/auth/token",
                          data={"username": username, "password": password or self.admin_password})
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        """An httpx client on the server, logged in as ``token`` (default: the demo admin)."""
        if token is None and self.admin_password is not None:
            token = self.token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0, **kwargs)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc.stderr.close()


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run the chronotope command line (text in and out)."""
    return subprocess.run([sys.executable, "-m", "chronotope.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


@contextlib.contextmanager
def serving(store, *args: str, env: dict | None = None):
    """A started `chronotope serve --store STORE *args` (``.store`` set), stopped cleanly at the end."""
    server = Server("--store", str(store), *args, env=env).start()
    server.store = str(store)
    try:
        yield server
    finally:
        assert server.stop() == 0


def assert_problem(resp: httpx.Response, status: int, detail: str | None = None) -> dict:
    """The response is an RFC 9457 problem with ``status`` (and ``detail`` in its detail)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"] == PROBLEM
    body = resp.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    assert body["instance"] == resp.request.url.path
    if detail is not None:
        assert detail in body["detail"], body["detail"]
    assert "Traceback" not in resp.text
    return body
