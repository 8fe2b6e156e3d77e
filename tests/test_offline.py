"""Nothing phones home: the offline guard itself, and SECURITY-TESTS T22/T23.

The guard (``tests/_offline_guard.py``) fails any test that reaches past loopback, in
the pytest process and in Python subprocesses. These tests first show that the guard
is honest (it catches real attempts, from threads and subprocesses, and lets loopback
through), then that mlops_nb's stack stays silent in an environment without opt-outs.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import _mnb_offline_patch as offline_patch
import pytest

from _offline_guard import ENV_LOG, MASKING_ENV, SITE_DIR, OfflineGuard, unset_env

ROOT = Path(__file__).resolve().parents[1]
TEST_NET = "192.0.2.1"  # RFC 5737 TEST-NET-1: never routed


def run_python(
    code: str,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, with the guard's environment."""
    base = dict(os.environ if env is None else env)
    base = {k: v for k, v in base.items() if not k.startswith("PYTEST_")}
    assert ENV_LOG in base, "the offline guard plugin is not active"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_json_line(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


# -- the guard is honest -----------------------------------------------------------


def test_guard_blocks_and_records_in_process(offline_guard: OfflineGuard) -> None:
    with pytest.raises(OSError, match="offline guard"):
        socket.create_connection((TEST_NET, 80), timeout=0.5)
    with pytest.raises(socket.gaierror, match="offline guard"):
        socket.getaddrinfo("example.com", 80)
    with pytest.raises(socket.gaierror):
        socket.gethostbyname("example.com")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        with pytest.raises(OSError, match="offline guard"):
            sock.connect((TEST_NET, 443))
        assert sock.connect_ex((TEST_NET, 443)) == errno.ENETUNREACH
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        pytest.raises(OSError, match="offline guard"),
    ):
        udp.sendto(b"x", (TEST_NET, 53))

    attempts = offline_guard.attempts
    assert [(a["kind"], a["host"]) for a in attempts] == [
        ("create_connection", TEST_NET),
        ("getaddrinfo", "example.com"),
        ("gethostbyname", "example.com"),
        ("connect", TEST_NET),
        ("connect_ex", TEST_NET),
        ("sendto", TEST_NET),
    ]
    first = attempts[0]
    assert first["port"] == 80
    assert first["pid"] == os.getpid()
    assert any("test_offline.py" in frame for frame in first["stack"])
    offline_guard.clear()
    assert offline_guard.attempts == []


def test_guard_records_background_threads(offline_guard: OfflineGuard) -> None:
    errors: list[BaseException] = []

    def reach_out() -> None:
        try:
            socket.getaddrinfo("telemetry.example.org", 443)
        except OSError as err:
            errors.append(err)

    worker = threading.Thread(target=reach_out, name="phone-home")
    worker.start()
    worker.join(5)

    assert len(errors) == 1
    [attempt] = offline_guard.attempts
    assert attempt["thread"] == "phone-home"
    assert attempt["host"] == "telemetry.example.org"
    offline_guard.clear()


def test_guard_allows_loopback(offline_guard: OfflineGuard) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=2) as client:
            conn, _ = server.accept()
            with conn:
                client.sendall(b"ping")
                assert conn.recv(4) == b"ping"
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            server.accept()[0].close()
        assert socket.getaddrinfo("localhost", port)
        assert socket.getaddrinfo(None, port, flags=socket.AI_PASSIVE)
    left, right = socket.socketpair()  # AF_UNIX
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    if socket.has_ipv6:
        try:
            server6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
        except OSError:
            server6 = None  # no IPv6 loopback in this sandbox
        if server6 is not None:
            with server6, socket.create_connection(server6.getsockname()[:2]):
                pass
    assert offline_guard.attempts == []


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("kernel.localhost", True),
        ("0.0.0.0", True),
        ("", True),
        (None, True),
        (b"127.0.0.1", True),
        ("192.0.2.1", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("::ffff:192.0.2.1", False),
        ("2001:db8::1", False),
        ("localhost.example.com", False),
        ("api.segment.io", False),
        ("127.1", False),
        ("<broadcast>", False),
    ],
)
def test_is_loopback_host(host: object, allowed: bool) -> None:
    assert offline_patch.is_loopback_host(host) is allowed


