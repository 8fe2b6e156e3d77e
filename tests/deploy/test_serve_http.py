"""Serving over real HTTP on 127.0.0.1: SECURITY-TESTS group H (T35-T39)."""

from __future__ import annotations

import http.client
import inspect
import json
import socket
import threading
import time

import pytest

import mlops_nb as mnb
from mlops_nb.deploy import Server, _app, _runtime, serve
from mlops_nb.errors import ValidationError

TOKEN = "s3cret-token-for-tests-0123456789"


class Counting:
    """Wraps an onnxruntime session: counts calls, can be slow or fail on demand."""

    def __init__(self, session):
        self.session, self.calls, self.delay, self.fail = session, 0, 0.0, None

    def run(self, *args, **kwargs):
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError(self.fail)
        return self.session.run(*args, **kwargs)


def start(model, monkeypatch=None, **options):
    holder = {}
    original = _runtime.make_session

    def spy(*args, **kwargs):
        holder["s"] = Counting(original(*args, **kwargs))
        return holder["s"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_runtime, "make_session", spy)
        server = serve(model, port=0, **options)
    return server, holder["s"]


@pytest.fixture(scope="module")
def live(dep):
    with mnb.config_context(user="tester"):
        # strict: unseen categories are refused (422) as well (T37, T39); the
        # default, scoring them as unknown, is tested in test_rows_as_they_come.py
        server, session = start(
            dep.lgbm, token=TOKEN, record_rows=4, record_seconds=0.3, strict=True
        )
    yield server, session
    server.stop()


