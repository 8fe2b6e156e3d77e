"""DataAsset.filter strings: a restricted expression language, never Python."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import tree_snapshot
from mlops_nb import errors
from mlops_nb.data._expr import evaluate_filter

# Each template would run `touch <canary>` if the string reached pandas' query/eval
# (or Python's eval); {cmd} is the shell command, {path} the canary path.
HOSTILE = [
    (
        "@np.__spec__.loader.__class__.__init__.__globals__['sys'].modules['os']"
        ".system('{cmd}')==0",
        "'@'",
    ),
    ("@condition", "'@'"),
    ("__import__('os').system('{cmd}') == 0", "__import__()"),
    ("(lambda: __import__('os').system('{cmd}'))() == 0", "function calls"),
    ("[__import__('os').system('{cmd}') for _ in [1]] == [0]", "calling __import__"),
    ("x1.pipe(lambda d: __import__('os').system('{cmd}')) == 0", ".pipe()"),
    ("x1.__class__.__init__.__globals__ == 0", "attribute access"),
    ("__builtins__ == 0", "dunder name '__builtins__'"),
    ("x1[0] == 0", "subscripts"),
    ("x1.apply(exec, args=(\"open({path!r}, 'w')\",)) == 0", ".apply()"),
    ("open({path!r}, 'w') == 0", "open()"),
    ("f\"{{open({path!r}, 'w')}}\" == 'x'", "f-strings"),
    ("[open({path!r}, 'w') for _ in x1] == 0", "calling open()"),
    ("x1 if open({path!r}, 'w') else x1", "conditional"),
    ("(y := open({path!r}, 'w')) == 0", "assignment"),
    ("x1 @ x1 > 0", "'@'"),
    ("{{'k': 1}} == 0", "dict literals"),
    ("x1.isna(open({path!r}, 'w'))", "calling .isna()"),
    ("x1.isna.__self__ == 0", "attribute access"),
]


@pytest.fixture
def canary(tmp_path):
    return tmp_path / "canary-filter"


def _hostile(template: str, canary) -> str:
    return template.format(cmd=f"touch {canary}", path=str(canary))


def test_the_issue_attack_string_is_refused(tiny_asset, canary, project):
    attack = (
        "x1 > 0 and @np.__spec__.loader.__class__.__init__.__globals__['sys']"
        f".modules['os'].system('touch {canary}')==0"
    )
    before = tree_snapshot(project.path)
    with pytest.raises(errors.ValidationError, match=r"'@' \(local variables\)"):
        tiny_asset.filter(attack)
    assert not canary.exists()
    assert tree_snapshot(project.path) == before  # nothing recorded


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    hostile=st.sampled_from(HOSTILE),
    prefix=st.sampled_from(["", "x1 > 0 and ", "x2 < 100 | ", "not (x1 > 0) or "]),
    suffix=st.sampled_from(["", " and x1 < 5", " & group == 'A'"]),
)
def test_generated_hostile_strings_are_refused_naming_the_construct(
    tiny_asset, canary, hostile, prefix, suffix
):
    template, named = hostile
    text = prefix + _hostile(template, canary) + suffix
    with pytest.raises(errors.ValidationError) as info:
        tiny_asset.filter(text)
    message = str(info.value)
    assert named in message
    assert "not allowed" in message
    assert "filter(lambda df" in message  # says how to do it instead
    assert not canary.exists()


@pytest.mark.parametrize(
    "text",
    [
        "x1 > 0 and ( ",  # does not parse
        "`x1 > 0",  # unclosed backtick
        "group == 'A",  # unclosed string
        "(" * 500 + "x1" + ")" * 500 + " > 0",  # nested too deeply
        " or ".join(["x1 > 0"] * 3000),  # too long
        "x1",  # not boolean
        "1 < 2",  # not one value per row
        "x1 in x2",  # in needs a list
        "x1 is None",
    ],
)
def test_malformed_strings_raise_validation_error(tiny_asset, text):
    with pytest.raises(errors.ValidationError, match="filter string"):
        tiny_asset.filter(text)


def test_unknown_column_suggests_the_close_name(tiny_asset):
    with pytest.raises(
        errors.ValidationError, match=r"no column 'X1'\. Did you mean 'x1'"
    ):
        tiny_asset.filter("X1 > 0")


# -- valid expressions equal pandas' query on a random frame -------------------------

NUM = ["x", "n", "`my col`"]


def _num_atoms():
    literals = st.one_of(
        st.integers(-3, 3).map(str),
        st.floats(-2.5, 2.5, allow_nan=False).map(lambda v: repr(round(v, 2))),
    )
    return st.one_of(st.sampled_from(NUM), literals)


def _num_exprs():
    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, st.sampled_from(["/ 2", "// 3", "% 4", "** 2"])).map(
                lambda t: f"({t[0]} {t[1]})"
            ),
            inner.map(lambda e: f"-{e}"),
        )

    return st.recursive(_num_atoms(), extend, max_leaves=4)


def _conditions():
    cmp_ = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    base = st.one_of(
        st.tuples(st.sampled_from(NUM), _num_exprs(), cmp_, _num_exprs()).map(
            lambda t: f"{t[0]} + {t[1]} {t[2]} {t[3]}"
        ),
        st.tuples(_num_exprs(), cmp_, st.sampled_from(NUM)).map(" ".join),
        st.tuples(st.integers(-2, 0), st.sampled_from(NUM), st.integers(0, 2)).map(
            lambda t: f"{t[0]} < {t[1]} <= {t[2]}"
        ),
        st.sampled_from(
            [
                "g == 'A'",
                "g != 'B'",
                'g == "@A"',
                "g in ['A', 'C']",
                "g not in ('B',)",
                "n == [1, 2, -1]",
                "n != [0]",
                "n in [-1, 3]",
                "x.isna()",
                "x.notna()",
                "`my col`.isnull()",
                "g.notnull()",
                "(x + n).isna()",
                "flag",
                "flag == True",
            ]
        ),
    )

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or", "&", "|"]), inner).map(
                lambda t: f"({t[0]}) {t[1]} ({t[2]})"
            ),
            inner.map(lambda e: f"not ({e})"),
            inner.map(lambda e: f"~({e})"),
        )

    return st.recursive(base, extend, max_leaves=5)


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 40
    x = rng.normal(size=n).round(2)
    x[rng.random(n) < 0.2] = np.nan
    my = rng.integers(-3, 4, size=n).astype(float)
    my[rng.random(n) < 0.1] = np.nan
    g = rng.choice(np.array(["A", "B", "C", None], dtype=object), size=n)
    return pd.DataFrame(
        {
            "x": x,
            "n": rng.integers(-2, 4, size=n),
            "g": g,
            "my col": my,
            "flag": rng.random(n) < 0.5,
        }
    )


@settings(max_examples=150, deadline=None)
@given(text=_conditions(), seed=st.integers(0, 5))
def test_generated_valid_expressions_equal_pandas_query(text, seed):
    frame = _frame(seed)
    expected = frame.query(text)
    got = frame[evaluate_filter(text, frame)]
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize(
    "text",
    [
        "x > 0 & n < 3 | g == 'A'",  # & and | bind like and/or, as in pandas
        "not x > 0 and n >= 1",
        "~(x > 0) | `my col` == 1",
        "n > 0 and g in ['A'] or x.isna()",
        "-1 < x < 1 and n == [1, 2]",
    ],
)
def test_precedence_matches_pandas(text):
    frame = _frame(7)
    pd.testing.assert_frame_equal(
        frame[evaluate_filter(text, frame)], frame.query(text)
    )


def test_filter_strings_from_docs_still_work(tiny_asset):
    kept = tiny_asset.filter("x2 > 10 and group == 'A'", note="docs")
    assert (kept.frame["x2"] > 10).all()
    assert set(kept.frame["group"]) == {"A"}
    again = tiny_asset.filter("`x2` > 10 & `group` == 'A'", name="tiny-a")
    pd.testing.assert_frame_equal(
        again.frame.reset_index(drop=True), kept.frame.reset_index(drop=True)
    )
    early = tiny_asset.filter("when < '2024-01-02'")
    assert early.n_rows == 24
