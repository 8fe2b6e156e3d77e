"""``onnx``: ONNX Runtime against the native model, and the HTTP service on loopback.

One fresh child trains the default LightGBM model (200 trees) on the employment data
shipped with nannyml (not timed), exports it with ``model.export_onnx`` and measures,
on the test split:

- single-row latency: ``onnxruntime`` ``session.run`` on one row (the inputs already
  built, as a service holds them after validation) against the native
  ``model.predict_proba`` on a one-row DataFrame — the median of many calls, shown as
  the time of 1,000 calls so the table's millisecond column stays readable;
- batch throughput: both on the whole test split;
- the largest probability difference between the two;
- ``model.serve()`` on 127.0.0.1: single-row ``POST /predict`` latency (p50 of
  sequential requests on one keep-alive connection, validation and JSON included)
  and requests per second for that one client.

``--quick`` trains on 10,000 rows and runs fewer calls.
"""

from __future__ import annotations

from benchmarks._harness import child_env, run_child
from benchmarks._registry import Config, Row, register

_CHILD = """\
import http.client, json, statistics, tempfile, time
from pathlib import Path
import numpy as np
import mlops_nb as mnb
from mlops_nb.deploy._runtime import frame_feeds, slice_feeds

N_ROWS, CALLS, HTTP_CALLS = {n_rows}, {calls}, {http_calls}
with tempfile.TemporaryDirectory() as tmp, mnb.config_context(display="text"):
    proj = mnb.Project.open(Path(tmp) / "bench")
    frame = mnb.datasets.employment("reference")
    if N_ROWS:
        frame = frame.sample(n=N_ROWS, random_state=0)
    ref = proj.data("acs", frame, target="employed", sensitive=["SEX", "RAC1P"],
                    time="year", id="id")
    train, test = ref.split(test=0.2, seed=0, stratify="employed")
    model = proj.train("employment", train, estimator="lightgbm")
    onnx = model.export_onnx(check=test)
    session = onnx.session()
    X = model._X(test.frame, "bench")
    feeds = frame_feeds(X, onnx.schema)
    one_frame = test.frame.head(1)
    one_feeds = slice_feeds(feeds, slice(0, 1))

    def median_call(fn, n):
        for _ in range(min(20, n)):
            fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    onnx_1 = median_call(lambda: session.run(None, one_feeds), CALLS)
    native_1 = median_call(lambda: model.predict_proba(one_frame), max(50, CALLS // 20))
    t0 = time.perf_counter()
    proba_onnx = session.run(None, feeds)[1]
    onnx_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    proba_native = model.predict_proba(test.frame)
    native_batch = time.perf_counter() - t0
    diff = float(np.abs(proba_onnx - proba_native).max())

    token = "bench-token-0123456789abcdef"
    server = model.serve(port=0, token=token, record=False, rate_limit=1e9, burst=10**9)
    row = json.loads(X.head(1).to_json(orient="records"))
    row = [{{k: (None if v == "(missing)" else v) for k, v in r.items()}} for r in row]
    body = json.dumps(row).encode()
    headers = {{"Content-Type": "application/json", "Authorization": "Bearer " + token}}
    port = int(server.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def post():
        conn.request("POST", "/predict", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, resp.status

    http_1 = median_call(post, HTTP_CALLS)
    t0 = time.perf_counter()
    for _ in range(HTTP_CALLS):
        post()
    rps = HTTP_CALLS / (time.perf_counter() - t0)
    conn.close()
    server.stop()
    _emit(onnx_1=onnx_1, native_1=native_1, onnx_batch=onnx_batch,
          native_batch=native_batch, batch_rows=len(X), max_abs_diff=diff,
          http_p50=http_1, http_rps=rps, size=onnx.size,
          trees=int(model.recipe["params"]["n_estimators"]), train_rows=train.n_rows)
"""


@register(
    "onnx",
    "ONNX Runtime vs native LightGBM predict_proba (1 row, batch); /predict",
)
def bench_onnx(config: Config) -> list[Row]:
    """Single-row and batch inference, ONNX against native, and the HTTP service.

    Parameters
    ----------
    config : Config
        ``quick`` trains on 10,000 rows and makes fewer calls.

    Returns
    -------
    list of Row
        1,000 single-row calls both ways, one batch both ways, 1,000 HTTP requests.
    """
    code = _CHILD.format(
        n_rows=config.pick(0, 10_000),
        calls=config.pick(5000, 500),
        http_calls=config.pick(1000, 200),
    )
    v = run_child(code, env=child_env(), timeout=900).values
    ratio = v["native_1"] / v["onnx_1"]
    return [
        Row(
            "onnx: 1,000 single-row predictions",
            v["onnx_1"] * 1000,
            v["native_1"] * 1000,
            peer_name="native predict_proba, 1-row DataFrame",
            notes=(
                f"median call {v['onnx_1'] * 1e6:.0f} us vs "
                f"{v['native_1'] * 1e6:.0f} us "
                f"({ratio:.0f}x); LightGBM {v['trees']} trees, "
                f"{v['size'] / 1024:.0f} KiB ONNX; max |p_onnx - p_native| "
                f"{v['max_abs_diff']:.1e}"
            ),
            extra=v,
        ),
        Row(
            f"onnx: batch of {v['batch_rows']:,} rows",
            v["onnx_batch"],
            v["native_batch"],
            peer_name="native predict_proba",
            notes=(
                f"{v['batch_rows'] / v['onnx_batch']:,.0f} vs "
                f"{v['batch_rows'] / v['native_batch']:,.0f} rows/s"
            ),
        ),
        Row(
            "onnx: 1,000 POST /predict (1 row, loopback)",
            v["http_p50"] * 1000,
            notes=(
                f"p50 {v['http_p50'] * 1e3:.2f} ms per request (bearer token, schema "
                f"validation, JSON); {v['http_rps']:,.0f} req/s, one keep-alive client"
            ),
        ),
    ]
