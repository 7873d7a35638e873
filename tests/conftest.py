"""Shared fixtures: tiny survey files and configs written into tmp_path."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

HEADER = ["id", "when", "customer", "channel", "nps", "csat", "ces"]


def write_csv(path: Path, rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> Path:
    """Write rows under a header; None becomes a blank cell."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path


def survey_config(
    csv_path: Path | str, kpis: list[Any] | None = None, **report: Any
) -> dict[str, Any]:
    """A config dict for the HEADER layout."""
    return {
        "version": 1,
        "sources": {
            "surveys": {
                "kind": "responses",
                "path": str(csv_path),
                "columns": {
                    "response_id": "id",
                    "submitted_at": "when",
                    "customer_id": "customer",
                    "nps": "nps",
                    "csat": "csat",
                    "ces": "ces",
                },
                "segments": {"channel": "channel"},
            }
        },
        "kpis": kpis or ["nps", "csat", "ces"],
        "report": report,
    }


def write_config(folder: Path, document: dict[str, Any], name: str = "cxkpi.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def tiny_survey(tmp_path: Path) -> Path:
    """Ten answers over two months and two channels, worked by hand in the tests."""
    rows = [
        # id, when, customer, channel, nps, csat, ces
        (1, "2024-01-05 10:00", "a", "email", 10, 5, 7),
        (2, "2024-01-06 11:00", "b", "email", 9, 4, 6),
        (3, "2024-01-07 12:00", "c", "chat", 8, 3, 4),
        (4, "2024-01-20 09:00", "d", "chat", 6, 2, 2),
        (5, "2024-01-31 23:59", "a", "email", 3, 1, 1),
        (6, "2024-02-01 00:00", "e", "chat", 10, 5, 5),
        (7, "2024-02-10 08:00", "f", "chat", 9, None, 7),
        (8, "2024-02-11 08:00", "g", "email", None, 4, None),
        (9, "2024-02-12 08:00", "h", "email", 7, 5, 3),
        (10, "2024-02-28 08:00", "b", "chat", 0, 4, 6),
    ]
    return write_csv(tmp_path / "tiny.csv", rows)
