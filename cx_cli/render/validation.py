"""What `cxkpi validate` prints: per source, how the file was read and what its rows became."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cx_cli.render import json_text, plain

if TYPE_CHECKING:
    from cx_cli.report import InputSummary


def render_validation(summaries: Sequence[InputSummary], fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        document = {"ok": True, "sources": [s.as_dict() for s in summaries]}
        return json_text(plain(document))
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=color, no_color=not color, width=110, highlight=False
    )
    for s in summaries:
        table = Table(
            title=f"{s.source}: {s.path}",
            title_justify="left",
            title_style="bold",
            show_header=False,
        )
        table.add_column("what")
        table.add_column("value")
        table.add_row(
            "read as",
            f"{s.encoding}{' (detected)' if s.encoding_detected else ''}, "
            f"delimiter {s.delimiter!r}, "
            f"{s.header_rows} header row(s), {s.size_bytes:,} bytes",
        )
        table.add_row("rows", f"{s.rows_read:,} read, {s.rows_used:,} used")
        for why, count in s.rows_dropped.items():
            table.add_row("dropped", f"{count:,} {why}")
        for name, counts in s.fields.items():
            table.add_row(f"field {name}", ", ".join(f"{c:,} {why}" for why, c in counts.items()))
        console.print(table)
    console.print("config and data OK")
    return buffer.getvalue()