def call(
    server, method, path, body=None, headers=None, token=TOKEN, ctype="application/json"
):
    port = int(server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = dict(headers or {})
    if token is not None:
        h.setdefault("Authorization", f"Bearer {token}")
    if ctype is not None and body is not None:
        h.setdefault("Content-Type", ctype)
    if isinstance(body, (list, dict)):
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def raw(server, payload: bytes, *, read_timeout=5.0) -> bytes:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(payload)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except TimeoutError:
            pass
        return b"".join(chunks)


def record(dep):
    X = dep.lgbm._X(dep.test.frame.head(1), "t")
    rec = X.iloc[0].to_dict()
    return {k: (None if v == "(missing)" else v) for k, v in rec.items()}


# -- T35 authentication by default ---------------------------------------------------
def test_defaults_loopback_and_bearer_token(live, dep):
    server, session = live
    assert server.url.startswith("http://127.0.0.1:")
    assert server._server.servers[0].sockets[0].getsockname()[0] == "127.0.0.1"
    before = session.calls
    status, headers, body = call(server, "POST", "/predict", [record(dep)], token=None)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    status, headers, _ = call(
        server, "POST", "/predict", [record(dep)], token="wrong-token-0123456789"
    )
    assert status == 401
    assert 'error="invalid_token"' in headers["www-authenticate"]
    for value in (
        "Bearer",
        "Basic " + TOKEN,
        TOKEN,
        "Bearer  ",
        "bearer " + TOKEN[:-1],
    ):
        assert (
            call(
                server,
                "POST",
                "/predict",
                [record(dep)],
                headers={"Authorization": value},
            )[0]
            == 401
        )
    assert session.calls == before  # the model never ran
    status, _, body = call(server, "POST", "/predict", [record(dep)])
    assert status == 200
    out = json.loads(body)
    assert out["classes"] == [0, 1]
    assert len(out["probabilities"]) == 1
    assert session.calls == before + 1


def test_connections_use_tcp_nodelay(live):
    # without it, Nagle + delayed ACK added ~40 ms to every response (measured)
    server, _ = live
    port = int(server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/health")
    conn.getresponse().read()
    protocols = list(server._server.server_state.connections)
    assert protocols
    for p in protocols:
        sock = p.transport.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    conn.close()


def test_token_comparison_is_constant_time():
    source = inspect.getsource(_app.Guard.token_ok)
    assert "hmac.compare_digest" in source
    assert "sha256" in source


def test_health_is_open_and_says_nothing_about_the_model(live):
    server, _ = live
    status, headers, body = call(server, "GET", "/health", token=None)
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert "server" not in headers


def test_every_route_but_health_needs_the_token(live):
    server, _ = live
    app = server._server.config.app
    assert isinstance(app, _app.Guard)
    routes = [(r.path, sorted(r.methods - {"HEAD"})) for r in app.app.routes]
    assert {p for p, _ in routes} == {"/predict", "/health", "/metadata"}
    for path, methods in routes:
        for method in methods:
            body = [] if method == "POST" else None
            status = call(server, method, path, body, token=None)[0]
            if path in _app.PUBLIC_PATHS:
                assert status == 200, path
            else:
                assert status == 401, (method, path)
                assert call(server, method, path, body, token="x" * 20)[0] == 401
                assert call(server, method, path, body)[0] != 401
    # paths that do not exist do not reveal it without the token
    assert call(server, "GET", "/admin", token=None)[0] == 401
    status, _, body = call(server, "GET", "/admin")
    assert status == 404
    assert json.loads(body)["error"] == "not_found"


def test_metadata_needs_the_token_and_describes_inputs(live):
    server, _ = live
    status, _, body = call(server, "GET", "/metadata")
    meta = json.loads(body)
    assert status == 200
    assert meta["model"] == "clf v1"
    assert [i["name"] for i in meta["inputs"]] == ["x1", "x2", "color", "size"]


def test_no_default_credentials_and_no_silent_exposure(dep):
    a, _ = start(dep.lgbm, record=False)
    b, _ = start(dep.lgbm, record=False)
    try:
        assert a.token != b.token
        assert len(a.token) >= 32
    finally:
        a.stop()
        b.stop()
    with pytest.raises(ValidationError, match="expose=True"):
        serve(dep.lgbm, host="0.0.0.0", token=TOKEN, allowed_hosts=["me.example"])
    with pytest.raises(ValidationError, match="needs a token you chose"):
        serve(dep.lgbm, host="0.0.0.0", expose=True, allowed_hosts=["me.example"])
    with pytest.raises(ValidationError, match="allowed_hosts"):
        serve(dep.lgbm, host="0.0.0.0", expose=True, token=TOKEN)
    with pytest.raises(ValidationError, match="at least 16 characters"):
        serve(dep.lgbm, token="short")
    with pytest.raises(ValidationError, match="port="):
        serve(dep.lgbm, port=70000)


def test_port_in_use_is_a_clear_error(live, dep):
    server, _ = live
    port = int(server.url.rsplit(":", 1)[1])
    with pytest.raises(
        mnb.errors.MlopsNbError, match=f"cannot listen on 127.0.0.1:{port}"
    ):
        serve(dep.lgbm, port=port, token=TOKEN, record=False)


# -- T36 size and content-type limits ------------------------------------------------
def test_oversized_bodies_get_413_without_reading_them(live, dep):
    server, session = live
    before = session.calls
    limit = server.limits.max_body_bytes
    head = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        f"{TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {limit + 1}\r\n\r\n"
    ).encode()
    # the body is never sent: the 413 can only come from the declared length
    answer = raw(server, head)
    assert answer.startswith(b"HTTP/1.1 413")
    chunked = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        f"{TOKEN}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"[" + b" " * 65536
    body = b"".join(
        b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(limit // len(piece) + 2)
    )
    assert raw(server, chunked + body + b"0\r\n\r\n").startswith(b"HTTP/1.1 413")
    # a Content-Length smaller than the body: only that many bytes are read (bad JSON)
    lie = json.dumps([record(dep)] * 3).encode()
    short = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        f"{TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 10\r\n\r\n"
    ).encode() + lie
    assert raw(server, short).startswith(b"HTTP/1.1 400")
    assert session.calls == before


@pytest.mark.parametrize(
    "ctype",
    [
        "application/python-pickle",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "text/plain",
        None,
    ],
)
def test_non_json_media_types_get_415(live, ctype, tmp_path):
    import pickle

    server, session = live
    before = session.calls
    canary = tmp_path / "canary"

    class Payload:
        def __reduce__(self):
            return (canary.touch, ())

    headers = {} if ctype is None else {"Content-Type": ctype}
    status, _, body = call(
        server, "POST", "/predict", pickle.dumps(Payload()), headers=headers, ctype=None
    )
    assert status == 415
    assert json.loads(body)["error"] == "unsupported_media_type"
    assert not canary.exists()
    assert session.calls == before


# -- T37 schema validation -----------------------------------------------------------
def _bad_cases(rec):
    deep = "[" * 100_000 + "]" * 100_000
    return [
        ({k: v for k, v in rec.items() if k != "x1"}, "x1", "missing"),
        ({**rec, "ssn": "123"}, "ssn", "extra"),
        ({**rec, "x1": True}, "x1", "type"),
        ({**rec, "x1": "1.5"}, "x1", "type"),
        ({**rec, "x1": [1, 2]}, "x1", "nesting"),
        ({**rec, "color": {"a": 1}}, "color", "nesting"),
        ({**rec, "color": "ultraviolet"}, "color", "unseen_category"),
        ({**rec, "x2": 1e300}, "x2", "range"),
        (
            json.dumps({**rec, "x1": 1}).replace('"x1": 1', '"x1": NaN'),
            "x1",
            "not_finite",
        ),
        (
            json.dumps({**rec, "x1": 1}).replace('"x1": 1', '"x1": Infinity'),
            "x1",
            "not_finite",
        ),
        (
            json.dumps({**rec, "x2": 1}).replace('"x2": 1', '"x2": -Infinity'),
            "x2",
            "not_finite",
        ),
        ([rec] * 1001, None, "max_rows"),
        ([], None, "empty"),
        ("42", None, "shape"),
        (deep, None, "nesting"),
    ]


def test_schema_violations_get_422_naming_field_and_rule(live, dep):
    server, session = live
    before = session.calls
    rejected_before = sum(server.stats.to_dict()["rejected"].values())
    cases = _bad_cases(record(dep))
    for body, field, rule in cases:
        status, _, data = call(server, "POST", "/predict", body)
        assert status == 422, (rule, data[:200])
        answer = json.loads(data)
        problems = answer["problems"]
        assert any(p["rule"] == rule and p["field"] == field for p in problems), (
            rule,
            problems,
        )
        if field:
            assert field in answer["message"]
    assert session.calls == before  # the model was never called
    stats = server.stats.to_dict()
    assert sum(stats["rejected"].values()) - rejected_before == len(cases)
    assert stats["rejected"]["422 unseen_category"] >= 1


def test_null_means_missing(live, dep):
    server, _ = live
    status, _, body = call(
        server, "POST", "/predict", [{**record(dep), "x2": None, "color": None}]
    )
    assert status == 200
    assert len(json.loads(body)["predictions"]) == 1


# -- T38 timeouts, rate limits, responsiveness ---------------------------------------
def test_rate_limit_slow_clients_and_slow_model(dep):
    server, session = start(
        dep.lgbm,
        token=TOKEN,
        record=False,
        rate_limit=5,
        burst=5,
        timeout_s=0.5,
        header_timeout_s=1.0,
    )
    try:
        statuses = [call(server, "GET", "/metadata")[0] for _ in range(12)]
        assert statuses[:5] == [200] * 5
        assert 429 in statuses
        status, headers, _ = call(server, "GET", "/metadata")
        assert status == 429
        assert int(headers["retry-after"]) >= 1
        time.sleep(1.2)  # tokens come back
        # a client sending its headers byte by byte is cut off; /health keeps answering
        port = int(server.url.rsplit(":", 1)[1])
        slow = socket.create_connection(("127.0.0.1", port), timeout=5)
        closed_after = None
        t0 = time.perf_counter()
        try:
            for byte in (
                b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
            ):
                slow.sendall(bytes([byte]))
                time.sleep(0.05)
                if time.perf_counter() - t0 > 0.5:
                    assert call(server, "GET", "/health", token=None)[0] == 200
                if time.perf_counter() - t0 > 4:
                    break
        except OSError:
            closed_after = time.perf_counter() - t0
        finally:
            slow.close()
        assert closed_after is not None  # cut off before the loop's 4 s ended
        # a slow model call times out (504) while /health stays quick
        time.sleep(1.0)
        session.delay = 2.0
        done = {}
        worker = threading.Thread(
            target=lambda: done.update(
                r=call(server, "POST", "/predict", [record(dep)])
            )
        )
        worker.start()
        time.sleep(0.2)
        assert call(server, "GET", "/health", token=None)[0] == 200
        assert worker.is_alive()  # /health answered while the model call still ran
        worker.join(10)
        assert done["r"][0] == 504
        assert json.loads(done["r"][2])["error"] == "model_timeout"
    finally:
        session.delay = 0
        server.stop()


def test_the_rate_table_is_bounded():
    guard = _app.Guard(
        None,
        token=TOKEN,
        allowed_hosts=["127.0.0.1"],
        limits=_app.Limits(),
        stats=_app.Stats(),
    )
    for i in range(_app._MAX_CLIENTS + 500):
        guard.rate_ok(f"10.0.{i // 256}.{i % 256}")
    assert len(guard._buckets) == _app._MAX_CLIENTS


# -- T39 no SSRF, no leaks, strict hosts ---------------------------------------------
def test_urls_and_paths_are_data_never_fetched(live, dep, tmp_path):
    server, session = live
    before = session.calls
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    for value in (
        "http://169.254.169.254/latest/meta-data",
        f"file://{secret}",
        str(secret),
    ):
        status, _, body = call(
            server, "POST", "/predict", [{**record(dep), "color": value}]
        )
        assert status == 422
        assert "unseen_category" in body.decode()
        status, _, body = call(
            server, "POST", "/predict", [{**record(dep), "x1": value}]
        )
        assert status == 422
    assert session.calls == before


def test_errors_leak_no_traces_paths_or_versions(live, dep):
    server, session = live
    session.fail = "boom in /secret/path/model.py line 3"
    try:
        status, headers, body = call(server, "POST", "/predict", [record(dep)])
    finally:
        session.fail = None
    assert status == 500
    text = body.decode()
    assert json.loads(text)["error"] == "model_error"
    for leak in (
        "Traceback",
        "/secret",
        "boom",
        "site-packages",
        "uvicorn",
        "starlette",
        "onnxruntime",
        "1.",
    ):
        assert leak not in text, leak
    assert "server" not in headers
    for status_body in (
        call(server, "POST", "/predict", "{bad json")[2],
        call(server, "PUT", "/predict", [])[2],
    ):
        assert b"Traceback" not in status_body
        assert b"site-packages" not in status_body


def test_unexpected_host_headers_are_rejected(live):
    server, _ = live
    port = server.url.rsplit(":", 1)[1]
    assert (
        call(server, "GET", "/health", headers={"Host": "evil.example"}, token=None)[0]
        == 400
    )
    assert (
        call(server, "GET", "/metadata", headers={"Host": f"attacker.test:{port}"})[0]
        == 400
    )
    assert (
        call(
            server, "GET", "/health", headers={"Host": f"localhost:{port}"}, token=None
        )[0]
        == 200
    )


def test_cors_is_off_unless_origins_are_listed(live, dep):
    server, _ = live
    _, headers, _ = call(
        server, "GET", "/metadata", headers={"Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in headers
    other, _ = start(
        dep.lgbm, token=TOKEN, record=False, cors_origins=["http://notebook.local"]
    )
    try:
        _, headers, _ = call(
            other, "GET", "/metadata", headers={"Origin": "http://notebook.local"}
        )
        assert headers["access-control-allow-origin"] == "http://notebook.local"
        _, headers, _ = call(
            other, "GET", "/metadata", headers={"Origin": "http://evil.example"}
        )
        assert "access-control-allow-origin" not in headers
    finally:
        other.stop()


# -- served batches reach Drift Ops; the handle --------------------------------------
def test_served_batches_become_data_versions(dep):
    with mnb.config_context(user="tester"):
        server, _ = start(dep.lgbm, token=TOKEN, record_rows=3, record_seconds=60)
        rows = dep.lgbm._X(dep.test.frame.head(4), "t").to_dict("records")
        rows = [
            {k: (None if v == "(missing)" else v) for k, v in r.items()} for r in rows
        ]
        assert call(server, "POST", "/predict", rows[:2])[0] == 200
        assert call(server, "POST", "/predict", [{**rows[0], "ssn": "1-2"}])[0] == 422
        assert call(server, "POST", "/predict", rows[2:])[0] == 200
        server.stop()
    assert server.recorded_versions
    asset = dep.project.asset("clf-served")
    frame = asset.frame
    assert len(frame) == 4  # the rejected request is not recorded
    assert {
        "x1",
        "x2",
        "color",
        "size",
        "prediction",
        "proba_0",
        "proba_1",
        "served_at",
    } <= set(frame.columns)
    assert asset.schema.time == "served_at"
    assert "served by clf v1" in asset.note
    log = dep.project.audit_log()
    assert {"serve start", "serve stop"} <= set(log["action"])


def test_handle_renders_and_its_widget_calls_the_service(live):
    server, _ = live
    assert isinstance(server, Server)
    assert server.running
    html = server._repr_mimebundle_()["text/html"]
    assert server.url in html
    assert TOKEN not in html
    assert "Bearer" in html
    box = server.widget()
    box.send_button.click()
    assert "HTTP 200" in box.answer.value
    assert "running" in box.status_html.value
