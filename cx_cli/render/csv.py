"""The CSV report: tidy long format, one row per result, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from cx_cli.render import plain
from cx_cli.report import RESULT_FIELDS

if TYPE_CHECKING:
    from cx_cli.report import Report

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with a quote; numbers stay."""
    if cell.startswith(FORMULA_STARTS):
        try:
            float(cell)
        except ValueError:
            return "'" + cell
    return cell


def cell_text(value: Any) -> str:
    """A value as a CSV cell: empty for null, true/false, full-precision floats, safe text."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return neutralise(str(value))


def render_csv(report: Report) -> str:
    segments = list(dict.fromkeys(k for r in report.results for k in r.segment))
    details = list(dict.fromkeys(k for r in report.results for k in r.detail))
    head = ["kpi", "source", "period"]
    tail = [f for f in RESULT_FIELDS if f not in (*head, "segment", "detail")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*head, *segments, *tail, *(f"detail.{k}" for k in details)])
    for row in report.results:
        data = row.as_dict()
        writer.writerow(
            [cell_text(data[k]) for k in head]
            + [cell_text(row.segment.get(k)) for k in segments]
            + [cell_text(data[k]) for k in tail]
            + [cell_text(row.detail.get(k)) for k in details]
        )
    return out.getvalue()
