"""The JSON report: versioned, strict RFC 8259 (no NaN), numbers unrounded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cx_cli.render import json_text, plain
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
    return json_text(report_document(report))
