"""The CSV report: tidy long format, one row per result, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING, Any

from cx_cli.render import plain
from cx_cli.report import RESULT_FIELDS

if TYPE_CHECKING:
    from cx_cli.report import Report

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number ("-5", "+1.5e3"): a spreadsheet reads it as a number, not a formula.
# Python's float() also takes "-inf", "-nan" and "+1_000", which are text to cxkpi (README).
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralise(cell: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with a quote; numbers stay."""
    if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell):
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
    header = [*head, *segments, *tail, *(f"detail.{k}" for k in details)]
    writer.writerow([neutralise(name) for name in header])  # segment names come from the config
    for row in report.results:
        data = row.as_dict()
        writer.writerow(
            [cell_text(data[k]) for k in head]
            + [cell_text(row.segment.get(k)) for k in segments]
            + [cell_text(data[k]) for k in tail]
            + [cell_text(row.detail.get(k)) for k in details]
        )
    return out.getvalue()
