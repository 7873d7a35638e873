"""Typed reading gives the figures of the text rules, cell for cell.

Arrow's CSV parser converts clean number and ISO timestamp columns itself (`_arrow_types` in
`cx_cli/sources.py`); a cell it cannot convert, or NaN/inf, sends the file back to be read with
that column as text, skipping the rows already handed on. Stdin cannot be read twice and is
always read as text, so the same bytes on stdin are the reference here: results, row
accounting and per-field counts must be identical, whatever the batch size.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cx_cli.analysis import run
from cx_cli.config import Config, parse_config
from cx_cli.errors import CxError
from cx_cli.report import Report

HEADER = ["Submitted At", "Channel", "NPS", "CSAT", "Spend", "Order"]
CLEAN_SCORES = ["", "0", "7", "10", "3", "5", " 8 ", "+9", "3.0", "007"]
MESSY_SCORES = ["n/a", "NaN", "-nan", "inf", "1e309", "10 - Extremely likely", "seven", "1,5", "11"]
CLEAN_DATES = ["2024-01-05 10:00:00", "2024-02-29", "2024-03-01T12:30:00", "2024-03-31 23:59:59.5"]
MESSY_DATES = ["", "garbage", "2024-04-01 10:00:00+02:00", "2024-05-01Z", " 2024-05-02", "45000"]
CLEAN_MONEY = ["", "12.50", "3", "1e3", "0.1"]
MESSY_MONEY = ["$4.00", "1,234.50", "(2.00)", "EUR 3", "inf", "nan"]


def weighted(clean: Sequence[str], messy: Sequence[str]) -> st.SearchStrategy[str]:
    """Mostly clean cells, so that a file is often read typed for a while before it fails."""
    return st.sampled_from([*clean, *clean, *clean, *messy])


rows_strategy = st.lists(
    st.tuples(
        weighted(CLEAN_DATES, MESSY_DATES),
        st.sampled_from(["email", " chat ", "", "phone"]),
        weighted(CLEAN_SCORES, MESSY_SCORES),
        weighted(CLEAN_SCORES, MESSY_SCORES),
        weighted(CLEAN_MONEY, MESSY_MONEY),
        st.sampled_from(["A1", "A2", "A3", " A1", ""]),
    ),
    min_size=1,
    max_size=40,
)


def csv_bytes(rows: Sequence[Sequence[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return text.getvalue().encode()


SOURCES = {
    "surveys": {
        "kind": "responses",
        "columns": {"submitted_at": "Submitted At", "nps": "NPS", "csat": "CSAT"},
        "segments": {"channel": "Channel"},
    },
    "orders": {
        "kind": "orders",
        "columns": {"order_id": "Order", "ordered_at": "Submitted At", "amount": "Spend"},
        "segments": {"channel": "Channel"},
    },
}
KPIS = {
    "surveys": ["nps", "csat", {"kpi": "csat", "variant": "mean", "label": "csat_mean"}],
    "orders": ["aov"],
}


def config(path: str, kind: str = "surveys", **source: Any) -> Config:
    """One source over the export: survey scores, or order lines."""
    spec = {**SOURCES[kind], "path": path, **source}
    return parse_config({"version": 1, "sources": {kind: spec}, "kpis": KPIS[kind]})


def outcome(cfg: Config, **options: Any) -> Any:
    """Results and accounting of a run, or the kind of error it stopped with."""
    try:
        report = run(cfg, by=["channel"], period="month", **options)
    except CxError as exc:
        return type(exc).__name__
    return summary(report)


class Close(float):
    """A KPI value that equals another to 1e-12 relative: frames of other sizes (typed
    columns are smaller than text) add the same floats in another order, e.g. 1000 + 0.1 +
    1000 + 0.1 gives 2000.2 one way and 2000.1999999999998 the other."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, float):
            return NotImplemented
        return math.isclose(self, other, rel_tol=1e-12, abs_tol=1e-12)

    __hash__ = float.__hash__


def summary(report: Report) -> tuple[Any, ...]:
    results = sorted(
        (r.kpi, r.variant, r.period or "", str(sorted(r.segment.items())), r.value, r.n)
        for r in report.results
    )
    results = [(*r[:4], None if r[4] is None else Close(r[4]), r[5]) for r in results]
    inputs = [(i.rows_read, dict(i.rows_dropped), i.fields) for i in report.inputs]
    return results, inputs