def test_guard_blocks_in_subprocess(
    offline_guard: OfflineGuard, tmp_path: Path
) -> None:
    assert os.environ["PYTHONPATH"].split(os.pathsep)[0] == str(SITE_DIR)
    result = run_python(
        f"""
        import socket
        try:
            socket.create_connection(({TEST_NET!r}, 80), timeout=0.5)
        except OSError as err:
            print(type(err).__name__)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "BlockedNetworkError"
    [attempt] = offline_guard.attempts
    assert attempt["source"] == "subprocess"
    assert attempt["host"] == TEST_NET
    assert attempt["pid"] != os.getpid()
    offline_guard.clear()


def test_sitecustomize_chains_to_the_next_one(
    offline_guard: OfflineGuard, tmp_path: Path
) -> None:
    other = tmp_path / "other_site"
    other.mkdir()
    marker = tmp_path / "chained.txt"
    (other / "sitecustomize.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SITE_DIR), str(other)])
    result = run_python(
        """
        import socket, sys
        print(socket.getaddrinfo.__module__, sys.modules["sitecustomize"].__file__)
        """,
        tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    module, site_file = result.stdout.split()
    assert module == "_mnb_offline_patch"
    assert Path(site_file).parent == SITE_DIR
    assert marker.read_text(encoding="utf-8") == "ran"
    assert offline_guard.attempts == []


def test_guard_fails_a_test_that_reaches_out(
    offline_guard: OfflineGuard, tmp_path: Path
) -> None:
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            f"""
            import socket, threading, pytest

            def test_lookup():
                try:
                    socket.getaddrinfo("inner.example.com", 80)
                except OSError:
                    pass

            @pytest.mark.xfail(reason="a failure does not hide the attempt")
            def test_xfail_with_attempt():
                try:
                    socket.create_connection(({TEST_NET!r}, 80), timeout=0.5)
                except OSError:
                    pass
                raise AssertionError

            def test_quiet():
                pass

            def test_cleared(offline_guard):
                try:
                    socket.getaddrinfo("cleared.example.com", 80)
                except OSError:
                    pass
                offline_guard.clear()
            """
        ),
        encoding="utf-8",
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "tests"), env.get("PYTHONPATH", "")]
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "_offline_guard",
            "--rootdir",
            str(tmp_path),
            "-c",
            os.devnull,
            str(tmp_path / "test_inner.py"),
        ],
        cwd=tmp_path,
        env={k: v for k, v in env.items() if not k.startswith("PYTEST_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "2 failed, 2 passed" in out, out
    assert "offline guard: 1 blocked network attempt(s) during" in out
    assert "'inner.example.com' port 80" in out
    assert "create_connection '192.0.2.1' port 80" in out
    # The inner pytest process is itself a guarded subprocess of this one.
    hosts = {a["host"] for a in offline_guard.attempts}
    assert hosts == {"inner.example.com", TEST_NET, "cleared.example.com"}
    offline_guard.clear()


# -- mlops_nb._offline -------------------------------------------------------------


def test_disable_telemetry_sets_opt_outs_and_keeps_user_settings(
    honest_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_nb import _offline

    monkeypatch.setenv("DO_NOT_TRACK", "0")
    _offline.disable_telemetry()
    assert os.environ["DO_NOT_TRACK"] == "0"
    assert os.environ["NML_DISABLE_USAGE_LOGGING"] == "1"
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    for key, value in _offline.OPT_OUT_ENV.items():
        if key != "DO_NOT_TRACK":
            assert os.environ[key] == value


def test_without_dotenv_blocks_load_dotenv_and_reverts_bypasses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_nb import _offline

    (tmp_path / ".env").write_text(
        "MLOPS_NB_CANARY=1\nMLOPS_NB_CANARY_BYPASS=2\n", encoding="utf-8"
    )
    package = tmp_path / "mnb_fake_dotenv_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            import os
            from pathlib import Path

            import dotenv
            from dotenv import load_dotenv
            from dotenv.main import DotEnv

            load_dotenv()  # the nannyml way: searches up from this file
            dotenv.main.load_dotenv()
            # a bypass the patch cannot see; the revert step must catch it
            env_file = Path(__file__).resolve().parents[1] / ".env"
            values = DotEnv(env_file).dict()
            os.environ.setdefault(
                "MLOPS_NB_CANARY_BYPASS", values["MLOPS_NB_CANARY_BYPASS"]
            )
            os.environ.setdefault("MNB_FAKE_LIB_SETTING", "kept")
            """
        ),
        encoding="utf-8",
    )
    for key in ("MLOPS_NB_CANARY", "MLOPS_NB_CANARY_BYPASS", "MNB_FAKE_LIB_SETTING"):
        unset_env(monkeypatch, key)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mnb_fake_dotenv_pkg", raising=False)
    import dotenv

    load_dotenv = dotenv.load_dotenv

    with _offline._without_dotenv(package):
        __import__("mnb_fake_dotenv_pkg")

    monkeypatch.delitem(sys.modules, "mnb_fake_dotenv_pkg")
    assert "MLOPS_NB_CANARY" not in os.environ
    assert "MLOPS_NB_CANARY_BYPASS" not in os.environ
    assert os.environ["MNB_FAKE_LIB_SETTING"] == "kept"
    assert dotenv.load_dotenv is load_dotenv


