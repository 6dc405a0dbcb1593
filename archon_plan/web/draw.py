"""Inline SVG built with ElementTree (so every name and error is escaped), and the short forms of
times and durations that the page and its charts share."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import datetime

from markupsafe import Markup


def svg(width: float, height: float, label: str, css_class: str) -> ET.Element:
    """An <svg> of this size with its accessible name. No xmlns: inside HTML the parser puts
    it in the SVG namespace, and the page names no other origin."""
    root = ET.Element("svg", {"viewBox": f"0 0 {_n(width)} {_n(height)}", "width": _n(width),
                              "height": _n(height), "role": "img", "aria-label": label,
                              "class": css_class})
    add(root, "title", label)
    return root


def add(parent: ET.Element, tag: str, text: str | None = None, **attributes: object) -> ET.Element:
    """A child element; `class_` is written `class`, other `_` become `-` (stroke_width)."""
    names = {key: "class" if key == "class_" else key.replace("_", "-") for key in attributes}
    element = ET.SubElement(parent, tag, {names[k]: _n(v) if isinstance(v, float) else str(v)
                                          for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def markup(root: ET.Element) -> Markup:
    """The element as HTML-safe text (ElementTree has escaped every value)."""
    return Markup(ET.tostring(root, encoding="unicode", short_empty_elements=True))


def _n(value: float) -> str:
    """A coordinate: at most one decimal, none when whole."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def short(text: str, limit: int) -> str:
    """Text cut to `limit` characters with an ellipsis; the full text goes in a <title>."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def when(moment: datetime | None, date: bool = True) -> str:
    """`2026-11-23 22:35:04 UTC`: the database's clock, in the session's time zone."""
    if moment is None:
        return ""
    offset = moment.utcoffset()
    zone = "" if offset is None else " UTC" if not offset else moment.strftime(" %z")
    return moment.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S") + zone


def duration(ms: int | None) -> str:
    """`7 ms`, `1.2 s`, `3 min 5 s`."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds} s"


def axis(largest: float, ticks: int = 4, least: float = 1.0) -> tuple[float, float]:
    """(end, step) of an axis from 0 that holds `largest` in about `ticks` round steps (1, 2 or 5
    times a power of ten, `least` at least), so its labels read 0, 5 s, 10 s, not 0, 1.25 s."""
    if largest <= 0:
        return least, least
    power = 10.0 ** math.floor(math.log10(largest / ticks))
    step = max(least, next(float(n * power) for n in (1, 2, 5, 10) if n * power * ticks >= largest))
    return step * math.ceil(largest / step), step