def from_stdin(data: bytes, monkeypatch: pytest.MonkeyPatch, cfg: Config, **options: Any) -> Any:
    """The outcome of the same bytes on stdin (read as text), for the same config."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    (name,) = cfg.sources
    spec = cfg.sources[name].model_copy(update={"path": "-"})
    return outcome(dataclasses.replace(cfg, sources={name: spec}), **options)


SUMMED_IN_ANOTHER_ORDER = [
    ("2024-01-05 10:00:00", "email", "", "", amount, "A1")
    for amount in [*[""] * 11, "1e3", "0.1", "1e3", "0.1"]
]


@given(
    rows=rows_strategy,
    batch_bytes=st.sampled_from([64, 200, 8 << 20]),
    kind=st.sampled_from(sorted(SOURCES)),
)
@example(rows=SUMMED_IN_ANOTHER_ORDER, batch_bytes=64, kind="orders")  # found in CI, see Close
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_typed_reading_gives_the_figures_and_counts_of_the_text_rules(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[tuple[str, ...]],
    batch_bytes: int,
    kind: str,
) -> None:
    data = csv_bytes(rows)
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    cfg = config(str(path), kind)
    typed = outcome(cfg, batch_bytes=batch_bytes)
    assert typed == from_stdin(data, monkeypatch, cfg, batch_bytes=batch_bytes)


def test_a_bad_cell_after_rows_were_handed_on_is_read_as_text_without_counting_rows_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = [("2024-01-05 10:00:00", "email", str(i % 11), "4", "10", f"o{i}") for i in range(200)]
    rows = [*clean, ("2024-02-05 10:00:00", "chat", "n/a", "5", "$7.00", "x"), *clean[:100]]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    surveys, orders = config(str(path)), config(str(path), "orders")
    results, inputs = outcome(surveys, batch_bytes=64)
    assert inputs[0][0] == 301  # rows read, each once
    assert inputs[0][2]["nps"] == {"valid": 300, "blank": 1}  # "n/a" is blank, by the text rules
    assert (results, inputs) == from_stdin(csv_bytes(rows), monkeypatch, surveys, batch_bytes=64)
    results, inputs = outcome(orders, batch_bytes=64)
    assert inputs[0][2]["amount"] == {"valid": 301}  # "$7.00" read by the money rules
    aov = [r for r in results if r[0] == "aov" and r[2] == "" and r[3] == "[]"]
    assert aov[0][4] == pytest.approx((300 * 10 + 7) / 201)  # o0..o99 are two lines each
    assert (results, inputs) == from_stdin(csv_bytes(rows), monkeypatch, orders, batch_bytes=64)


def test_skipped_ragged_rows_are_counted_once_when_the_file_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [",".join(HEADER)]
    lines += ["2024-01-05 10:00:00,email,9,4,10,a"] * 50 + ["2024-01-05,email,9,4,10,a,extra"] * 3
    lines += ["2024-01-06 10:00:00,email,9,4,10,a"] * 50 + ["2024-01-07 10:00:00,chat,N/A,4,1,a"]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    cfg = config(str(path), bad_rows="skip")
    results, inputs = outcome(cfg, batch_bytes=64)
    assert inputs[0][0] == 104
    assert inputs[0][1] == {"wrong number of fields": 3}
    assert inputs[0][2]["nps"] == {"valid": 100, "blank": 1}
    assert (results, inputs) == from_stdin(path.read_bytes(), monkeypatch, cfg, batch_bytes=64)


@pytest.mark.parametrize("odd", ["NaN", "-nan", "inf", "1e309"])
def test_nan_and_infinity_among_clean_numbers_are_judged_by_the_text_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: str
) -> None:
    clean = [("2024-01-05 10:00:00", "email", str(i % 11), "4", "10", f"o{i}") for i in range(40)]
    rows = [*clean, ("2024-01-06 10:00:00", "chat", odd, "4", odd, "x"), *clean]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    for kind in SOURCES:
        cfg = config(str(path), kind)
        typed = outcome(cfg, batch_bytes=64)
        assert typed == from_stdin(path.read_bytes(), monkeypatch, cfg, batch_bytes=64)


def test_ids_are_trimmed_and_blank_ids_are_no_ids_on_every_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        ("2024-01-05 10:00:00", "email", "9", "4", "10", "A1"),
        ("2024-01-05 10:00:00", "email", "9", "4", "5", " A1 "),  # the same order
        ("2024-01-05 10:00:00", "email", "9", "4", "7", "   "),  # no order id: dropped
        ("2024-01-05 10:00:00", "email", "9", "4", "1", "B2"),
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    cfg = config(str(path), "orders")
    results, inputs = outcome(cfg, batch_bytes=64)
    assert inputs[0][1] == {"order_id blank": 1}
    aov = [r for r in results if r[0] == "aov" and r[2] == "" and r[3] == "[]"]
    assert (aov[0][4], aov[0][5]) == (pytest.approx((15 + 1) / 2), 2)
    assert (results, inputs) == from_stdin(path.read_bytes(), monkeypatch, cfg, batch_bytes=64)


@pytest.mark.parametrize(
    ("condition", "aov", "orders", "dropped"),
    [
        ({"eq": " B2"}, 1.0, 1, {"order_id blank": 1, "filter Order eq  B2": 1}),
        ({"not_startswith": "B"}, 5.5, 2, {"order_id blank": 1}),
    ],
)
def test_a_column_filter_sees_an_id_columns_cells_as_they_are(
    tmp_path: Path, condition: dict[str, str], aov: float, orders: int, dropped: dict[str, int]
) -> None:
    """Ids are trimmed on the parse thread only where the column is nothing but ids: a column
    filter on the same column reads the raw cells. By hand: the all-space id is dropped as
    blank first; `eq: " B2"` keeps only " B2" (AOV 1.0 over one order); `not_startswith: B`
    keeps " B2", whose raw text starts with a space (AOV (10 + 1) / 2 = 5.5 over two)."""
    rows = [
        ("2024-01-05 10:00:00", "email", "9", "4", "10", "A1"),
        ("2024-01-05 10:00:00", "email", "9", "4", "1", " B2"),
        ("2024-01-05 10:00:00", "email", "9", "4", "7", "   "),
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    cfg = config(str(path), "orders", filters=[{"column": "Order", **condition}])
    results, inputs = outcome(cfg)
    overall = [r for r in results if r[0] == "aov" and r[2] == "" and r[3] == "[]"]
    assert (overall[0][4], overall[0][5]) == (pytest.approx(aov), orders)
    assert inputs[0][1] == dropped


def test_slot_sum_reads_a_sliced_columns_own_slots() -> None:
    import pyarrow as pa

    from cx_cli.sources import _slot_sum

    column = pa.array([float("nan"), 1.0, None, 2.5, float("inf")])
    assert _slot_sum(column.slice(1, 3)) == 3.5  # the blank's slot holds zero
    assert math.isnan(_slot_sum(column.slice(0, 2)))
    assert _slot_sum(column.slice(4)) == math.inf
    assert _slot_sum(column.slice(5)) == 0.0
    assert _slot_sum(pa.array([1.5, None, 2.0], pa.float32()).slice(1)) == 2.0
    with pytest.raises(TypeError):
        _slot_sum(pa.array([1, 2]))


@pytest.mark.parametrize("cells", [("1e308", "1e308"), ("inf", "-inf")])
def test_a_sum_that_overflows_is_read_again_as_text_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cells: tuple[str, str]
) -> None:
    import warnings

    rows = [
        ("2024-01-05 10:00:00", "email", "9", "4", cell, f"o{i}") for i, cell in enumerate(cells)
    ]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    cfg = config(str(path), "orders")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        typed = outcome(cfg)
    assert typed == from_stdin(path.read_bytes(), monkeypatch, cfg)


def test_blank_cells_keep_a_number_column_typed(tmp_path: Path) -> None:
    """Blank cells are nulls whose slots Arrow leaves at zero: the NaN/inf check must not send
    the column to the (equal but slower) text rules for them, frame after frame."""
    from cx_cli.sources import SourceReader

    nps = ["" if i % 3 else str(i % 11) for i in range(90)]  # two blanks in three
    rows = [("2024-01-05 10:00:00", "email", score, "4", "", "o") for score in nps]
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows))
    spec = config(str(path)).sources["surveys"]
    reader = SourceReader("surveys", spec, str(path), ("nps", "csat"), batch_bytes=64)
    frames = list(reader.batches())
    assert sum(len(f) for f in frames) == 90
    assert reader._text_columns == set()  # read once, typed
    assert sum(int(f["nps"].notna().sum()) for f in frames) == 30
