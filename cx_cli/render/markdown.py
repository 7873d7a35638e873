"""The Markdown report: a GitHub-flavoured table per KPI and a data-quality table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cx_cli.render import humanise

if TYPE_CHECKING:
    from cx_cli.report import Report


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(report: Report) -> str:
    confidence = round(100 * float(report.settings.get("confidence", 0.95)))
    lines = [
        "# CX KPI report",
        "",
        f"Generated {report.generated_at} by cxkpi {report.tool_version}.",
        "",
    ]
    for d in report.definitions:
        lines += [f"## {d.title} ({d.label}, {d.variant}; {d.source})", "", f"{d.formula}", ""]
        header = [
            "Period",
            "Group",
            "Value",
            f"{confidence}% CI",
            "n",
            "Δ prev",
            "Target",
            "Status",
        ]
        body = []
        for r in report.results:
            if r.label != d.label:
                continue
            body.append(
                [
                    r.period or "all",
                    humanise.group(r),
                    humanise.number(r.value, r.unit),
                    humanise.interval(r),
                    f"{r.n}" + (" †" if r.low_sample else ""),
                    humanise.change(r, d.higher_is_better)[0],
                    humanise.number(r.target, r.unit) if r.target is not None else "",
                    humanise.status(r),
                ]
            )
        lines += [*_table(header, body), ""]
    lines += ["## Data quality", ""]
    lines += _table(
        ["Source", "Rows read", "Used", "Dropped (why)", "Values blank or invalid"],
        [
            [
                i.source,
                str(i.rows_read),
                humanise.used(i),
                humanise.dropped(i),
                humanise.left_out(i) or "none",
            ]
            for i in report.inputs
        ],
    )
    lines += [
        "",
        f"† n below min_n {report.settings.get('min_n')}; * change significant at "
        "p < 0.05 (Holm-adjusted).",
    ]
    if report.warnings:
        lines += ["", "### Warnings", "", *(f"- {_escape(w)}" for w in report.warnings)]
    return "\n".join(lines) + "\n"
