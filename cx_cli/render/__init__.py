"""Renderers: pure functions from a Report to text, one module per format."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cx_cli.report import Report

FORMATS = ("table", "json", "csv", "markdown")
_PLAIN = (str, int, bool)  # exactly these types (a numpy scalar or a float needs a look)


def render(
    report: Report, fmt: str = "json", *, color: bool = False, width: int | None = None
) -> str:
    """The report as text in `fmt` (table, json, csv or markdown)."""
    renderer: Callable[..., str]
    if fmt == "json":
        from cx_cli.render.json import render_json as renderer
    elif fmt == "csv":
        from cx_cli.render.csv import render_csv as renderer
    elif fmt == "markdown":
        from cx_cli.render.markdown import render_markdown as renderer
    elif fmt == "table":
        from cx_cli.render.table import render_table

        return render_table(report, color=color, width=width)
    else:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    return renderer(report)


def plain(value: Any) -> Any:
    """JSON-safe plain Python: NaN and infinities become None, numpy scalars become numbers."""
    if value is None or type(value) in _PLAIN:  # most of a report: checked first, cheaply
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
