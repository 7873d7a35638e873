"""Invariants of the library on generated survey files: ranges, intervals, order, grouping, batches.

Each example writes a small survey CSV into tmp_path and runs `cx_cli.analysis.run` on it, the way
a user's export would be read: through the streaming reader, the grouping and the estimates.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_cli.analysis import run
from cx_cli.config import Config, parse_config
from cx_cli.report import Report, Result

HEADER = ["Response", "Customer", "Submitted At", "Channel", "NPS", "CSAT", "CES"]
COLUMNS = {"submitted_at": "Submitted At", "nps": "NPS", "csat": "CSAT", "ces": "CES"}
KPIS: list[Any] = [
    "nps",
    "csat",
    "ces",
    {"kpi": "csat", "variant": "mean", "label": "csat_mean"},
    {"kpi": "ces", "variant": "index", "label": "ces_index"},
]
# One KPI per kind of estimate (net score, proportion, mean): enough where the run is repeated.
ONE_OF_EACH: list[Any] = ["nps", "csat", {"kpi": "ces", "variant": "mean"}]
START = dt.datetime(2024, 1, 1)

Row = tuple[int, str, dt.datetime, str, int | None, int | None, int | None]

rows_strategy = st.lists(
    st.tuples(
        st.integers(1, 12),  # response id: repeats happen, for dedupe
        st.sampled_from(["a", "b", "c", ""]),  # customer, sometimes blank
        st.integers(0, 366 * 24 * 3600 - 1).map(lambda s: START + dt.timedelta(seconds=s)),
        st.sampled_from(["email", "chat", "phone", ""]),  # channel, sometimes blank
        st.none() | st.integers(0, 10),
        st.none() | st.integers(1, 5),
        st.none() | st.integers(1, 7),
    ),
    min_size=1,
    max_size=20,
)
periods = st.sampled_from(["week", "month", "quarter", "year"])
examples = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def write_rows(folder: Path, rows: Sequence[Row], name: str = "survey.csv") -> Path:
    """The rows as a CSV export; None is a blank cell, timestamps are ISO without a zone."""
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for response, customer, when, channel, *scores in rows:
            writer.writerow(
                [response, customer, when.strftime("%Y-%m-%d %H:%M:%S"), channel]
                + ["" if s is None else s for s in scores]
            )
    return path


def survey_config(path: Path, kpis: list[Any] = KPIS, **source: Any) -> Config:
    """A config for the HEADER layout, built from a dict with the file's absolute path."""
    spec = {
        "kind": "responses",
        "path": str(path),
        "columns": COLUMNS,
        "segments": {"channel": "Channel"},
        **source,
    }
    return parse_config({"version": 1, "sources": {"surveys": spec}, "kpis": kpis})


def key(result: Result) -> tuple[Any, ...]:
    return (result.kpi, result.variant, result.period, tuple(sorted(result.segment.items())))


def by_key(report: Report) -> dict[tuple[Any, ...], dict[str, Any]]:
    table = {key(r): r.as_dict() for r in report.results}
    assert len(table) == len(report.results), "two results share a (kpi, period, segment)"
    return table


def overall(report: Report, kpi: str, variant: str) -> Result:
    (row,) = [
        r
        for r in report.results
        if (r.kpi, r.variant) == (kpi, variant) and r.period is None and not r.segment
    ]
    return row


@given(rows=rows_strategy, period=periods)
@examples
def test_every_nps_value_lies_between_minus_100_and_100(
    tmp_path: Path, rows: list[Row], period: str
) -> None:
    config = survey_config(write_rows(tmp_path, rows), kpis=["nps"])
    report = run(config, by=["channel"], period=period)
    nps = [r for r in report.results if r.kpi == "nps"]
    assert nps
    for row in nps:
        if row.value is None:
            assert row.n == 0
        else:
            assert -100 <= row.value <= 100
            assert -100 <= row.ci_low <= row.ci_high <= 100


@given(rows=rows_strategy, period=periods)
@examples
def test_interval_contains_the_estimate_for_nps_csat_and_ces(
    tmp_path: Path, rows: list[Row], period: str
) -> None:
    report = run(survey_config(write_rows(tmp_path, rows)), by=["channel"], period=period)
    for row in report.results:
        if row.value is None or row.ci_low is None:
            continue
        assert row.ci_low <= row.value <= row.ci_high, row


