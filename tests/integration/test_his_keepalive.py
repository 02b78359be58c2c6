"""The simulator's and benchmarks' HTTP client (yibao.sim.his.KeepAlive) against a real HTTP/1.1 server
on 127.0.0.1: one connection for many requests, answers whole however they are framed, and the
server's closing of the connection (said, or done while idle) handled as HTTP clients do."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from yibao.sim.his import KeepAlive


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[tuple[str, int]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.client_address not in self.connections:
            self.connections.append(self.client_address)
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"[", body, b",", self.headers.get("X-Sign", "").encode(), b"]"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        status = 404 if self.path == "/missing" else 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/last":
            self.send_header("Connection", "close")
        if self.path in ("/last", "/dropped"):  # /dropped: closed unsaid, as a worker that goes away idle
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    Handler.connections = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_many_requests_go_over_one_connection_and_each_answer_is_its_own(port: int) -> None:
    conn = KeepAlive(port)
    answers = [conn.post(b'{"n": %d}' % i + b" " * (i * 997)) for i in range(30)]
    assert [a.rstrip() for a in answers] == [b'{"n": %d}' % i for i in range(30)]
    assert len(answers[29]) == 9 + 29 * 997  # a body larger than one read comes whole
    assert len(Handler.connections) == 1
    conn.close()


def test_a_chunked_answer_comes_whole_with_the_headers_sent(port: int) -> None:
    conn = KeepAlive(port)
    assert conn.post(b'{"a": 1}', {"X-Sign": "abc"}, path="/chunked") == b'[{"a": 1},abc]'
    assert conn.post(b"2") == b"2"
    assert len(Handler.connections) == 1


def test_a_connection_the_server_says_it_closes_is_not_used_again(port: int) -> None:
    conn = KeepAlive(port)
    assert conn.post(b"1", path="/last") == b"1"
    assert conn.sock is None
    assert conn.post(b"2") == b"2"
    assert len(Handler.connections) == 2


def test_a_connection_closed_while_idle_is_opened_again_for_the_same_request(port: int) -> None:
    conn = KeepAlive(port)
    assert conn.post(b"1", path="/dropped") == b"1"
    assert conn.sock is not None  # nothing said: the client learns of it at its next request
    assert conn.post(b"2") == b"2"
    assert len(Handler.connections) == 2


def test_a_first_request_refused_unread_is_not_sent_again() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        threading.Thread(target=lambda: listener.accept()[0].close(), daemon=True).start()
        # a reset or an end before any answer; sent again, it would wait for the answer until the timeout
        with pytest.raises(ConnectionResetError):  # http.client.RemoteDisconnected is one too
            KeepAlive(listener.getsockname()[1], timeout=5).post(b"x")


def test_a_status_other_than_200_is_an_error_naming_it(port: int) -> None:
    with pytest.raises(http.client.HTTPException, match="HTTP 404"):
        KeepAlive(port).post(b"x", path="/missing")


def test_no_server_is_an_os_error() -> None:
    with pytest.raises(OSError):
        KeepAlive(1, timeout=2).post(b"x")
