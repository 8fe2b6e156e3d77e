"""The ``team`` benchmark's own logic: the writers' check and the children's guard.

The numbers are not asserted (they are measured by ``python -m benchmarks --only
team``); what is tested is that the benchmark refuses to report a throughput when the
concurrent writers lost, shared or skipped a version number, and that its children may
reach loopback servers (PostgreSQL, moto) but nothing else.
"""

from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks._harness import run_child
from benchmarks.bench_team import LOOPBACK_GUARD, constants, throughput


@st.composite
def writer_results(draw):
    """Four writers that together registered versions 1..n in some order."""
    n = draw(st.integers(min_value=1, max_value=60))
    order = draw(st.permutations(range(1, n + 1)))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=3, max_size=3)))
    bounds = [0, *cuts, n]
    results = []
    for w in range(4):
        start = draw(st.floats(0, 100, allow_nan=False))
        took = draw(st.floats(0, 50, allow_nan=False))
        versions = list(order[bounds[w] : bounds[w + 1]])
        results.append({"start": start, "end": start + took, "versions": versions})
    return n, results


@settings(max_examples=60, deadline=None)
@given(writer_results())
def test_throughput_counts_every_version_and_spans_all_writers(case):
    n, results = case
    count, span = throughput(results, n)
    assert count == n
    first = min(r["start"] for r in results)
    assert span == max(r["end"] for r in results) - first


@settings(max_examples=60, deadline=None)
@given(writer_results(), st.sampled_from(["lost", "shared", "gap"]), st.data())
def test_throughput_refuses_lost_shared_or_skipped_numbers(case, defect, data):
    n, results = case
    victim = data.draw(st.sampled_from([r for r in results if r["versions"]]))
    if defect == "lost":
        victim["versions"].pop(data.draw(st.integers(0, len(victim["versions"]) - 1)))
    elif defect == "shared":
        victim["versions"].append(data.draw(st.integers(1, n)))
    else:
        victim["versions"].append(n + data.draw(st.integers(2, 5)))
    with pytest.raises(RuntimeError, match="version numbers are not"):
        throughput(results, n)


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Z][A-Z_0-9]{0,8}", fullmatch=True),
        st.one_of(st.text(), st.integers(), st.booleans(), st.none()),
        max_size=5,
    )
)
def test_constants_give_the_child_exactly_these_values(values):
    namespace: dict = {}
    exec(constants(**values), namespace)
    namespace.pop("__builtins__")
    assert namespace == values


def test_children_reach_loopback_servers_and_nothing_else():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        accepted = threading.Thread(target=lambda: server.accept()[0].close())
        accepted.start()
        code = (
            LOOPBACK_GUARD
            + constants(PORT=port)
            + (
                "import socket\n"
                "socket.create_connection(('127.0.0.1', PORT), timeout=5).close()\n"
                "refused = []\n"
                "for host in ('192.0.2.1', '10.1.2.3'):\n"
                "    try:\n"
                "        socket.socket().connect((host, 9))\n"
                "    except OSError as err:\n"
                "        refused.append(str(err))\n"
                "_emit(refused=refused, attempts=_net_attempts)\n"
            )
        )
        values = run_child(code, timeout=60).values
        accepted.join(timeout=10)
    assert values["attempts"] == ["('192.0.2.1', 9)", "('10.1.2.3', 9)"]
    assert all("network access is disabled" in e for e in values["refused"])