@pytest.mark.parametrize(
    ("kpi", "variant", "scores", "value"),
    [
        ("nps", "standard", (10, None, None), 100.0),
        ("nps", "standard", (0, None, None), -100.0),
        ("ces", "index", (None, None, 7), 100.0),
        ("ces", "index", (None, None, 1), -100.0),
    ],
)
def test_net_score_interval_of_a_single_answer_contains_its_value(
    tmp_path: Path, kpi: str, variant: str, scores: tuple[int | None, ...], value: float
) -> None:
    rows = [(1, "a", START, "email", *scores)]
    row = overall(run(survey_config(write_rows(tmp_path, rows))), kpi, variant)
    assert row.value == value
    assert row.ci_low <= row.value <= row.ci_high


def test_nps_interval_of_a_single_answer_with_plain_wald_is_the_point(tmp_path: Path) -> None:
    rows = [(1, "a", START, "email", 10, None, None)]
    config = survey_config(write_rows(tmp_path, rows), kpis=[{"kpi": "nps", "interval": "wald"}])
    row = overall(run(config), "nps", "standard")
    assert (row.value, row.ci_low, row.ci_high) == (100.0, 100.0, 100.0)


@given(rows=rows_strategy, period=periods, seed=st.integers(0, 2**32 - 1))
@examples
def test_shuffling_the_rows_changes_no_result(
    tmp_path: Path, rows: list[Row], period: str, seed: int
) -> None:
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    config_a = survey_config(write_rows(tmp_path, rows, "a.csv"), kpis=ONE_OF_EACH)
    config_b = survey_config(write_rows(tmp_path, shuffled, "b.csv"), kpis=ONE_OF_EACH)
    a = run(config_a, by=["channel"], period=period)
    b = run(config_b, by=["channel"], period=period)
    assert by_key(a) == by_key(b)
    assert [key(r) for r in a.results] == [key(r) for r in b.results], "row order depends on input"


@given(rows=rows_strategy, period=periods)
@examples
def test_overall_n_is_the_sum_of_per_segment_and_of_per_period_n(
    tmp_path: Path, rows: list[Row], period: str
) -> None:
    report = run(survey_config(write_rows(tmp_path, rows)), by=["channel"], period=period)
    for kpi, variant in {(r.kpi, r.variant) for r in report.results}:
        mine = [r for r in report.results if (r.kpi, r.variant) == (kpi, variant)]
        total = overall(report, kpi, variant).n
        per_segment = [r.n for r in mine if r.period is None and r.segment]
        per_period = [r.n for r in mine if r.period is not None and not r.segment]
        per_both = [r.n for r in mine if r.period is not None and r.segment]
        assert sum(per_segment) == total
        assert sum(per_period) == total
        assert sum(per_both) == total
    answered = sum(1 for row in rows if row[4] is not None)
    assert overall(report, "nps", "standard").n == answered


@given(rows=rows_strategy, period=periods, batch_bytes=st.integers(64, 256))
@examples
def test_tiny_batches_give_exactly_the_results_of_one_batch(
    tmp_path: Path, rows: list[Row], period: str, batch_bytes: int
) -> None:
    config = survey_config(write_rows(tmp_path, rows), kpis=ONE_OF_EACH)
    whole = run(config, by=["channel"], period=period)
    batched = run(config, by=["channel"], period=period, batch_bytes=batch_bytes)
    assert by_key(batched) == by_key(whole)
    assert batched.inputs[0].rows_read == len(rows)
    assert batched.inputs[0].fields == whole.inputs[0].fields


@given(rows=rows_strategy, period=periods, batch_bytes=st.integers(64, 256))
@examples
def test_dedupe_and_latest_per_customer_do_not_depend_on_batches(
    tmp_path: Path, rows: list[Row], period: str, batch_bytes: int
) -> None:
    columns = {**COLUMNS, "response_id": "Response", "customer_id": "Customer"}
    config = survey_config(
        write_rows(tmp_path, rows),
        kpis=[{"kpi": "nps", "variant": "latest_per_customer"}, "csat"],
        columns=columns,
        dedupe="response_id",
    )
    whole = run(config, by=["channel"], period=period)
    batched = run(config, by=["channel"], period=period, batch_bytes=batch_bytes)
    assert by_key(batched) == by_key(whole)
    assert batched.inputs[0].rows_dropped == whole.inputs[0].rows_dropped
    assert whole.inputs[0].rows_dropped.get("duplicate response_id", 0) == len(rows) - len(
        {row[0] for row in rows}
    )


