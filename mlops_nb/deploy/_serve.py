"""``model.serve()``: the model as an authenticated HTTP service in the background.

uvicorn runs the app of :mod:`mlops_nb.deploy._app` in a daemon thread of the
notebook's kernel (or in the foreground with ``mlops-nb serve``). Safe defaults:

- bound to 127.0.0.1; another address needs ``expose=True``, a token you chose and
  the host names clients will use (``allowed_hosts``);
- a bearer token is always required (a random one is made when none is given: there
  are no default credentials); CORS is off unless ``cors_origins`` lists origins;
- a client that does not finish sending its request headers within
  ``header_timeout_s`` (5 s) is disconnected, and an idle keep-alive connection after
  5 s; up to :data:`MAX_CONNECTIONS` connections are served at once, many more than
  the requests the model may have waiting, so a few dozen slow-header (slow-loris)
  clients are dropped long before they can fill the limit and make ``/health`` or
  ``/predict`` answer 503. Bodies have a size limit and a timeout, requests a rate
  limit, and the model call a timeout.

Every scored batch is kept (features as the model reads them, the prediction and the
probabilities, the time) and written as a new version of the data asset
``"<model>-served"`` every ``record_rows`` rows or ``record_seconds`` seconds and on
:meth:`Server.stop`, with a note naming the model and service: Drift Ops monitors read
those versions as analysis data. Rejected requests are only counted.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.deploy import _standalone as std
from mlops_nb.deploy._app import Limits, Stats, build_app, http_protocol
from mlops_nb.deploy._recorder import Recorder
from mlops_nb.errors import MlopsNbError, ValidationError
from mlops_nb.ui import Displayable, KeyValues, Tab, Text, View

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlops_nb.deploy._variants import Variant
    from mlops_nb.model import Model
    from mlops_nb.ui._blocks import Tone

log = logging.getLogger("mlops_nb.deploy")

LOOPBACK = ("127.0.0.1", "::1", "localhost")
MIN_TOKEN = 16
#: Connections served at once (uvicorn's ``limit_concurrency``, which counts every
#: open connection, headers complete or not); beyond it requests get 503.
MAX_CONNECTIONS = 256
#: Seconds an idle keep-alive connection is kept open.
KEEP_ALIVE_S = 5


class ServeError(MlopsNbError, OSError):
    """The service could not start (port taken, address unavailable)."""


def _resolve(
    model: Model, variant: Variant | None
) -> tuple[bytes, dict[str, Any], str, str, str]:
    """Find what to serve: ONNX bytes, schema, level, variant name and SHA-256."""
    from mlops_nb.deploy._bundle import with_threshold
    from mlops_nb.deploy._convert import with_roles
    from mlops_nb.deploy._export import export_onnx, stored_exports

    if variant is not None:
        return (
            variant.onnx_bytes,
            with_threshold(model, with_roles(model, variant.variants.schema)),
            variant.row["level"],
            variant.name,
            variant.row["digest"],
        )
    exports = stored_exports(model)
    export = exports[-1] if exports else export_onnx(model)
    schema = with_threshold(model, with_roles(model, export.schema))
    return export.onnx_bytes, schema, "all", "ONNX export", export.digest


def serve(
    model: Model,
    *,
    port: int = 8765,
    host: str = "127.0.0.1",
    token: str | None = None,
    expose: bool = False,
    allowed_hosts: list[str] | None = None,
    cors_origins: list[str] | None = None,
    max_body_bytes: int = 1_000_000,
    max_rows: int = 1000,
    rate_limit: float = 50.0,
    burst: int = 100,
    timeout_s: float = 5.0,
    header_timeout_s: float = 5.0,
    record: bool = True,
    record_rows: int = 500,
    record_seconds: float = 30.0,
    variant: Variant | None = None,
    strict: bool = False,
) -> Server:
    """Serve a model version (or one of its variants) over authenticated HTTP.

    Parameters
    ----------
    model : Model
        The version to serve; its ONNX export (made now if there is none) runs in
        onnxruntime.
    port : int
        TCP port; 0 picks a free one.
    host : str
        Address to bind. Anything but 127.0.0.1/::1/localhost needs ``expose=True``,
        an explicit ``token`` and ``allowed_hosts``.
    token : str, optional
        The bearer token clients send (``Authorization: Bearer <token>``), at least 16
        characters. Default: a random one, in ``server.token``.
    expose : bool
        Allow binding to a non-loopback address.
    allowed_hosts : list of str, optional
        Host names accepted in the ``Host`` header (default: the loopback names).
    cors_origins : list of str, optional
        Browser origins allowed by CORS (default: none; CORS off).
    max_body_bytes, max_rows : int
        Largest request body and batch.
    rate_limit, burst : float, int
        Requests per second per client, and the burst allowed above it.
    timeout_s, header_timeout_s : float
        Deadline of one model call (504), and for a client to send its request
        headers, from connecting or from the end of its previous response (then it
        is disconnected).
    record : bool
        Record served batches as versions of the data asset ``"<model>-served"``.
    record_rows, record_seconds : int, float
        Write a version every this many rows or seconds (and on stop).
    variant : Variant, optional
        Serve this variant of :func:`optimize` instead of the export.
    strict : bool
        Refuse (422) a row holding a category never seen in training. By default the
        model scores it as it does in Python (an unknown category) and the answer
        flags the row in ``unseen_categories``.

    Rows may carry the training data's id, time, target and sensitive columns besides
    the inputs: the answer echoes the id of each row (``ids``), the recorded batches
    keep id, time and sensitive values, and the target is ignored with a note. Any
    other column is refused (422).

    Returns
    -------
    Server
        ``.url``, ``.token``, ``.stats``, ``.stop()``, and a widget with a try-it form.

    Raises
    ------
    ValidationError
        For unsafe or invalid settings, naming the fix.
    ServeError
        When the address cannot be bound (e.g. the port is taken).
    """
    from mlops_nb.store import validate_name

    what = f"{model.label}.serve"
    problems = []
    generated = token is None
    if token is None:
        token = secrets.token_urlsafe(32)
    if (
        not isinstance(token, str)
        or len(token) < MIN_TOKEN
        or token.strip() != token
        or " " in token
    ):
        problems.append(
            f"token must be text of at least {MIN_TOKEN} characters without spaces "
            "(e.g. secrets.token_urlsafe(32))"
        )
    loopback = host in LOOPBACK
    if not loopback:
        if not expose:
            problems.append(
                f"host={host!r} would accept connections from other machines; pass "
                "expose=True "
                "if that is intended (default host is 127.0.0.1)"
            )
        if generated:
            problems.append(
                f"host={host!r} needs a token you chose (token=...), not a generated "
                "one"
            )
        if not allowed_hosts:
            problems.append(
                f"host={host!r} needs allowed_hosts=[...]: the host names clients "
                "will use"
            )
    if not (isinstance(port, int) and 0 <= port <= 65535):
        problems.append(
            f"port={port!r} must be a whole number 0-65535 (0 picks a free port)"
        )
    for name, value in (
        ("max_body_bytes", max_body_bytes),
        ("max_rows", max_rows),
        ("rate_limit", rate_limit),
        ("burst", burst),
        ("timeout_s", timeout_s),
        ("header_timeout_s", header_timeout_s),
        ("record_rows", record_rows),
        ("record_seconds", record_seconds),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            problems.append(f"{name}={value!r} must be a number > 0")
    if problems:
        raise ValidationError(f"{what}(): " + "; ".join(problems) + ".")
    if record:
        validate_name(
            f"{model.name}-served",
            what=f"{what}(record=True): the served-data asset name",
        )
    data, schema, level, variant_name, digest = _resolve(model, variant)
    return Server._start(
        model,
        data,
        schema,
        level,
        variant_name,
        digest,
        host=host,
        port=port,
        token=token,
        allowed_hosts=list(allowed_hosts or LOOPBACK),
        cors_origins=cors_origins,
        limits=Limits(
            int(max_body_bytes),
            int(max_rows),
            float(rate_limit),
            int(burst),
            float(timeout_s),
        ),
        header_timeout=float(header_timeout_s),
        record=(record_rows, record_seconds) if record else None,
        strict=bool(strict),
    )


@dataclass(eq=False, repr=False)
class Server(Displayable):
    """A running (or stopped) model service: ``.url``, ``.token``, ``.stop()``."""

    model: Model
    variant: str
    url: str
    token: str = field(repr=False)
    limits: Limits
    stats: Stats
    schema: dict[str, Any] = field(repr=False)
    _server: Any = field(repr=False, default=None)
    _thread: Any = field(repr=False, default=None)
    _recorder: Recorder | None = field(repr=False, default=None)
    started_at: str = ""
    stopped_at: str = ""
    #: refreshers of the live widgets shown so far, called by :meth:`stop`
    _refreshers: list[Callable[[], None]] = field(repr=False, default_factory=list)

    @classmethod
    def _start(
        cls,
        model: Model,
        data: bytes,
        schema: dict[str, Any],
        level: str,
        variant: str,
        digest: str,
        *,
        host: str,
        port: int,
        token: str,
        allowed_hosts: list[str],
        cors_origins: list[str] | None,
        limits: Limits,
        header_timeout: float,
        record: tuple[int, float] | None,
        strict: bool = False,
    ) -> Server:
        import uvicorn

        from mlops_nb.deploy._runtime import make_session

        session = make_session(data, what=f"{model.label} served model", level=level)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (else
        # Nagle + delayed ACK add ~40 ms to every response written in two parts)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(
                (
                    "::1"
                    if host == "localhost" and family == socket.AF_INET6
                    else ("127.0.0.1" if host == "localhost" else host),
                    port,
                )
            )
        except OSError as err:
            sock.close()
            msg = (
                f"{model.label}.serve(): cannot listen on {host}:{port} "
                f"({err.strerror}); "
                "pick another port= (port=0 picks a free one)."
            )
            raise ServeError(msg) from err
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}"
        stats = Stats()
        recorder = None
        if record is not None:
            recorder = Recorder(
                model,
                schema,
                rows=record[0],
                seconds=record[1],
                note=f"served by {model.label} ({variant}) at {url}",
            )
        metadata = {
            "model": model.label,
            "variant": variant,
            "task": schema["model"]["task"],
            "classes": schema["model"]["classes"],
            "threshold": schema["model"].get("threshold"),
            "onnx_sha256": digest,
            "inputs": [
                {k: i[k] for k in ("name", "kind", "categories") if k in i}
                for i in schema["inputs"]
            ],
            "missing": {"numeric": None, "categorical": None},
            "also_accepted": std.role_columns(schema),
            "unseen_categories": "refused" if strict else "scored as unknown, flagged",
            "limits": {
                "max_rows": limits.max_rows,
                "max_body_bytes": limits.max_body_bytes,
            },
        }
        app = build_app(
            lambda feeds: session.run(None, feeds),
            schema,
            token=token,
            allowed_hosts=allowed_hosts,
            limits=limits,
            stats=stats,
            metadata=metadata,
            on_scored=recorder.add if recorder else None,
            cors_origins=cors_origins,
            strict=strict,
        )
        config = uvicorn.Config(
            app,
            http=http_protocol(header_timeout),
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_S,
            # counts open connections, including ones still sending headers: kept
            # well above the model's waiting bound (limits.max_waiting) so that slow
            # clients are cut off by the header deadline before they fill it
            limit_concurrency=MAX_CONNECTIONS,
            h11_max_incomplete_event_size=16 * 1024,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"mlops-nb-serve-{bound}",
        )
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            server.should_exit = True
            sock.close()
            if recorder:
                recorder.close()
            msg = f"{model.label}.serve(): the service did not start; see the log."
            raise ServeError(msg)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        store = model.project._store
        with store.write() as conn:
            store.audit(
                conn,
                "serve start",
                f"model:{model.name}@{model.version}",
                url=url,
                variant=variant,
                onnx=digest,
            )
        return cls(
            model,
            variant,
            url,
            token,
            limits,
            stats,
            schema,
            server,
            thread,
            recorder,
            now,
        )

    @property
    def running(self) -> bool:
        """Whether the service is answering."""
        return (
            self._thread is not None and self._thread.is_alive() and not self.stopped_at
        )

    @property
    def recorded_versions(self) -> list[int]:
        """Versions of ``<model>-served`` written so far."""
        return list(self._recorder.versions) if self._recorder else []

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the service, write buffered served rows, and record the session."""
        if self.stopped_at:
            return
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._recorder is not None:
            self._recorder.close()
        self.stopped_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        for refresh in list(self._refreshers):
            try:
                refresh()
            except Exception:  # a closed widget must not stop the stop
                log.exception("refreshing a Server widget after stop failed")
        store = self.model.project._store
        with store.write() as conn:
            store.audit(
                conn,
                "serve stop",
                f"model:{self.model.name}@{self.model.version}",
                url=self.url,
                **self.stats.to_dict(),
                recorded=self.recorded_versions,
            )

    def example(self) -> dict[str, Any]:
        """One row of the model's training data, as a request body would hold it."""
        d = self.model.lineage["data"][0]
        X = self.model._X(
            self.model.project.asset(d["name"], d["version"]).frame.head(1), "example"
        )
        marker = self.schema.get("missing_category")
        return {k: (None if v == marker else v) for k, v in X.iloc[0].to_dict().items()}

    def _stopped_message(self) -> str:
        """Say why the service does not answer and how to get one that does."""
        why = (
            f"stopped at {self.stopped_at} by server.stop()"
            if self.stopped_at
            else "not answering: its server thread has ended"
        )
        return (
            f"The service at {self.url} is {why}; nothing was sent. Start a new one "
            "with model.serve(...)."
        )

    def _decides(self) -> list[tuple[str, Any]]:
        """Return the threshold the service decides at (read when it started)."""
        rule = (self.schema.get("model") or {}).get("threshold")
        if not rule:
            return []
        pos = self.schema["model"]["classes"][rule["positive_index"]]
        return [
            (
                "decides at",
                f"P({pos}) >= {rule['value']:.4g} (the model's threshold, "
                f"{rule['source']}; read when the server started)",
            )
        ]

    def _facts(self) -> list[tuple[str, Any]]:
        s = self.stats.to_dict()
        rejected = (
            ", ".join(f"{k}: {v}" for k, v in sorted(s["rejected"].items())) or "none"
        )
        return [
            ("url", self.url),
            ("status", "running" if self.running else "stopped"),
            ("serving", f"{self.model.label} ({self.variant})"),
            *self._decides(),
            (
                "auth",
                f"Authorization: Bearer … (token ending …{self.token[-4:]}; in "
                "server.token)",
            ),
            ("routes", "POST /predict, GET /metadata (token); GET /health (open)"),
            (
                "limits",
                f"{self.limits.max_rows} rows, {self.limits.max_body_bytes:,} bytes, "
                f"{self.limits.rate_per_second:g} req/s per client",
            ),
            ("scored", f"{s['scored_requests']} requests, {s['scored_rows']} rows"),
            ("rejected", rejected),
            (
                "recorded as",
                f"{self.model.name}-served "
                f"v{', v'.join(map(str, self.recorded_versions))}"
                if self.recorded_versions
                else ("—" if self._recorder else "not recorded"),
            ),
        ]

    def _view(self) -> View:
        curl = (
            "curl -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: "
            "application/json' "
            f"-d '[{{...one object per row...}}]' {self.url}/predict"
        )
        up = self.running
        blocks: list[Any] = [KeyValues(self._facts()), Text(curl, "muted")]
        if not up:
            blocks.insert(0, Text(self._stopped_message(), "warning"))
        badge: tuple[str, Tone] = ("running", "ok") if up else ("stopped", "muted")
        summary = f"{self.url} ({self.variant})" + ("" if up else "; stopped")
        return View(
            "Server", self.model.label, summary, [badge], [Tab("Service", blocks)]
        )

    def widget(self) -> Any:
        """Show status, refresh and stop buttons, and a try-it form for the service."""
        import json
        import urllib.error
        import urllib.request

        import ipywidgets as w

        from mlops_nb.ui._html import block_html, esc

        status = w.HTML()
        refresh, stop = (
            w.Button(description="Refresh"),
            w.Button(description="Stop", button_style="warning"),
        )
        try:
            example = json.dumps([self.example()], indent=1)
        except Exception:  # the form still works with a typed body
            example = "[{}]"
        body = w.Textarea(value=example, layout=w.Layout(width="100%", height="160px"))
        send, answer = w.Button(description="Predict", button_style="primary"), w.HTML()

        header = w.HTML()

        def update(_: Any = None) -> None:
            up = self.running
            state = "running" if up else "stopped"
            header.value = f"<b>Server</b> {esc(self.model.label)} — <b>{state}</b>"
            status.value = block_html(KeyValues(self._facts()))
            send.disabled = stop.disabled = not up
            if not up:
                answer.value = f"<b>Stopped</b>: {esc(self._stopped_message())}"

        def call(_: Any = None) -> None:
            if not self.running:
                update()
                return
            req = urllib.request.Request(
                f"{self.url}/predict",
                data=body.value.encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {self.token}",
                },
            )
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    code, text = resp.status, resp.read().decode()
            except urllib.error.HTTPError as err:
                code, text = err.code, err.read().decode()
            except OSError as err:
                code, text = 0, str(err)
            ms = (time.perf_counter() - t0) * 1000
            answer.value = (
                f"<b>HTTP {code}</b> in {ms:.1f} ms<pre>{esc(text[:4000])}</pre>"
            )
            update()

        def halt(_: Any = None) -> None:
            self.stop()
            update()

        refresh.on_click(update)
        stop.on_click(halt)
        send.on_click(call)
        update()
        self._refreshers.append(update)
        box = w.VBox(
            [
                header,
                status,
                w.HBox([refresh, stop]),
                w.HTML("<b>Try it</b>: rows as JSON"),
                body,
                send,
                answer,
            ]
        )
        box.status_html, box.body, box.send_button, box.answer = (
            status,
            body,
            send,
            answer,
        )  # for tests
        box.header_html, box.stop_button = header, stop
        return box