def test_import_onnxruntime() -> None:
    from mlops_nb import _offline

    ort = _offline.import_onnxruntime()
    assert hasattr(ort, "InferenceSession")


def test_import_mlops_nb_turns_onnxruntime_telemetry_off_before_onnxruntime_loads(
    honest_env: None, tmp_path: Path
) -> None:
    """onnxruntime latches ORT_DISABLE_TELEMETRY at import (issue 14 item 1)."""
    result = run_python(
        """
        import json, os, sys
        import mlops_nb
        seen = os.environ.get("ORT_DISABLE_TELEMETRY")
        loaded = "onnxruntime" in sys.modules
        mlops_nb._offline.import_onnxruntime()
        print(json.dumps([seen, loaded]))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert last_json_line(result.stdout) == ["1", False]


def test_onnxruntime_loaded_by_mlops_nb_is_not_reported_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only an import before mlops_nb's first call latches telemetry on."""
    import warnings

    from mlops_nb import _offline

    _offline.import_onnxruntime()  # loaded with the opt-out (mlops_nb came first)
    unset_env(monkeypatch, "ORT_DISABLE_TELEMETRY")  # as honest_env does
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _offline.disable_telemetry()
        _offline.import_onnxruntime()
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"


@pytest.mark.parametrize("preset", [None, "0"])
def test_onnxruntime_imported_first_is_reported(
    honest_env: None, tmp_path: Path, preset: str | None
) -> None:
    """Too late to switch it off: import_onnxruntime warns (unless the user chose)."""
    env = dict(os.environ)
    if preset is not None:
        env["ORT_DISABLE_TELEMETRY"] = preset
    result = run_python(
        """
        import json, warnings
        import onnxruntime
        import mlops_nb
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mlops_nb._offline.import_onnxruntime()
            mlops_nb._offline.import_onnxruntime()
        print(json.dumps([str(w.message) for w in caught]))
        """,
        tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    messages = last_json_line(result.stdout)
    if preset is None:
        assert len(messages) == 1, messages
        assert "ORT_DISABLE_TELEMETRY=1" in messages[0]
    else:  # an explicit setting is the user's choice, like DO_NOT_TRACK=0
        assert messages == []


# -- T23: opt-outs set, no environment leakage ---------------------------------------

T23_SCRIPT = """
import json, os, sys

import mlops_nb
after_import = {k: os.environ.get(k) for k in %(keys)r}
nml = mlops_nb._offline.import_nannyml()

import numpy as np
import pandas as pd
import segment.analytics as sa
from segment.analytics import client as sa_client, consumer as sa_consumer
from segment.analytics import request as sa_request
from nannyml import usage_logging

calls = {"usage_log": 0, "sends": []}
original_log = usage_logging.UsageLogger.log

def counting_log(self, *args, **kwargs):
    calls["usage_log"] += 1
    return original_log(self, *args, **kwargs)

usage_logging.UsageLogger.log = counting_log

def spy(name, original):
    def wrapper(*args, **kwargs):
        calls["sends"].append(name)
        return original(*args, **kwargs)
    return wrapper

for name in ("track", "identify", "page", "screen", "group", "alias", "flush"):
    setattr(sa, name, spy("segment.analytics." + name, getattr(sa, name)))
sa_client.Client._enqueue = spy("Client._enqueue", sa_client.Client._enqueue)
sa_consumer.post = spy("consumer.post", sa_consumer.post)
sa_request._session.post = spy("requests.post", sa_request._session.post)
usage_logging.SegmentUsageTracker._log = spy(
    "SegmentUsageTracker._log", usage_logging.SegmentUsageTracker._log
)
if %(drop_env)r:  # as if the user called nannyml.enable_usage_logging()
    nml.enable_usage_logging()

rng = np.random.default_rng(0)
frame = pd.DataFrame({
    "x": rng.normal(size=400),
    "c": pd.Series(rng.choice(["a", "b"], 400), dtype=object),
})
calc = nml.UnivariateDriftCalculator(column_names=["x", "c"], chunk_size=100)
calc.fit(frame.iloc[:200])
result = calc.calculate(frame.iloc[200:])
result.plot()
sa.default_client and sa.default_client.flush()

import socket
print(json.dumps({
    "guarded": socket.getaddrinfo.__module__,
    "after_import": after_import,
    "env": {k: os.environ.get(k) for k in %(keys)r},
    "calls": calls,
    "rows": len(result.to_df()),
}))
"""

T23_KEYS = [
    "NML_DISABLE_USAGE_LOGGING",
    "DO_NOT_TRACK",
    "MLFLOW_DISABLE_TELEMETRY",
    "MLOPS_NB_CANARY",
]


@pytest.fixture
def dotenv_dir(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text("MLOPS_NB_CANARY=1\n", encoding="utf-8")
    return tmp_path


@pytest.mark.slow
def test_t23_nannyml_alone_would_leak_the_dotenv(
    honest_env: None, dotenv_dir: Path
) -> None:
    """Control: without mlops_nb, nannyml's import copies ``.env`` into os.environ."""
    result = run_python(
        """
        import os
        import nannyml
        print(os.environ.get("MLOPS_NB_CANARY"))
        """,
        dotenv_dir,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1", (
        "nannyml no longer reads .env at import; the T23 canary proves nothing now"
    )


def test_t23_opt_outs_set_no_dotenv_leak_no_usage_sends(
    honest_env: None, dotenv_dir: Path, offline_guard: OfflineGuard
) -> None:
    result = run_python(T23_SCRIPT % {"keys": T23_KEYS, "drop_env": False}, dotenv_dir)
    assert result.returncode == 0, result.stderr
    out = last_json_line(result.stdout)
    assert out["guarded"] == "_mnb_offline_patch"
    # import mlops_nb alone sets the opt-outs (before any dependency is imported)
    after_import = out["after_import"]
    assert after_import["NML_DISABLE_USAGE_LOGGING"] is not None
    assert after_import["DO_NOT_TRACK"] == "1"
    assert after_import["MLFLOW_DISABLE_TELEMETRY"] == "true"
    env = out["env"]
    assert env["NML_DISABLE_USAGE_LOGGING"] is not None
    assert env["DO_NOT_TRACK"] == "1"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert env["MLOPS_NB_CANARY"] is None
    assert out["rows"] > 0
    assert out["calls"]["usage_log"] >= 3  # fit, calculate, plot went through it
    assert out["calls"]["sends"] == []
    assert offline_guard.attempts == []


def test_t23_usage_logger_silent_even_if_nannyml_logging_is_re_enabled(
    honest_env: None, dotenv_dir: Path, offline_guard: OfflineGuard
) -> None:
    result = run_python(T23_SCRIPT % {"keys": T23_KEYS, "drop_env": True}, dotenv_dir)
    assert result.returncode == 0, result.stderr
    out = last_json_line(result.stdout)
    assert out["env"]["NML_DISABLE_USAGE_LOGGING"] is None
    assert out["calls"]["usage_log"] >= 3
    assert out["calls"]["sends"] == []
    assert offline_guard.attempts == []


def test_t23_explicit_user_settings_are_kept(
    honest_env: None, dotenv_dir: Path
) -> None:
    env = dict(os.environ, DO_NOT_TRACK="0", MLFLOW_DISABLE_TELEMETRY="false")
    result = run_python(
        """
        import json, os
        import mlops_nb
        mlops_nb._offline.import_nannyml()
        print(json.dumps({k: os.environ.get(k) for k in
                          ("DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY",
                           "NML_DISABLE_USAGE_LOGGING", "MLOPS_NB_CANARY")}))
        """,
        dotenv_dir,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert last_json_line(result.stdout) == {
        "DO_NOT_TRACK": "0",
        "MLFLOW_DISABLE_TELEMETRY": "false",
        "NML_DISABLE_USAGE_LOGGING": "1",
        "MLOPS_NB_CANARY": None,
    }


# -- T22: no network, honest environment ---------------------------------------------


@pytest.mark.slow
def test_t22_guard_catches_nannyml_telemetry_without_mlops_nb(
    honest_env: None, tmp_path: Path, offline_guard: OfflineGuard
) -> None:
    """Control: plain nannyml in an honest environment does reach out."""
    result = run_python(
        """
        import numpy as np, pandas as pd, nannyml as nml
        import segment.analytics as sa
        frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=200)})
        calc = nml.UnivariateDriftCalculator(column_names=["x"], chunk_size=50)
        calc.fit(frame.iloc[:100]).calculate(frame.iloc[100:])
        sa.shutdown()
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    hosts = {a["host"] for a in offline_guard.attempts}
    assert "api.segment.io" in hosts
    offline_guard.clear()


T22_SCRIPT = r"""
import json, threading, time, warnings
from pathlib import Path

t0 = time.perf_counter()
import mlops_nb
from mlops_nb import _offline

import numpy as np
import pandas as pd

rng = np.random.default_rng(0)
n = 600
X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
group = pd.Series(rng.choice(["f", "m"], n), name="sex")
y = ((X.a + 0.5 * X.b + rng.normal(scale=0.5, size=n)) > 0).astype(int)
X32 = X.to_numpy(np.float32)

from sklearn.linear_model import LogisticRegression
import lightgbm as lgb

logreg = LogisticRegression().fit(X32, y)
gbm = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(X, y)

# nannyml: univariate drift + CBPE, with plots
nml = _offline.import_nannyml()
proba = gbm.predict_proba(X)[:, 1]
frame = X.assign(y_true=y, y_pred_proba=proba, y_pred=(proba > 0.5).astype(int))
reference, analysis = frame.iloc[:300], frame.iloc[300:]
drift = nml.UnivariateDriftCalculator(column_names=["a", "b"], chunk_size=100)
drift_result = drift.fit(reference).calculate(analysis.drop(columns="y_true"))
cbpe = nml.CBPE(
    y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
    metrics=["roc_auc"], problem_type="classification_binary", chunk_size=100,
)
cbpe_result = cbpe.fit(reference).estimate(analysis.drop(columns="y_true"))
drift_result.plot()
cbpe_result.plot()

# fairlearn
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score
mf = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=gbm.predict(X),
                 sensitive_features=group)

# interpret: a small EBM, global and local explanations (no show())
from interpret.glassbox import ExplainableBoostingClassifier
ebm = ExplainableBoostingClassifier(interactions=0, outer_bags=1, max_rounds=50,
                                    n_jobs=1)
ebm.fit(X, y)
ebm.explain_global().data(0)
ebm.explain_local(X.iloc[:2], y.iloc[:2]).data(0)

# ONNX export of the logistic model + onnxruntime inference
from skl2onnx import to_onnx
onx = to_onnx(logreg, X32[:1], options={id(logreg): {"zipmap": False}})
ort = _offline.import_onnxruntime()
session = ort.InferenceSession(onx.SerializeToString(),
                               providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
labels, probs = session.run(None, {input_name: X32[:5]})
assert np.allclose(probs, logreg.predict_proba(X32[:5]), atol=1e-5)

# codecarbon, offline
from codecarbon import OfflineEmissionsTracker
tracker = OfflineEmissionsTracker(country_iso_code="DEU", output_dir=str(Path.cwd()),
                                  log_level="error")
tracker.start()
sum(i * i for i in range(200_000))
emissions = tracker.stop()

# plotly, self-contained HTML
import plotly.graph_objects as go
html = go.Figure(go.Scatter(y=[1, 3, 2])).to_html(include_plotlyjs=True)

# serve the ONNX model on 127.0.0.1 and score once
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import http.client

class Score(BaseHTTPRequestHandler):
    def do_POST(self):
        row = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        p = session.run(None, {input_name: np.array([row], np.float32)})[1]
        body = json.dumps({"p": float(p[0][1])}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Score)
threading.Thread(target=server.serve_forever, daemon=True).start()
conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
conn.request("POST", "/score", body=json.dumps([0.1, -0.2]))
score = json.loads(conn.getresponse().read())["p"]
server.shutdown()

time.sleep(1.0)  # let background threads (analytics consumers, ...) fire
import socket
print(json.dumps({
    "guarded": socket.getaddrinfo.__module__,
    "score": score,
    "emissions": emissions,
    "by_group": {str(k): float(v) for k, v in mf.by_group.items()},
    "html_bytes": len(html),
    "threads": sorted(t.name for t in threading.enumerate()),
    "seconds": time.perf_counter() - t0,
}))
"""


@pytest.mark.slow
def test_t22_no_network_in_an_honest_environment(
    honest_env: None, tmp_path: Path, offline_guard: OfflineGuard
) -> None:
    result = run_python(T22_SCRIPT, tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    out = last_json_line(result.stdout)
    assert out["guarded"] == "_mnb_offline_patch"
    assert 0.0 <= out["score"] <= 1.0
    assert out["emissions"] is not None
    assert set(out["by_group"]) == {"f", "m"}
    attempts = offline_guard.attempts
    assert attempts == [], [(a["kind"], a["host"], a["stack"][-3:]) for a in attempts]


def test_masking_env_covers_the_opt_outs() -> None:
    from mlops_nb import _offline

    assert set(_offline.OPT_OUT_ENV) <= set(MASKING_ENV)
    assert {"CI", "GITHUB_ACTIONS", "EVIDENTLY_DISABLE_TELEMETRY"} <= set(MASKING_ENV)
