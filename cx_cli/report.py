"""The Report: the one shape every renderer reads (results, inputs, definitions, warnings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Result:
    """One KPI figure for one (period, segment) group, in the contract's field order."""

    kpi: str
    source: str
    period: str | None
    segment: Mapping[str, str]
    value: float | None
    unit: str
    n: int
    ci_low: float | None
    ci_high: float | None
    ci_method: str | None
    confidence: float
    detail: Mapping[str, Any]
    variant: str
    low_sample: bool
    target: float | None = None
    status: str | None = None
    previous: float | None = None
    change: float | None = None
    p_value: float | None = None
    label: str = ""  # the config entry's label (the KPI name unless two entries share it)

    def as_dict(self) -> dict[str, Any]:
        """The fields in contract order (shallow: renderers copy what they change)."""
        row = {name: getattr(self, name) for name in RESULT_FIELDS}
        return {**row, "segment": dict(self.segment), "detail": dict(self.detail)}


RESULT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Result))


@dataclass(frozen=True)
class InputSummary:
    """Where a source's data came from and what happened to its rows."""

    source: str
    path: str
    sha256: str | None
    size_bytes: int | None
    rows_read: int
    rows_used: int
    rows_dropped: Mapping[str, int]
    rows_history_only: int
    fields: Mapping[str, Mapping[str, int]]
    encoding: str
    encoding_detected: bool
    delimiter: str
    header_rows: int
    files: Sequence[Mapping[str, Any]] = ()  # path, sha256, size_bytes of each file read

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Definition:
    """The definition a KPI was computed with, echoed so two reports can be compared."""

    kpi: str
    title: str
    source: str
    unit: str
    higher_is_better: bool
    variant: str
    options: Mapping[str, Any]
    label: str
    formula: str
    interval: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """Everything one run computed, plus the metadata that makes it traceable."""

    results: tuple[Result, ...]
    inputs: tuple[InputSummary, ...]
    definitions: tuple[Definition, ...]
    settings: Mapping[str, Any]
    tool_version: str
    generated_at: str
    config_path: str | None = None
    config_sha256: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def checked_rows(self) -> list[Result]:
        """Rows that `--fail-on-miss` checks: overall rows and the rows of each KPI's latest
        period with a value. A segment whose row in that period has none (a response without
        a CSAT answer) is checked at its own last period with a value instead, so the empty row
        does not hide that miss; a segment with no row in it at all (gone quiet) is not checked.
        """
        latest: dict[str, str] = {}  # per KPI: the latest period with a value
        measured: dict[tuple[str, Segment], str] = {}  # per KPI and segment: the same
        for row in self.results:
            if row.period is not None and row.value is not None:
                latest[row.label] = max(latest.get(row.label, row.period), row.period)
                key = (row.label, _segment_key(row))
                measured[key] = max(measured.get(key, row.period), row.period)
        empty = {
            (r.label, _segment_key(r))
            for r in self.results
            if r.period is not None and r.period == latest.get(r.label) and r.value is None
        }

        def checked(row: Result) -> bool:
            if row.period is None:
                return True
            key = (row.label, _segment_key(row))
            return row.period == (measured.get(key) if key in empty else latest.get(row.label))

        return [r for r in self.results if checked(r)]

    def missed(self) -> list[Result]:
        """Checked rows whose target was missed."""
        return [r for r in self.checked_rows() if r.status == "missed"]


Segment = tuple[tuple[str, str], ...]


def _segment_key(row: Result) -> Segment:
    return tuple(sorted(row.segment.items()))
