"""T24 for Sec Ops reports: HTML embeds its JavaScript, loads nothing, no server."""

from __future__ import annotations

import re
import socket

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

import mlops_nb as mnb

REMOTE = re.compile(
    r"""<(script|link)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", re.I
)
CDNS = ("unpkg", "cdn.plot.ly", "jsdelivr", "cdnjs", "googleapis")


@pytest.fixture
def no_server(monkeypatch):
    calls = []
    real_listen, real_bind = socket.socket.listen, socket.socket.bind

    def listen(self, *a):
        calls.append(("listen", a))
        return real_listen(self, *a)

    def bind(self, *a):
        calls.append(("bind", a))
        return real_bind(self, *a)

    monkeypatch.setattr(socket.socket, "listen", listen)
    monkeypatch.setattr(socket.socket, "bind", bind)
    return calls


def test_every_sec_ops_report_is_offline_html(
    sec_project, two_versions, tmp_path, no_server
):
    m1, _ = two_versions
    frame = pd.DataFrame(
        {
            "email": [f"u{i}@example.org" for i in range(200)],
            "x": np.random.default_rng(0).normal(size=200),
            "y": [0, 1] * 100,
        }
    )
    asset = sec_project.data("people", frame, target="y")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "a").write_bytes(b"a")
    updates = [np.ones(3), np.ones(3) * 1.1, np.ones(3) * 0.9, np.ones(3) * 50]
    reports = {
        "privacy": asset.privacy(),
        "poisoning": asset.poisoning(n_estimators=10),
        "vet": sec_project.vet(
            asset, source="https://example.org/people.csv", licence="CC0-1.0"
        ),
        "signature": mnb.secure.sign_model(m1),
        "manifest": mnb.secure.diff_manifest({"a": "0" * 64}, tmp_path / "bundle"),
        "aggregate": mnb.secure.aggregate(updates, method="median"),
    }
    for v in range(3):
        sec_project.data(
            "people",
            frame.assign(y=np.random.default_rng(v).permutation(frame["y"])),
            target="y",
        )
    reports["trend"] = sec_project.poisoning_trend("people", n_estimators=10)
    for name, report in reports.items():
        page = report.to_html()
        assert not REMOTE.search(page), name
        # plotly.js itself names CDNs for geo maps and map icons; these charts use none
        ours = page.replace(get_plotlyjs(), "")
        assert not any(cdn in ours for cdn in CDNS), name
        if report._view().figures():
            assert "Plotly" in page, name  # plotly.js embedded
            assert len(page) > 1_000_000, name
    assert no_server == []
