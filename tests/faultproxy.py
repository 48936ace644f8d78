"""A TCP proxy for fault-injection tests: sits between a client and a server on 127.0.0.1 and misbehaves on demand.

Modes (switch at run time, from any thread):

* ``passing()`` — forward both ways;
* ``drop()`` — close every live connection now and each new one as it is accepted;
* ``delay(ms)`` — forward, sleeping ``ms`` before each chunk sent to the server;
* ``fail503(retry_after)`` — cut live connections; answer each new request with a canned 503 and
  ``Retry-After`` itself, without asking the server;
* ``pause()`` — accept, but forward nothing either way (live connections hang too) until the mode changes;
* ``drop_response()`` — forward requests, but close the client's connection as soon as the server
  answers (the server did the work; the client never hears of it).

``counters`` counts connections accepted, dropped, 503s answered, responses dropped and chunks relayed.
"""

from __future__ import annotations

import select
import socket
import threading
import time

_POLL = 0.05


class FaultProxy:
    """``FaultProxy(target_port)`` listens on a random port of 127.0.0.1 (``.port``, ``.url``)."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode, self.delay_ms, self.retry_after = "pass", 0, "1"
        self.counters = {"accepted": 0, "dropped": 0, "answered_503": 0, "responses_dropped": 0,
                         "chunks_up": 0, "chunks_down": 0}
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self._thread.start()

    # -- modes ----------------------------------------------------------------------------------------------------
    def passing(self) -> None:
        self.mode = "pass"

    def drop(self) -> None:
        self.mode = "drop"
        self._cut_live()

    def delay(self, ms: float) -> None:
        self.delay_ms, self.mode = ms, "delay"

    def fail503(self, retry_after: str | int | float = 1) -> None:
        self.retry_after, self.mode = str(retry_after), "503"
        self._cut_live()

    def pause(self) -> None:
        self.mode = "pause"

    def drop_response(self) -> None:
        self.mode = "drop_response"

    def retarget(self, target_port: int) -> None:
        """Forward new connections to another port (e.g. a restarted server)."""
        self.target = (self.target[0], target_port)

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        except OSError:
            pass
        self._listener.close()
        self._cut_live()
        self._thread.join(timeout=2)

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- machinery ------------------------------------------------------------------------------------------------
    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._live.update(socks)

    def _untrack_close(self, *socks: socket.socket) -> None:
        with self._lock:
            self._live.difference_update(socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def _cut_live(self) -> None:
        with self._lock:
            live, self._live = list(self._live), set()
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._count("accepted")
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        self._track(conn)
        while self.mode == "pause" and not self._closed:
            time.sleep(_POLL)
        mode = self.mode
        if self._closed or mode == "drop":
            self._count("dropped")
            self._untrack_close(conn)
            return
        if mode == "503":
            self._answer_503(conn)
            return
        try:
            up = socket.create_connection(self.target, timeout=5)
        except OSError:
            self._untrack_close(conn)
            return
        self._track(up)
        try:
            self._relay(conn, up)
        except OSError:
            pass
        finally:
            self._untrack_close(conn, up)

    def _relay(self, conn: socket.socket, up: socket.socket) -> None:
        while not self._closed:
            mode = self.mode
            if mode in ("drop", "503"):
                return
            if mode == "pause":
                time.sleep(_POLL)
                continue
            ready, _, _ = select.select([conn, up], [], [], _POLL)
            mode = self.mode  # it may have changed while waiting
            if ready and mode in ("drop", "503", "pause"):
                continue
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                if s is conn:
                    if mode == "delay":
                        time.sleep(self.delay_ms / 1000)
                    up.sendall(data)
                    self._count("chunks_up")
                elif mode == "drop_response":
                    self._count("responses_dropped")
                    return
                else:
                    conn.sendall(data)
                    self._count("chunks_down")

    def _answer_503(self, conn: socket.socket) -> None:
        """Read one request (headers and a Content-Length body) and answer 503 with Retry-After."""
        try:
            conn.settimeout(5)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, body = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            detail = b'{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"fault proxy"}'
            self._count("answered_503")  # before answering, so a client that got the answer sees the count
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
                         b"Retry-After: " + self.retry_after.encode() + b"\r\nConnection: close\r\n"
                         b"Content-Length: " + str(len(detail)).encode() + b"\r\n\r\n" + detail)
        except OSError:
            pass
        finally:
            self._untrack_close(conn)
