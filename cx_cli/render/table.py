"""The terminal report: one Rich table per KPI, data quality under it."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cx_cli.render import humanise

if TYPE_CHECKING:
    from cx_cli.report import Definition, Report, Result

MOOD_STYLE = {"good": "green", "bad": "red", "flat": ""}
STATUS_STYLE = {"met": "green", "missed": "bold red", "inconclusive": "yellow"}
# Below this many columns tables drop their boxes and share padding between columns, so a
# KPI table with targets and changes fits 80 columns without wrapping its cells.
BOXED_WIDTH = 100


def render_table(report: Report, *, color: bool = False, width: int | None = None) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=width or 110,
        highlight=False,
        emoji=False,
    )
    fit = _compact if console.width < BOXED_WIDTH else lambda table: table
    for definition in report.definitions:
        rows = [r for r in report.results if r.label == definition.label]
        console.print(fit(kpi_table(definition, rows, report)))
        console.print()
    console.print(fit(quality_table(report)))
    notes = []
    if any(r.low_sample for r in report.results):
        notes.append(f"† n below min_n {report.settings.get('min_n')}")
    if any(r.p_value is not None and r.p_value < 0.05 for r in report.results):
        notes.append("* change significant at p < 0.05 (Holm-adjusted)")
    if notes:
        console.print(Text("   ".join(notes), style="dim"))
    return buffer.getvalue()


def kpi_table(definition: Definition, rows: list[Result], report: Report) -> Table:
    confidence = round(100 * float(report.settings.get("confidence", 0.95)))
    title = f"{definition.title} ({definition.label}, {definition.variant}; {definition.source})"
    table = Table(title=title, title_justify="left", title_style="bold")
    has_periods = any(r.period for r in rows)
    if has_periods:
        table.add_column("Period")
    table.add_column("Group")
    table.add_column("Value", justify="right", style="bold")
    table.add_column(f"{confidence}% CI", justify="right")
    table.add_column("n", justify="right")
    if has_periods:
        table.add_column("Δ prev", justify="right")
    has_targets = any(r.target is not None for r in rows)
    if has_targets:
        table.add_column("Target", justify="right")
        table.add_column("Status")
    previous_kind = None
    for row in rows:
        kind = (row.period is None, bool(row.segment))
        if previous_kind is not None and kind != previous_kind:
            table.add_section()
        previous_kind = kind
        table.add_row(*_cells(row, definition, has_periods, has_targets))
    return table


def _cells(
    row: Result, definition: Definition, has_periods: bool, has_targets: bool
) -> list[str | Text]:
    n = f"{row.n:,}" + (" †" if row.low_sample else "")
    cells: list[str | Text] = []
    if has_periods:
        cells.append(row.period or "all")
    cells += [
        humanise.group(row),
        humanise.number(row.value, row.unit),
        humanise.interval(row),
        Text(n, style="dim" if row.low_sample else ""),
    ]
    if has_periods:
        text, mood = humanise.change(row, definition.higher_is_better)
        cells.append(Text(text, style=MOOD_STYLE[mood]))
    if has_targets:
        cells.append(humanise.number(row.target, row.unit) if row.target is not None else "")
        cells.append(Text(humanise.status(row), style=STATUS_STYLE.get(row.status or "", "")))
    return cells


def quality_table(report: Report) -> Table:
    table = Table(title="Data quality", title_justify="left", title_style="bold")
    for name in ("Source", "Rows read", "Used", "Dropped (why)", "Values blank or invalid"):
        table.add_column(name, justify="right" if name in ("Rows read", "Used") else "left")
    for item in report.inputs:
        table.add_row(
            item.source,
            f"{item.rows_read:,}",
            humanise.used(item),
            humanise.dropped(item),
            humanise.left_out(item) or "none",
        )
    return table


def _compact(table: Table) -> Table:
    """The table without its box lines and doubled padding (for a narrow terminal)."""
    table.box, table.pad_edge, table.collapse_padding = box.SIMPLE_HEAD, False, True
    return table
