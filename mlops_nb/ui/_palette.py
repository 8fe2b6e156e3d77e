"""One palette for every chart.

Charts are drawn with the ten colours of :data:`PALETTE` (Tableau 10, the colours
most mlops_nb charts already used). :func:`apply_palette` runs on every figure when
it is rendered (static HTML and widget alike): it sets the figure's ``colorway``, so
traces without a colour of their own take the palette's, and moves each explicit
trace colour (markers, lines, fills, shapes) to the palette colour of the nearest hue,
keeping its transparency. Two different colours of one chart stay different.
Sequential colour scales (heatmaps) and the chart's chrome (axes, grid, background)
are not categorical colours and are left alone.
"""

from __future__ import annotations

import colorsys
import re
from typing import Any

#: The palette: blue, orange, green, red, teal, yellow, purple, pink, brown, grey.
PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
)
BLUE, ORANGE, GREEN, RED, TEAL, YELLOW, PURPLE, PINK, BROWN, GREY = PALETTE
#: Colour keys of traces and shapes that carry meaning (not chrome).
_KEYS = frozenset({"color", "fillcolor"})
#: Parts of a figure whose colours are chrome or scales, never remapped.
_SKIP = frozenset(
    {
        "colorscale",
        "colorbar",
        "font",
        "textfont",
        "insidetextfont",
        "outsidetextfont",
        "hoverlabel",
        "legend",
        "title",
        "xaxis",
        "yaxis",
    }
)
_NAMED = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "orange": (255, 165, 0),
    "purple": (128, 0, 128),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "lightgrey": (211, 211, 211),
    "lightgray": (211, 211, 211),
    "darkgrey": (169, 169, 169),
    "darkgray": (169, 169, 169),
    "silver": (192, 192, 192),
    "steelblue": (70, 130, 180),
    "crimson": (220, 20, 60),
    "firebrick": (178, 34, 34),
    "seagreen": (46, 139, 87),
    "gold": (255, 215, 0),
}
_RGB = re.compile(
    r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+))?"
)


def parse_color(text: Any) -> tuple[tuple[int, int, int], float] | None:
    """Return ``((r, g, b), alpha)`` of a CSS colour string, or None if not one."""
    if not isinstance(text, str):
        return None
    t = text.strip().lower()
    if (
        t.startswith("#")
        and len(t) in (4, 7)
        and all(c in "0123456789abcdef" for c in t[1:])
    ):
        h = t[1:] if len(t) == 7 else "".join(c * 2 for c in t[1:])
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)), 1.0
    m = _RGB.match(t)
    if m:
        r, g, b = (round(float(v)) for v in m.groups()[:3])
        return (r, g, b), float(m.group(4)) if m.group(4) is not None else 1.0
    if t in _NAMED:
        return _NAMED[t], 1.0
    return None


def in_palette(text: Any) -> bool:
    """Whether a colour is a palette colour (at any transparency) or neutral.

    Neutral: white, black and fully transparent (outlines, gaps), which carry no
    category.
    """
    parsed = parse_color(text)
    return parsed is not None and (_hex(parsed[0]) in PALETTE or _neutral(*parsed))


def _neutral(rgb: tuple[int, int, int], alpha: float) -> bool:
    _, light, _ = _hls(rgb)
    return alpha == 0 or light > 0.97 or light < 0.03


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _hls(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    return colorsys.rgb_to_hls(*(v / 255 for v in rgb))


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """Hue first for colours, lightness for greys."""
    ha, la, sa = _hls(a)
    hb, lb, sb = _hls(b)
    grey_a, grey_b = sa < 0.15 or la > 0.95 or la < 0.05, sb < 0.15
    if grey_a or grey_b:
        return (0.0 if grey_a and grey_b else 1.0) + abs(la - lb) * 0.1
    dh = abs(ha - hb)
    return min(dh, 1 - dh) + 0.1 * abs(la - lb)


def _ranked(rgb: tuple[int, int, int]) -> list[str]:
    return sorted(PALETTE, key=lambda p: _distance(rgb, parse_color(p)[0]))  # type: ignore[index]


def _colours(node: Any, out: list[str]) -> None:
    """Collect the colour strings of ``node`` (a trace or shape), in order."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SKIP:
                continue
            if key in _KEYS:
                values = value if isinstance(value, list) else [value]
                out.extend(v for v in values if parse_color(v) is not None)
            else:
                _colours(value, out)
    elif isinstance(node, list):
        for item in node:
            _colours(item, out)


def _recolour(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SKIP:
                continue
            if key in _KEYS:
                if isinstance(value, list):
                    node[key] = [
                        mapping.get(v, v) if isinstance(v, str) else v for v in value
                    ]
                elif isinstance(value, str):
                    node[key] = mapping.get(value, value)
            else:
                _recolour(value, mapping)
    elif isinstance(node, list):
        for item in node:
            _recolour(item, mapping)
    return node


def apply_palette(spec: dict[str, Any]) -> dict[str, Any]:
    """Give a plotly figure spec (``fig.to_plotly_json()``-like) the palette, in place.

    Returns the same ``spec``.
    """
    layout = spec.setdefault("layout", {})
    layout["colorway"] = list(PALETTE)
    parts = [*spec.get("data", []), *layout.get("shapes", [])]
    found: list[str] = []
    _colours(parts, found)
    mapping: dict[str, str] = {}
    used: dict[str, tuple[int, int, int]] = {}  # palette colour -> the rgb given it
    distinct = list(dict.fromkeys(found))
    for text in distinct:  # palette colours already in the chart keep their place
        rgb, _ = parse_color(text)  # type: ignore[misc]
        if _hex(rgb) in PALETTE:
            used[_hex(rgb)] = rgb
    for text in distinct:
        rgb, alpha = parse_color(text)  # type: ignore[misc]
        if _neutral(rgb, alpha) or _hex(rgb) in PALETTE:
            continue
        ranked = _ranked(rgb)
        # an unused colour, or the one this same rgb already has (other alpha)
        choice = next((p for p in ranked if used.get(p) in (None, rgb)), ranked[0])
        used.setdefault(choice, rgb)
        r, g, b = parse_color(choice)[0]  # type: ignore[index]
        mapping[text] = choice if alpha >= 1 else f"rgba({r},{g},{b},{alpha:g})"
    _recolour(parts, mapping)
    return spec
