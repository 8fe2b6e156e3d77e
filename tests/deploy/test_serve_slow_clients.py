"""Slow-header clients cannot starve the service (issue 14 item 9, first part).

About 64 connections sending their request headers one byte at a time filled
uvicorn's ``limit_concurrency`` (which counts every open connection), so ``/health``
and ``/predict`` answered 503 until the header deadline dropped them. The connection
limit now sits far above the model's own waiting bound, and the header deadline
(5 s by default) cuts such clients off.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket

import mlops_nb as mnb
from mlops_nb.deploy import serve

TOKEN = "slow-clients-token-0123456789abcdef"
PARTIAL = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def port_of(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def open_slow(port: int, n: int) -> list[socket.socket]:
    """``n`` connections that each sent the first byte of a request, and no more."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(PARTIAL[:1])
        socks.append(s)
    return socks


def trickle(socks: list[socket.socket], i: int) -> None:
    """One more header byte on every slow connection still open."""
    for s in socks:
        with contextlib.suppress(OSError):
            s.sendall(PARTIAL[1 + i % (len(PARTIAL) - 1) :][:1] or b"a")


def request(port: int, method: str, path: str, body=None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def row(dep) -> str:
    frame = dep.test.frame.head(1).drop(columns=["y", "group", "id"])
    rec = {
        k: (None if v != v else (v.item() if hasattr(v, "item") else v))  # NaN: null
        for k, v in frame.iloc[0].items()
    }
    return json.dumps([rec])


def test_slow_header_clients_do_not_make_health_or_predict_503(dep):
    with mnb.config_context(user="tester"):
        # a long header deadline: the slow clients stay connected for the whole check
        server = serve(dep.lgbm, port=0, token=TOKEN, record=False, header_timeout_s=60)
    port = port_of(server)
    slow = open_slow(port, 100)
    try:
        statuses = []
        for i in range(12):  # bounded: a dozen rounds of one byte per slow client
            trickle(slow, i)
            statuses.append(request(port, "GET", "/health"))
            statuses.append(request(port, "POST", "/predict", row(dep)))
        assert statuses == [200] * len(statuses), statuses
    finally:
        for s in slow:
            s.close()
        server.stop()


def test_slow_header_clients_are_disconnected_by_the_default_deadline(dep):
    with mnb.config_context(user="tester"):
        server = serve(dep.lgbm, port=0, token=TOKEN, record=False)
    slow = open_slow(port_of(server), 64)
    try:
        closed = 0
        for s in slow:  # the first read waits at most 8 s: the deadline is 5 s
            s.settimeout(8)
            try:
                closed += s.recv(1024) == b""  # the server closed it, answering nothing
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass
        assert closed == len(slow)
        assert request(port_of(server), "GET", "/health") == 200
    finally:
        for s in slow:
            s.close()
        server.stop()