@given(rows=rows_strategy, month=st.integers(2, 12))
@examples
def test_a_month_inside_since_has_the_figures_it_has_without_it(
    tmp_path: Path, rows: list[Row], month: int
) -> None:
    """With dedupe, a month's rows are the same whatever --since leaves out before it: a row
    repeating an earlier one is a repeat, inside the window or not."""
    columns = {**COLUMNS, "response_id": "Response"}
    config = survey_config(write_rows(tmp_path, rows), columns=columns, dedupe="response_id")
    since = dt.date(2024, month, 1)
    whole = run(config, by=["channel"], period="month")
    windowed = run(config, by=["channel"], period="month", since=since)

    def figures(report: Report) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {
            key(r): (r.value, r.n, r.ci_low, r.ci_high)
            for r in report.results
            if r.period is not None and r.period >= f"{since:%Y-%m}"
        }

    assert figures(windowed) == figures(whole)


@given(rows=rows_strategy)
@examples
def test_csat_top_2_box_is_the_share_of_fours_and_fives_among_valid_answers(
    tmp_path: Path, rows: list[Row]
) -> None:
    report = run(survey_config(write_rows(tmp_path, rows), kpis=["csat"]), by=["channel"])
    for channel in [None, "email", "chat", "phone", ""]:
        mine = [r[5] for r in rows if channel is None or r[3] == channel]
        valid = [s for s in mine if s is not None]
        segment = {} if channel is None else {"channel": channel or "(blank)"}
        found = [
            r
            for r in report.results
            if (r.kpi, r.variant) == ("csat", "top_2_box") and r.segment == segment
        ]
        if channel is not None and not mine:
            assert found == []  # no rows in this channel: no result row
            continue
        (row,) = found
        assert row.n == len(valid)
        if valid:
            expected = 100 * sum(1 for s in valid if s >= 4) / len(valid)
            assert row.value == pytest.approx(expected, rel=1e-12)
        else:
            assert row.value is None


# -- batch invariance where the generator does not reach: bad dates, mixed UTC offsets -------


def _dated(text: str, channel: str = "email") -> tuple[str, ...]:
    return ("1", "a", text, channel, "9", "", "")


def _write_text_rows(folder: Path, rows: Sequence[Sequence[str]]) -> Path:
    path = folder / "survey.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_bad_dates_clustered_at_the_top_are_judged_over_the_whole_file_in_one_batch(
    tmp_path: Path,
) -> None:
    rows = [_dated("garbage")] * 4 + [_dated("2024-03-01 10:00:00")] * 16
    report = run(survey_config(_write_text_rows(tmp_path, rows)))
    assert report.inputs[0].rows_dropped == {"submitted_at not a date": 4}
    assert overall(report, "nps", "standard").n == 16


def test_bad_dates_clustered_at_the_top_do_not_abort_a_run_read_in_small_batches(
    tmp_path: Path,
) -> None:
    rows = [_dated("garbage")] * 4 + [_dated("2024-03-01 10:00:00")] * 16
    report = run(survey_config(_write_text_rows(tmp_path, rows)), batch_bytes=64)
    assert report.inputs[0].rows_dropped == {"submitted_at not a date": 4}
    assert overall(report, "nps", "standard").n == 16


def test_a_naive_timestamp_keeps_its_period_whatever_the_batch_holds(tmp_path: Path) -> None:
    rows = [_dated("2024-01-31 23:30:00", "a")] * 3 + [_dated("2024-02-01 10:00:00+00:00", "b")]
    path = _write_text_rows(tmp_path, rows)
    config = survey_config(path, timezone="Europe/Berlin")
    whole = run(config, by=["channel"], period="month")
    batched = run(config, by=["channel"], period="month", batch_bytes=64)
    assert by_key(batched) == by_key(whole)
