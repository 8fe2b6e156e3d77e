"""The HTTP service around an ONNX session: a Starlette app with its guards.

Routes: ``POST /predict`` (JSON records, one object or an array), ``GET /health``
(``{"status": "ok"}`` and nothing else) and ``GET /metadata`` (model, inputs,
limits). One outer guard runs before any route, in this order:

1. **Host header** must be one of the allowed hosts (400 otherwise): a DNS-rebinding
   page cannot reach a service bound to 127.0.0.1 under another name.
2. **Bearer token** on every path except ``/health`` — including unknown paths, so
   nothing about the routes leaks without it: 401 when missing *and* when wrong
   (RFC 6750 ``invalid_token``; the comparison is constant-time on SHA-256 digests).
3. **Rate limit** per client address (token bucket): 429 with ``Retry-After``.

``/predict`` then checks the media type (415 unless ``application/json``), the body
size (413 from ``Content-Length`` before reading, and while reading chunked or
unsized bodies), parses JSON with ``NaN``/``Infinity`` marked and validates every
record against the model's schema (422 naming row, field and rule) before the model
is called. The model runs in a worker thread with a timeout (504) and a bound on
waiting requests (503), so ``/health`` answers throughout. Error bodies are short
JSON; tracebacks go to the log only.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.deploy import _standalone as std

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from starlette.requests import Request

log = logging.getLogger("mlops_nb.deploy")

PUBLIC_PATHS = frozenset({"/health"})
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]
_MAX_CLIENTS = 4096


@dataclass(frozen=True)
class Limits:
    """Limits of one service (see :func:`mlops_nb.deploy.serve`)."""

    max_body_bytes: int = 1_000_000
    max_rows: int = 1000
    rate_per_second: float = 50.0
    burst: int = 100
    predict_timeout_s: float = 5.0
    body_timeout_s: float = 10.0
    max_waiting: int = 16


@dataclass
class Stats:
    """Counters of a running service (thread-safe)."""

    requests: int = 0
    scored_requests: int = 0
    scored_rows: int = 0
    rejected: collections.Counter = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reject(self, reason: str) -> None:
        """Count a refused request by reason (status or rule)."""
        with self.lock:
            self.rejected[reason] += 1

    def scored(self, rows: int) -> None:
        """Count a scored request."""
        with self.lock:
            self.scored_requests += 1
            self.scored_rows += rows

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy."""
        with self.lock:
            return {
                "requests": self.requests,
                "scored_requests": self.scored_requests,
                "scored_rows": self.scored_rows,
                "rejected": dict(self.rejected),
            }


def json_body(status: int, error: str, message: str, **extra: Any) -> tuple[int, bytes]:
    """Return ``(status, body)`` of a short JSON error."""
    return status, json.dumps({"error": error, "message": message, **extra}).encode()


