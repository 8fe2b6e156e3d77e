"""Hypothesis strategies of column names people bring: the class, not one case."""

from __future__ import annotations

from hypothesis import strategies as st

#: Characters that break naive graph names: separators, brackets, quotes, unicode.
NASTY = "-_ .[](){}\"',:;/\\|#%&*+=<>?!@$^`~\t"
UNICODE = "éüßøåçñ中文Ωλд€"

_plain = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    min_size=1,
    max_size=12,
)
_mixed = st.text(
    alphabet=st.sampled_from(list("abcxyzAB019" + NASTY + UNICODE)),
    min_size=1,
    max_size=16,
)
_fixed = st.sampled_from(
    [
        "hours-per-week",
        "hours_per_week",
        "capital gain",
        "a.b",
        "col[0]",
        'say "hi"',
        "it's",
        "1st",
        "2",
        "_",
        "label",
        "variable",
        "probabilities",
        "Ünïcödé",
        "中文",
        "a-b",
        "a_b",
    ]
)
_long = st.builds(
    lambda c, n: c * n, st.sampled_from(["k", "-", "é", "a b"]), st.integers(150, 200)
)
_leading_digit = st.builds(lambda d, s: d + s, st.sampled_from("0123456789"), _mixed)

one_name = st.one_of(_fixed, _plain, _mixed, _long, _leading_digit)


@st.composite
def column_names(draw, min_size: int = 2, max_size: int = 8) -> list[str]:
    """Distinct names, often with pairs that collide once rewritten (a-b and a_b)."""
    names = draw(st.lists(one_name, min_size=min_size, max_size=max_size, unique=True))
    if draw(st.booleans()):  # the twin of a name once its separators become "_"
        base = draw(st.sampled_from(names))
        twin = "".join(ch if ch.isalnum() else "_" for ch in base)
        for candidate in (twin, base.replace("_", "-"), base + " ", base.upper()):
            if candidate not in names and len(names) < max_size + 1:
                names.append(candidate)
                break
    return names
