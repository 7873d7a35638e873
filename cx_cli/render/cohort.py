"""Render a cohort matrix: a Rich table (cohorts x periods since first), or long-form JSON / CSV.

Incomplete cells (their period had not elapsed by the last date in the data) are marked, never
shown as drops: in the table as the value so far, dimmed, with a trailing "…"; in JSON and CSV
with `complete: false`.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from cx_cli import __version__
from cx_cli.render import json_text, plain
from cx_cli.render.csv import cell_text

if TYPE_CHECKING:
    from rich.table import Table

    from cx_cli.cohort import Cohorts

COHORT_FORMATS = ("table", "json", "csv")
SCHEMA_VERSION = 1
INCOMPLETE_MARK = "…"


def render_cohorts(
    cohorts: Cohorts, fmt: str = "table", *, color: bool = False, width: int | None = None
) -> str:
    """The matrix as text in `fmt`: table, json or csv."""
    if fmt == "json":
        return json_text(cohorts_document(cohorts))
    if fmt == "csv":
        return cohorts_csv(cohorts)
    if fmt == "table":
        return cohorts_table(cohorts, color=color, width=width)
    raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(COHORT_FORMATS)}")


def _cell_dict(cohorts: Cohorts, index: int) -> dict[str, Any]:
    cell = cohorts.cells[index]
    return {
        "cohort": cell.cohort,
        cohorts.offset_key: cell.offset,
        "customers": cell.customers,
        "active": cell.active,
        "revenue": cell.revenue,
        "value": cell.value,
        "complete": cell.complete,
    }


def cohorts_document(cohorts: Cohorts) -> dict[str, Any]:
    """The long form: one object per cell, with the definition and row accounting."""
    return plain(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "cxkpi", "version": __version__},
            "source": cohorts.source,
            "kind": cohorts.kind,
            "metric": cohorts.metric,
            "period": cohorts.period,
            "unit": "%",
            "currency": cohorts.currency,  # of cells[].revenue; null when the source names none
            "as_of": cohorts.as_of,
            "since": cohorts.since,
            "until": cohorts.until,
            "definition": cohorts.definition,
            "ignored_rows": cohorts.ignored_rows,
            "cells": [_cell_dict(cohorts, i) for i in range(len(cohorts.cells))],
            "inputs": [summary.as_dict() for summary in cohorts.inputs],
        }
    )


def cohorts_csv(cohorts: Cohorts) -> str:
    """The long form as CSV, one row per cell; text that a spreadsheet would run is neutralised."""
    header = ["cohort", cohorts.offset_key, "customers", "active", "revenue", "value", "complete"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for i in range(len(cohorts.cells)):
        data = _cell_dict(cohorts, i)
        writer.writerow([cell_text(data[k]) for k in header])
    return out.getvalue()


def cohorts_table(cohorts: Cohorts, *, color: bool = False, width: int | None = None) -> str:
    """The matrix for a terminal, with the definition and the source's row accounting below."""
    from rich.console import Console
    from rich.text import Text

    offsets = max((cell.offset for cell in cohorts.cells), default=-1) + 1
    needed = 22 + 8 * offsets
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=max(width or 110, needed),
        highlight=False,
        emoji=False,
    )
    console.print(matrix_table(cohorts, offsets))
    legend = f"{INCOMPLETE_MARK} {cohorts.period} not over by {cohorts.as_of}: the value so far, "
    notes = [
        *([legend + "not a drop"] if any(not cell.complete for cell in cohorts.cells) else []),
        cohorts.definition,
        *(_accounting(cohorts)),
    ]
    for note in notes:
        console.print(Text(note, style="dim"))
    return buffer.getvalue()


def matrix_table(cohorts: Cohorts, offsets: int) -> Table:
    from rich.table import Table
    from rich.text import Text

    what = "% of customers active" if cohorts.metric == "customers" else "% of first revenue"
    title = (
        f"Cohort retention: {what}, by {cohorts.period}s since first "
        f"(source {cohorts.source}, data to {cohorts.as_of})"
    )
    table = Table(title=title, title_justify="left", title_style="bold")
    table.add_column("Cohort")
    table.add_column("Customers", justify="right")
    letter = cohorts.period[0].upper()
    for offset in range(offsets):
        table.add_column(f"{letter}{offset}", justify="right")
    rows: dict[str, list[Text | str]] = {}
    for cell in cohorts.cells:
        row = rows.setdefault(cell.cohort, [cell.cohort, f"{cell.customers:,}"])
        text = "–" if cell.value is None else f"{cell.value:.1f}"
        if not cell.complete:
            row.append(Text(text + INCOMPLETE_MARK, style="dim"))
        else:
            row.append(text)
    for row in rows.values():
        table.add_row(*row, *[""] * (offsets + 2 - len(row)))
    return table


def _accounting(cohorts: Cohorts) -> list[str]:
    lines = []
    for item in cohorts.inputs:
        dropped = ", ".join(f"{c:,} {why}" for why, c in item.rows_dropped.items()) or "none"
        lines.append(
            f"{item.source}: {item.rows_read:,} rows read, {item.rows_used:,} used, "
            f"dropped: {dropped}"
        )
    if cohorts.ignored_rows:
        lines.append(
            f"{cohorts.ignored_rows:,} rows left out (no customer id, or ended before started)"
        )
    return lines