async def send_json(
    send: Any, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send a complete JSON response on a raw ASGI channel."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """The outer ASGI guard: host check, bearer token, rate limit, security headers."""

    def __init__(
        self,
        app: Any,
        *,
        token: str,
        allowed_hosts: list[str],
        limits: Limits,
        stats: Stats,
    ):
        self.app = app
        self._token_digest = hashlib.sha256(token.encode()).digest()
        self.allowed = {h.lower().strip("[]") for h in allowed_hosts}
        self.limits, self.stats = limits, stats
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = (
            collections.OrderedDict()
        )

    def token_ok(self, header: str | None) -> tuple[bool, str]:
        """Check an ``Authorization`` header; return (ok, reason)."""
        if not header:
            return False, "missing"
        scheme, _, credential = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            return False, "invalid"
        given = hashlib.sha256(
            credential.strip().encode("utf-8", "surrogateescape")
        ).digest()
        return (
            (True, "ok")
            if hmac.compare_digest(given, self._token_digest)
            else (False, "invalid")
        )

    def rate_ok(self, client: str) -> bool:
        """Token bucket per client address; the table of clients is bounded."""
        now = time.monotonic()
        rate, burst = self.limits.rate_per_second, float(self.limits.burst)
        tokens, last = self._buckets.pop(client, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        ok = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if ok else tokens, now)
        while len(self._buckets) > _MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return ok

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.stats.lock:
            self.stats.requests += 1
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in scope["headers"]
        }
        if (
            "*" not in self.allowed
            and _hostname(headers.get("host", "")) not in self.allowed
        ):
            self.stats.reject("400 host")
            await send_json(send, *json_body(400, "bad_host", "unexpected Host header"))
            return
        if scope["path"] not in PUBLIC_PATHS:
            ok, reason = self.token_ok(headers.get("authorization"))
            if not ok:
                self.stats.reject(f"401 {reason} token")
                challenge = b'Bearer realm="mlops_nb"' + (
                    b', error="invalid_token"' if reason == "invalid" else b""
                )
                message = (
                    "a bearer token is required"
                    if reason == "missing"
                    else "the bearer token is not valid"
                )
                await send_json(
                    send,
                    *json_body(401, "unauthorized", message),
                    [(b"www-authenticate", challenge)],
                )
                return
            client = (scope.get("client") or ("?", 0))[0]
            if not self.rate_ok(client):
                self.stats.reject("429 rate limit")
                retry = str(
                    max(1, int(1 / max(self.limits.rate_per_second, 1e-9)))
                ).encode()
                await send_json(
                    send,
                    *json_body(429, "rate_limited", "too many requests; slow down"),
                    [(b"retry-after", retry)],
                )
                return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), *SECURITY_HEADERS],
                }
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


async def read_body(receive: Any, limit: int, timeout: float) -> bytes:
    """Read a request body, stopping as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _TooSlow
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except asyncio.TimeoutError as err:
            raise _TooSlow from err
        if message["type"] == "http.disconnect":
            raise _TooSlow
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            raise _TooLarge
        chunks.append(body)
        if not message.get("more_body", False):
            return b"".join(chunks)


def build_app(
    run: Callable[[dict[str, Any]], list[Any]],
    schema: dict[str, Any],
    *,
    token: str,
    allowed_hosts: list[str],
    limits: Limits,
    stats: Stats,
    metadata: dict[str, Any],
    on_scored: Callable[[dict[str, Any], list[Any]], None] | None = None,
    cors_origins: list[str] | None = None,
    strict: bool = False,
) -> Any:
    """Build the service as an ASGI app: routes inside the :class:`Guard`.

    ``on_scored`` receives the checked rows of :func:`_standalone.check_rows` (inputs,
    id/time/sensitive values, unseen-category flags) and the model's outputs.
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="mlops-nb-predict"
    )
    waiting = [0]

    def error(status: int, code: str, message: str, **extra: Any) -> Response:
        problems = extra.get("problems") or [{}]
        stats.reject(f"{status} {problems[0].get('rule') or code}")
        return Response(
            json_body(status, code, message, **extra)[1],
            status_code=status,
            media_type="application/json",
        )

    async def predict(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return error(
                415,
                "unsupported_media_type",
                "send the rows as JSON (Content-Type: application/json)",
            )
        length = request.headers.get("content-length")
        if length is not None and (
            not length.isdigit() or int(length) > limits.max_body_bytes
        ):
            return error(
                413,
                "too_large",
                f"the body may hold at most {limits.max_body_bytes} bytes",
            )
        try:
            body = await read_body(
                request.receive, limits.max_body_bytes, limits.body_timeout_s
            )
        except _TooLarge:
            return error(
                413,
                "too_large",
                f"the body may hold at most {limits.max_body_bytes} bytes",
            )
        except _TooSlow:
            return error(408, "timeout", "the request body did not arrive in time")
        try:
            records = std.records_of(std.parse_json(body))
            rows = std.check_rows(
                records, schema, max_rows=limits.max_rows, strict=strict
            )
        except std.InputError as err:
            status = 400 if err.problems and err.problems[0]["rule"] == "json" else 422
            return error(status, "invalid_input", str(err), problems=err.problems)
        if waiting[0] >= limits.max_waiting:
            return error(503, "busy", "the model is busy; retry shortly")
        feeds = std.to_feeds(rows["columns"], schema)
        waiting[0] += 1
        try:
            loop = asyncio.get_running_loop()
            outputs = await asyncio.wait_for(
                loop.run_in_executor(pool, run, feeds), limits.predict_timeout_s
            )
        except asyncio.TimeoutError:
            return error(
                504,
                "model_timeout",
                f"the model did not answer within {limits.predict_timeout_s:g} s",
            )
        except Exception:
            log.exception("the model failed on a request")
            return error(
                500,
                "model_error",
                "the model failed on this request; see the server log",
            )
        finally:
            waiting[0] -= 1
        n = len(records)
        stats.scored(n)
        answer = std.format_outputs(outputs, schema, rows)
        result = {"model": metadata["model"], **answer}
        if "threshold" in answer:  # recorded as answered: at the model's threshold
            import numpy as np

            outputs = [np.asarray(answer["predictions"]), *outputs[1:]]
        if on_scored is not None:
            try:
                on_scored(rows, outputs)
            except Exception:  # recording must never fail a prediction
                log.exception("recording a served batch failed")
        return JSONResponse(result)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def meta(request: Request) -> Response:
        return JSONResponse(metadata)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "error")
        return error(
            status,
            code,
            {404: "no such path", 405: "method not allowed"}.get(
                status, "request failed"
            ),
        )

    async def crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled error in the service", exc_info=exc)
        return error(500, "internal_error", "internal error; see the server log")

    routes = [
        Route("/predict", predict, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metadata", meta, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        debug=False,
        exception_handlers={HTTPException: http_error, Exception: crash},
    )
    app.state.pool = pool
    guarded: Any = Guard(
        app, token=token, allowed_hosts=allowed_hosts, limits=limits, stats=stats
    )
    if (
        cors_origins
    ):  # outside the guard: browsers send preflight requests without the token
        from starlette.middleware.cors import CORSMiddleware

        guarded = CORSMiddleware(
            guarded,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
        )
    return guarded


def http_protocol(header_timeout: float) -> type:
    """Return uvicorn's h11 protocol with a deadline for each request's headers."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderDeadlineH11(H11Protocol):
        _deadline: Any = None

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(header_timeout, self._expire)

        def _expire(self) -> None:
            self._deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()  # no complete request headers in time

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            super().connection_lost(exc)

    return HeaderDeadlineH11
