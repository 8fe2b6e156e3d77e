"""``mlops-nb serve PROJECT MODEL`` (the parser the lead wires into mlops_nb.cli)."""

from __future__ import annotations

import argparse
import http.client
import json
import threading

import pytest

from mlops_nb.deploy._cli import TOKEN_ENV, add_serve_parser, run_serve


def _parser():
    parser = argparse.ArgumentParser(prog="mlops-nb")
    add_serve_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_parser_defaults():
    args = _parser().parse_args(["serve", "proj", "clf"])
    assert (args.host, args.port, args.expose, args.token_env) == (
        "127.0.0.1",
        8765,
        False,
        TOKEN_ENV,
    )
    assert args.func is run_serve
    with pytest.raises(SystemExit):
        _parser().parse_args(
            ["serve", "proj", "clf", "--version", "1", "--stage", "production"]
        )


@pytest.mark.parametrize("strict", [False, True])
def test_serve_command_runs_until_stopped(dep, monkeypatch, capsys, strict):
    monkeypatch.setenv(TOKEN_ENV, "cli-token-0123456789abcdef")
    args = _parser().parse_args(
        ["serve", str(dep.project.path), "clf", "--port", "0", "--no-record"]
        + (["--strict"] if strict else [])
    )
    stop, started = threading.Event(), {}
    result = {}

    def ready(server):
        started["server"] = server

    thread = threading.Thread(
        target=lambda: result.update(code=run_serve(args, ready=ready, stop=stop))
    )
    thread.start()
    for _ in range(200):
        if "server" in started:
            break
        thread.join(0.05)
    server = started["server"]
    port = int(server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(
        "GET",
        "/metadata",
        headers={"Authorization": "Bearer cli-token-0123456789abcdef"},
    )
    resp = conn.getresponse()
    assert resp.status == 200
    meta = json.loads(resp.read())
    assert meta["model"] == "clf v1"
    unseen = "refused" if strict else "scored as unknown, flagged"
    assert meta["unseen_categories"] == unseen
    conn.close()
    stop.set()
    thread.join(15)
    assert result["code"] == 0
    assert not server.running
    err = capsys.readouterr().err
    assert "serving clf v1" in err
    assert "cli-token" not in err
