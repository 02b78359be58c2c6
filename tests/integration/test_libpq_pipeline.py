"""A libpq pipeline larger than the socket takes at once (yibao.store.libpq): sent whole, answered."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.databases import fresh_database
from yibao.store import libpq


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[psycopg.Connection[Any]]:
    with fresh_database("postgresql", tmp_path) as url, psycopg.connect(url, prepare_threshold=None) as connection:
        yield connection


def test_a_pipeline_larger_than_the_sockets_buffer_is_sent_whole(conn: psycopg.Connection[Any]) -> None:
    assert conn.pgconn.nonblocking  # psycopg's connections: libpq keeps what the socket does not take
    with socket.socket(fileno=conn.pgconn.socket) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # a small buffer: the pipeline overflows it
        sock.detach()  # the descriptor stays libpq's
    value = "张" * 1_000_000  # 3 MB of UTF-8
    answered: list[list[libpq.Row]] = []
    running = threading.Thread(
        target=lambda: answered.append(
            libpq.run(conn, {}, [("SELECT length(?::text), octet_length(?::text)", [value, value])], commit=True)
        ),
        daemon=True,  # left waiting for ever if the pipeline is not sent whole
    )
    running.start()
    running.join(timeout=30)
    assert not running.is_alive(), "the pipeline was not sent whole: client and server wait for each other"
    assert answered == [[(b"1000000", b"3000000")]]
