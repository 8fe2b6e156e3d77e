"""``mlops-nb serve PROJECT MODEL``: serve a model version from the command line.

The token comes from the environment variable named by ``--token-env`` (default
``MLOPS_NB_SERVE_TOKEN``); without it a random token is made and printed once to
stderr. The service runs in the foreground until Ctrl+C (or SIGTERM), then writes the
served rows it buffered and records the session in the audit log.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

TOKEN_ENV = "MLOPS_NB_SERVE_TOKEN"


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to ``mlops-nb``'s subparsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``serve`` parser (its ``func`` default runs the command).
    """
    p = subparsers.add_parser(
        "serve", help="serve a model version over authenticated HTTP (ONNX Runtime)"
    )
    p.add_argument("project", help="the project folder")
    p.add_argument("model", help="the model name")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, help="a version number (default: newest)")
    which.add_argument("--stage", help="the version at this stage, e.g. production")
    p.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    p.add_argument(
        "--expose",
        action="store_true",
        help="allow a non-loopback --host (needs a token and --allowed-host)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="NAME",
        help="a Host header value clients use (repeatable)",
    )
    p.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        help=f"environment variable holding the bearer token (default {TOKEN_ENV})",
    )
    p.add_argument("--max-rows", type=int, default=1000, help="largest batch")
    p.add_argument(
        "--no-record",
        action="store_true",
        help="do not record served batches as data versions",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse rows with a category the model never saw (default: score them "
        "as the model does and flag them per row)",
    )
    p.set_defaults(func=run_serve)
    return p


def run_serve(
    args: argparse.Namespace,
    *,
    ready: Callable[[Any], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the ``serve`` command until interrupted (or ``stop`` is set).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by the parser of :func:`add_serve_parser`.
    ready : callable, optional
        Called with the running :class:`~mlops_nb.deploy.Server` (for tests).
    stop : threading.Event, optional
        Stops the service when set (default: wait for Ctrl+C / SIGTERM).

    Returns
    -------
    int
        0 after a clean stop.
    """
    from mlops_nb._project import Project
    from mlops_nb.deploy._serve import serve

    project = Project.open(args.project, create=False)
    model = project.model(args.model, version=args.version, stage=args.stage)
    token = os.environ.get(args.token_env) or None
    server = serve(
        model,
        host=args.host,
        port=args.port,
        token=token,
        expose=args.expose,
        allowed_hosts=args.allowed_hosts,
        max_rows=args.max_rows,
        record=not args.no_record,
        strict=args.strict,
    )
    print(f"serving {model.label} at {server.url} (Ctrl+C stops)", file=sys.stderr)
    if token is None:
        print(
            f"bearer token (set {args.token_env} to choose one): {server.token}",
            file=sys.stderr,
        )
    if ready is not None:
        ready(server)
    stop = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not server.running:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        server.stop()
    stats = server.stats.to_dict()
    print(
        f"stopped: {stats['scored_requests']} requests scored, "
        f"{sum(stats['rejected'].values())} rejected",
        file=sys.stderr,
    )
    return 0
