"""How values read for people (tables and Markdown); JSON and CSV never humanise."""

from __future__ import annotations

from cx_cli.report import InputSummary, Result

STATUS_MARK = {"met": "✓ met", "missed": "✗ missed", "inconclusive": "~ inconclusive"}


def number(value: float | None, unit: str) -> str:
    """A value in its unit: NPS in whole points, % to one decimal, durations as 3m 44s."""
    if value is None:
        return "–"
    if unit == "points":
        return f"{value:+.0f}"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "seconds":
        return duration(value)
    if unit == "currency":
        return f"{value:,.2f}"
    if len(unit) == 3 and unit.isupper():  # a configured ISO 4217 code: 1,234.50 EUR
        return f"{value:,.2f} {unit}"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{value:.2f}"


def duration(seconds: float) -> str:
    """3m 44s, 2h 05m, 1d 03h."""
    whole = round(abs(seconds))
    sign = "-" if seconds < 0 else ""
    if whole < 60:
        return f"{sign}{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{sign}{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d {hours:02d}h"


def interval(row: Result) -> str:
    """[low, high] in the value's format, or blank without an interval."""
    if row.ci_low is None or row.ci_high is None:
        return ""
    return f"[{number(row.ci_low, row.unit)}, {number(row.ci_high, row.unit)}]"


def change(row: Result, higher_is_better: bool) -> tuple[str, str]:
    """The change from the previous period with an arrow, and whether it is good/bad/flat."""
    if row.change is None:
        return "", "flat"
    step = number(abs(row.change), row.unit).lstrip("+").rstrip("%")
    if row.unit == "%":
        step += " pp"
    shown = any(digit in "123456789" for digit in step)  # 0.0 pp: too small to show a way
    arrow = "=" if not shown else "▲" if row.change > 0 else "▼"
    significant = row.p_value is not None and row.p_value < 0.05
    mood = "flat" if not shown else ("good" if (row.change > 0) == higher_is_better else "bad")
    return f"{arrow} {step}{'*' if significant else ''}", mood


def status(row: Result) -> str:
    return STATUS_MARK.get(row.status or "", "")


def group(row: Result) -> str:
    """'All', or the segment's labels joined."""
    return " / ".join(row.segment.values()) if row.segment else "All"


def dropped(item: InputSummary) -> str:
    """Rows dropped, by reason."""
    return ", ".join(f"{c:,} {why}" for why, c in item.rows_dropped.items()) or "none"


def used(item: InputSummary) -> str:
    """Rows used, saying how many of them only served as history (before --since)."""
    history = f" ({item.rows_history_only:,} as history)" if item.rows_history_only else ""
    return f"{item.rows_used:,}{history}"


def left_out(item: InputSummary) -> str:
    """Per field, values that were blank or invalid (a blank date often means "not yet")."""
    fields = []
    for name, counts in item.fields.items():
        reasons = [f"{c:,} {why}" for why, c in counts.items() if why != "valid"]
        if reasons:
            fields.append(f"{name}: " + ", ".join(reasons))
    return "; ".join(fields)
