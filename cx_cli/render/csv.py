"""The CSV report: tidy long format, one row per result, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from cx_cli.render import plain

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


def _cell(value: Any) -> str:
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
    tail = [
        "value",
        "unit",
        "n",
        "ci_low",
        "ci_high",
        "ci_method",
        "confidence",
        "variant",
        "low_sample",
        "target",
        "status",
        "previous",
        "change",
        "p_value",
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*head, *segments, *tail, *(f"detail.{k}" for k in details)])
    for row in report.results:
        data = row.as_dict()
        writer.writerow(
            [_cell(data[k]) for k in head]
            + [_cell(row.segment.get(k)) for k in segments]
            + [_cell(data[k]) for k in tail]
            + [_cell(row.detail.get(k)) for k in details]
        )
    return out.getvalue()
