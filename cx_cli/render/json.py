"""The JSON report: versioned, strict RFC 8259 (no NaN), numbers unrounded."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cx_cli.render import plain
from cx_cli.report import SCHEMA_VERSION

if TYPE_CHECKING:
    from cx_cli.report import Report


def report_document(report: Report) -> dict[str, Any]:
    """The report as the contract's JSON object."""
    return plain(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "cxkpi", "version": report.tool_version},
            "generated_at": report.generated_at,
            "config": {"path": report.config_path, "sha256": report.config_sha256},
            "settings": dict(report.settings),
            "inputs": [i.as_dict() for i in report.inputs],
            "definitions": [d.as_dict() for d in report.definitions],
            "results": [r.as_dict() for r in report.results],
            "warnings": list(report.warnings),
        }
    )


def render_json(report: Report) -> str:
    """The document, one line per member and one line per item of its lists (a result, an
    input, a definition), so that `grep` finds a whole result and diffs show whole rows.

    Each line is encoded by the json module's C encoder, which an `indent` turns off: half
    the time of an indented dump (10 -> 5 ms for 450 results, 0.58 -> 0.26 s for 22,000).
    """
    document = report_document(report)
    lines = ["{"]
    for position, (key, value) in enumerate(document.items()):
        comma = "," if position < len(document) - 1 else ""
        if isinstance(value, list) and value:
            items = ",\n".join(f"    {_compact(item)}" for item in value)
            lines.append(f"  {_compact(key)}: [\n{items}\n  ]{comma}")
        else:
            lines.append(f"  {_compact(key)}: {_compact(value)}{comma}")
    return "\n".join([*lines, "}"]) + "\n"


def _compact(value: Any) -> str:
    """Strict JSON (no NaN), text as it is, `, ` and `: ` between items."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
