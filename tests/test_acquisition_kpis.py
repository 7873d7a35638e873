"""Acquisition and web KPIs (cac, conversion_rate, pages_per_visit) against hand-worked numbers.

CAC: `SPEND` rows (date, channel, amount) and `ORDERS` rows (order, customer, date, channel,
status), orders filtered to status != cancelled, run with --since 2025-01-01:
- spend Jan 100 + 50 = 150; Feb 80 + 40 = 120 (one blank amount adds nothing); Mar 30; Dec 2024
  999 is before --since. Overall 300 over 5 rows with an amount.
- customer a first bought in Dec 2024 (history), so a is not new in January; new: b, c in Jan;
  d in Feb (d's cancelled 14 Feb order is filtered, so d's first order is the 20 Feb social
  one), e in Feb; f in April. One Feb order has no customer id.
- Jan 150 / 2 = 75; Feb 120 / 2 = 60; Mar 30 / 0: undefined (no new customers); Apr: no spend
  rows: undefined. Overall 300 / 5 = 60. With --until 2025-02-28 too: 270 / 4 = 67.5. Without
  --since: a is new in Dec, 1299 / 6 = 216.5.
- By channel (a customer's channel is their first order's): search 100 + 80 = 180 over c, e, f
  = 60; social 50 + 40 = 90 over b, d = 45; email 30 over nobody: undefined.
- From `SUBSCRIPTIONS` instead (a started 2024-11 and again 2025-01; b 2025-01; c 2025-02):
  Jan 150 / 1 (b) = 150; Feb 120 / 1 (c) = 120; overall 300 / 2 = 150.

Conversion rate and pages per visit on `SESSION_ROWS` (layout sessions, one row per session):
- converted known for s1-s3, s5-s8 (s4 blank): 7 sessions, s1 and s5 converted: 2 / 7 =
  28.57 %; Wilson 95 %: z^2 = 3.8415, centre (0.2857 + 3.8415 / 14) / (1 + 3.8415 / 7) = 0.3616,
  half-width 1.96 * sqrt(0.2857 * 0.7143 / 7 + 3.8415 / 196) / 1.5488 = 0.2794 -> [8.22, 64.11].
  Jan s1-s3: 1 / 3; Feb s5-s8: 1 / 4. search s1, s2, s5, s7: 2 / 4; social s3, s6, s8: 0 / 3.
- users (distinct per group, s7 has no user): u1 (s1 yes, s2, s8), u2 (s3, s5 yes) converted,
  u4 (s6 no) not, u3 (s4 blank) unknown: 2 / 3. Jan: u1 yes, u2 no (u3 unknown): 1 / 2; Feb:
  u2 yes, u4 no, u1 no: 1 / 3 (users recur across months, so 2 + 3 users != 3 overall).
- pages: s1-s5, s7, s8 = 3, 1, 5, 2, 4, 1, 6 (s6 blank): n 7, total 22, mean 3.1429; sum of
  squares 92, variance (92 - 22^2 / 7) / 6 = 3.8095, sd 1.9518, t(0.975, 6) = 2.4469, half-width
  2.4469 * 1.9518 / sqrt(7) = 1.8051 -> [1.3377, 4.9480]. Jan 11 / 4 = 2.75; Feb 11 / 3.

On `PAGEVIEW_ROWS` (layout pageviews, one row per pageview, out of time order in the file):
- s1: 3 rows from 31 Jan 23:58 to 1 Feb 00:03, one converted -> a January session (its first
  row by time, the second in the file), 3 pages, converted. s2: 2 rows, no conversion (Feb).
  s3: 1 row, blank outcome (Feb). s4: 2 rows, false and blank -> not converted (Feb). One row
  has no session id.
- conversion: s1, s2, s4 known, s1 converted: 1 / 3; Jan 1 / 1; Feb 0 / 2.
- pages: 3, 2, 1, 2: n 4, mean 2.0; sum of squares 18, variance (18 - 16) / 3 = 0.6667, t(0.975,
  3) = 3.1824, half-width 3.1824 * 0.8165 / 2 = 1.2992 -> [0.7008, 3.2992]. Jan 3; Feb 5 / 3.

On `DAILY_ROWS` (detected as layout daily): conversions of 1 Feb blank, and only conversions
and pageviews on 3 Feb, so those two days are out of the rate: 10 / (100 + 120 + 50) = 3.7037 %;
Jan 8 / 220; Feb 2 / 50; users 10 / (80 + 90 + 40). Pages per visit uses the days with both
counts (not 3 Feb, whose 90 pageviews have no session count): 1400 / 470 = 2.9787; Jan 750 /
220; Feb 650 / 250; no interval. Session rows with a negative or blank page count are left out
and counted.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cx_cli.analysis import run
from cx_cli.config import parse_config
from cx_cli.errors import ConfigError
from cx_cli.kpis.acquisition import detect_layout
from cx_cli.render import render
from cx_cli.report import Result
from tests.conftest import write_csv

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"

SPEND_HEADER = ["date", "channel", "amount"]
SPEND = [
    ("2024-12-15", "search", 999),
    ("2025-01-05", "search", 100),
    ("2025-01-20", "social", 50),
    ("2025-02-03", "search", 80),
    ("2025-02-10", "social", 40),
    ("2025-02-11", "social", None),
    ("2025-03-01", "email", 30),
]
ORDERS_HEADER = ["order", "customer", "when", "channel", "status"]
ORDERS = [
    ("o1", "a", "2024-12-20 10:00", "search", "paid"),
    ("o2", "a", "2025-01-10 10:00", "search", "paid"),
    ("o3", "b", "2025-01-12 10:00", "social", "paid"),
    ("o4", "c", "2025-01-25 10:00", "search", "paid"),
    ("o5", "c", "2025-02-02 10:00", "search", "paid"),
    ("o6", "d", "2025-02-14 10:00", "search", "cancelled"),
    ("o7", "d", "2025-02-20 10:00", "social", "paid"),
    ("o8", "e", "2025-02-21 10:00", "search", "paid"),
    ("o9", None, "2025-02-22 10:00", "search", "paid"),
    ("o10", "f", "2025-04-02 10:00", "search", "paid"),
]
SUBSCRIPTIONS_HEADER = ["customer", "start"]
SUBSCRIPTIONS = [
    ("a", "2024-11-01"),
    ("a", "2025-01-15"),
    ("b", "2025-01-03"),
    ("c", "2025-02-28"),
]
SESSIONS_HEADER = ["session", "when", "user", "channel", "pages", "converted"]
SESSION_ROWS = [
    ("s1", "2025-01-03 10:00", "u1", "search", 3, "true"),
    ("s2", "2025-01-04 11:00", "u1", "search", 1, "false"),
    ("s3", "2025-01-10 12:00", "u2", "social", 5, "false"),
    ("s4", "2025-01-20 13:00", "u3", "social", 2, None),
    ("s5", "2025-02-01 09:00", "u2", "search", 4, "true"),
    ("s6", "2025-02-02 09:30", "u4", "social", None, "false"),
    ("s7", "2025-02-15 10:00", None, "search", 1, "false"),
    ("s8", "2025-02-20 11:00", "u1", "social", 6, "false"),
]
PAGEVIEW_ROWS = [
    ("s2", "2025-02-05 10:00", "u2", "social", None, "false"),
    ("s1", "2025-02-01 00:03", "u1", "search", None, "false"),
    ("s1", "2025-01-31 23:58", "u1", "search", None, "false"),  # s1's earliest: not its first
    ("s1", "2025-02-01 00:01", "u1", "search", None, "true"),
    ("s2", "2025-02-05 10:01", "u2", "social", None, "false"),
    ("s3", "2025-02-06 12:00", "u1", "social", None, None),
    (None, "2025-02-07 08:00", "u3", "search", None, "true"),
    ("s4", "2025-02-08 09:00", "u2", "email", None, "false"),
    ("s4", "2025-02-08 09:02", "u2", "email", None, None),
]
DAILY_HEADER = ["day", "sessions", "users", "pageviews", "conversions"]
DAILY_ROWS = [
    ("2025-01-01", 100, 80, 350, 3),
    ("2025-01-02", 120, 90, 400, 5),
    ("2025-02-01", 200, 150, 500, None),
    ("2025-02-02", 50, 40, 150, 2),
    ("2025-02-03", None, None, 90, 4),
]


# -- helpers -----------------------------------------------------------------------------------


def spend_source(path: Path | str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "spend",
        "path": str(path),
        "columns": {"date": "date", "amount": "amount", "channel": "channel"},
        "segments": {"channel": "channel"},
        **extra,
    }


def orders_source(path: Path) -> dict[str, Any]:
    return {
        "kind": "orders",
        "path": str(path),
        "columns": {
            "order_id": "order",
            "customer_id": "customer",
            "ordered_at": "when",
            "status": "status",
        },
        "segments": {"channel": "channel"},
        "filters": [{"field": "status", "ne": "cancelled"}],
    }


def cac_document(folder: Path, customers: str = "orders") -> dict[str, Any]:
    sources = {
        "spend": spend_source(write_csv(folder / "spend.csv", SPEND, SPEND_HEADER)),
        "orders": orders_source(write_csv(folder / "orders.csv", ORDERS, ORDERS_HEADER)),
        "subs": {
            "kind": "subscriptions",
            "path": str(write_csv(folder / "subs.csv", SUBSCRIPTIONS, SUBSCRIPTIONS_HEADER)),
            "columns": {"customer_id": "customer", "started_at": "start"},
        },
    }
    entry = {"kpi": "cac", "sources": {"spend": "spend", "customers": customers}}
    return {"version": 1, "sources": sources, "kpis": [entry]}


def sessions_document(
    path: Path, kpis: list[Any], columns: dict[str, str] | None = None, **source: Any
) -> dict[str, Any]:
    mapped = columns or {
        "session_id": "session",
        "timestamp": "when",
        "user_id": "user",
        "pageviews": "pages",
        "converted": "converted",
    }
    spec = {
        "kind": "sessions",
        "path": str(path),
        "columns": mapped,
        "segments": {"channel": "channel"},
        **source,
    }
    return {"version": 1, "sources": {"web": spec}, "kpis": kpis}


def session_file(folder: Path, rows: Sequence[Sequence[Any]] = SESSION_ROWS) -> Path:
    return write_csv(folder / "sessions.csv", rows, SESSIONS_HEADER)


def daily_document(folder: Path, kpis: list[Any]) -> dict[str, Any]:
    path = write_csv(folder / "daily.csv", DAILY_ROWS, DAILY_HEADER)
    columns = {c: c for c in DAILY_HEADER[1:]} | {"date": "day"}
    return sessions_document(path, kpis, columns)


def results(document: dict[str, Any], **options: Any) -> list[Result]:
    return list(run(parse_config(document), **options).results)


def overall(rows: list[Result]) -> Result:
    (row,) = [r for r in rows if r.period is None and not r.segment]
    return row


def by_period(rows: list[Result]) -> dict[str, Result]:
    return {r.period: r for r in rows if r.period and not r.segment}


def by_segment(rows: list[Result], name: str = "channel") -> dict[str, Result]:
    return {r.segment[name]: r for r in rows if r.period is None and r.segment}


SINCE = dt.date(2025, 1, 1)


# -- CAC ---------------------------------------------------------------------------------------


def test_cac_is_spend_over_customers_whose_first_order_is_in_the_period(tmp_path: Path) -> None:
    rows = results(cac_document(tmp_path), period="month", since=SINCE)
    total = overall(rows)
    assert total.value == pytest.approx(60.0)
    assert total.n == 5
    assert total.unit == "currency"
    assert (total.ci_low, total.ci_high, total.ci_method) == (None, None, None)
    assert total.detail == {
        "spend": pytest.approx(300.0),
        "new_customers": 5,
        "spend_rows": 5,
        "rows_without_customer_id": 1,
    }
    months = by_period(rows)
    assert months["2025-01"].value == pytest.approx(75.0)
    assert months["2025-02"].value == pytest.approx(60.0)
    assert months["2025-02"].change == pytest.approx(-15.0)
    assert "2024-12" not in months


def test_money_is_in_the_currency_its_source_names(tmp_path: Path) -> None:
    """CONTRACT.md: "unit": "currency", with the configured code when given."""
    plain = overall(results(cac_document(tmp_path)))
    assert plain.unit == "currency"
    document = cac_document(tmp_path)
    document["sources"]["spend"]["currency"] = "EUR"
    document["sources"]["orders"]["currency"] = "USD"  # its customers are counted, not money
    row = overall(results(document))
    assert (row.unit, row.value) == ("EUR", plain.value)
    table = render(run(parse_config(document)), "markdown")
    assert f"{row.value:,.2f} EUR" in table


def test_money_in_two_currencies_set_against_each_other_is_a_config_error(
    tmp_path: Path,
) -> None:
    document = cac_document(tmp_path)
    priced = [("o1", "a", "2025-01-10 10:00", "12.50"), ("o2", "b", "2025-01-12 10:00", "8")]
    path = write_csv(tmp_path / "priced.csv", priced, ["order", "customer", "when", "amount"])
    columns = {"order_id": "order", "customer_id": "customer", "ordered_at": "when"}
    document["sources"]["orders"] = {
        "kind": "orders",
        "path": str(path),
        "columns": {**columns, "amount": "amount"},
        "currency": "USD",
    }
    document["sources"]["spend"]["currency"] = "EUR"
    roles = {"clv": "orders", "spend": "spend", "customers": "orders"}
    document["kpis"] = [{"kpi": "ltv_cac", "sources": roles, "method": "historical"}]
    with pytest.raises(ConfigError, match=r"different currencies .*clv in USD, spend in EUR"):
        parse_config(document)
    document["sources"]["orders"]["currency"] = "eur"
    with pytest.raises(ConfigError, match="currency"):
        parse_config(document)


def test_cac_is_undefined_without_new_customers_or_without_spend(tmp_path: Path) -> None:
    months = by_period(results(cac_document(tmp_path), period="month", since=SINCE))
    march, april = months["2025-03"], months["2025-04"]
    assert (march.value, march.n) == (None, 0)
    assert march.detail["reason"] == "no new customers in this group"
    assert march.detail["spend"] == pytest.approx(30.0)
    assert april.value is None
    assert april.detail["new_customers"] == 1
    assert april.detail["reason"].startswith("no spend rows")


def test_cac_counts_customers_who_bought_before_since_as_history(tmp_path: Path) -> None:
    windowed = overall(results(cac_document(tmp_path), since=SINCE, until=dt.date(2025, 2, 28)))
    assert windowed.value == pytest.approx(270 / 4)
    everything = overall(results(cac_document(tmp_path)))
    assert everything.value == pytest.approx(1299 / 6)
    assert everything.detail["new_customers"] == 6


def test_cac_by_channel_uses_each_customers_first_order_channel(tmp_path: Path) -> None:
    channels = by_segment(results(cac_document(tmp_path), by=["channel"], since=SINCE))
    assert channels["search"].value == pytest.approx(60.0)
    assert channels["search"].detail["new_customers"] == 3
    assert channels["social"].value == pytest.approx(45.0)
    assert channels["email"].value is None


def test_cac_from_subscription_starts(tmp_path: Path) -> None:
    rows = results(cac_document(tmp_path, customers="subs"), period="month", since=SINCE)
    assert overall(rows).value == pytest.approx(150.0)
    months = by_period(rows)
    assert months["2025-01"].value == pytest.approx(150.0)
    assert months["2025-02"].value == pytest.approx(120.0)
    assert overall(rows).source == "spend+subs"


def test_cac_undefined_rows_are_null_in_strict_json(tmp_path: Path) -> None:
    import json

    report = run(parse_config(cac_document(tmp_path)), period="month", since=SINCE)
    document = json.loads(render(report, "json"))
    march = [r for r in document["results"] if r["period"] == "2025-03"]
    assert march[0]["value"] is None
    assert "NaN" not in render(report, "json")


def test_cac_needs_both_roles_mapped(tmp_path: Path) -> None:
    document = cac_document(tmp_path)
    document["sources"]["spend"]["columns"].pop("amount")
    with pytest.raises(ConfigError, match="needs field 'amount'"):
        parse_config(document)


# -- conversion rate ---------------------------------------------------------------------------


def test_conversion_rate_from_session_rows(tmp_path: Path) -> None:
    document = sessions_document(session_file(tmp_path), ["conversion_rate"])
    rows = results(document, period="month")
    total = overall(rows)
    assert total.value == pytest.approx(100 * 2 / 7)
    assert total.n == 7
    assert (total.ci_low, total.ci_high) == pytest.approx((8.22, 64.11), abs=0.01)
    assert total.ci_method == "wilson"
    assert total.variant == "sessions"
    assert total.detail == {
        "conversions": 2,
        "sessions": 7,
        "denominator": "sessions",
        "layout": "sessions",
        "excluded_no_outcome": 1,
        "excluded_no_id": 0,
    }
    months = by_period(rows)
    assert months["2025-01"].value == pytest.approx(100 / 3)
    assert months["2025-02"].value == pytest.approx(25.0)


def test_conversion_rate_by_channel(tmp_path: Path) -> None:
    document = sessions_document(session_file(tmp_path), ["conversion_rate"])
    channels = by_segment(results(document, by=["channel"]))
    assert (channels["search"].value, channels["search"].n) == (pytest.approx(50.0), 4)
    assert (channels["social"].value, channels["social"].n) == (pytest.approx(0.0), 3)


def test_conversion_rate_per_user_counts_distinct_users_per_group(tmp_path: Path) -> None:
    kpis = [{"kpi": "conversion_rate", "denominator": "users"}]
    rows = results(sessions_document(session_file(tmp_path), kpis), period="month")
    total = overall(rows)
    assert (total.value, total.n) == (pytest.approx(200 / 3), 3)
    assert total.variant == "users"
    assert total.detail["denominator"] == "users"
    assert total.detail["excluded_no_outcome"] == 1  # u3
    assert total.detail["excluded_no_id"] == 1  # s7
    months = by_period(rows)
    assert (months["2025-01"].value, months["2025-01"].n) == (pytest.approx(50.0), 2)
    assert (months["2025-02"].value, months["2025-02"].n) == (pytest.approx(100 / 3), 3)


def test_conversion_rate_from_pageview_rows_groups_sessions(tmp_path: Path) -> None:
    path = session_file(tmp_path, PAGEVIEW_ROWS)
    kpis = [{"kpi": "conversion_rate", "layout": "pageviews"}]
    rows = results(sessions_document(path, kpis), period="month")
    total = overall(rows)
    assert (total.value, total.n) == (pytest.approx(100 / 3), 3)
    assert total.detail["excluded_no_outcome"] == 1
    assert total.detail["excluded_no_id"] == 1
    assert total.detail["layout"] == "pageviews"
    months = by_period(rows)
    assert (months["2025-01"].value, months["2025-01"].n) == (pytest.approx(100.0), 1)
    assert (months["2025-02"].value, months["2025-02"].n) == (pytest.approx(0.0), 2)


def test_conversion_rate_from_daily_aggregates(tmp_path: Path) -> None:
    kpis = [  # layout daily is detected: the source maps per-day counts
        "conversion_rate",
        {"kpi": "conversion_rate", "denominator": "users", "label": "cr_users"},
    ]
    rows = results(daily_document(tmp_path, kpis), period="month")
    sessions = [r for r in rows if r.variant == "sessions"]
    users = [r for r in rows if r.label == "cr_users"]
    assert overall(sessions).value == pytest.approx(100 * 10 / 270)
    assert overall(sessions).n == 270
    assert overall(sessions).detail["excluded_no_outcome"] == 2
    assert overall(sessions).detail["layout"] == "daily"
    assert by_period(sessions)["2025-01"].value == pytest.approx(100 * 8 / 220)
    assert by_period(sessions)["2025-02"].value == pytest.approx(4.0)
    assert overall(users).value == pytest.approx(100 * 10 / 210)
    assert overall(users).detail["users_summed_over_days"] is True


def test_daily_conversions_above_sessions_have_no_interval(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [("2025-01-01", 2, 2, 4, 3)], DAILY_HEADER)
    columns = {c: c for c in DAILY_HEADER[1:]} | {"date": "day"}
    document = sessions_document(path, [{"kpi": "conversion_rate", "layout": "daily"}], columns)
    row = overall(results(document))
    assert row.value == pytest.approx(150.0)
    assert (row.ci_low, row.ci_high) == (None, None)
    assert "exceed" in row.detail["note"]


def test_conversion_rate_layout_names_the_fields_it_needs(tmp_path: Path) -> None:
    columns = {"timestamp": "when", "converted": "converted"}
    kpis = [{"kpi": "conversion_rate", "layout": "pageviews"}]
    document = sessions_document(session_file(tmp_path), kpis, columns)
    with pytest.raises(ConfigError, match="needs field 'session_id'"):
        parse_config(document)


def test_conversion_rate_variant_and_denominator_must_agree(tmp_path: Path) -> None:
    kpis = [{"kpi": "conversion_rate", "variant": "users", "denominator": "sessions"}]
    with pytest.raises(ConfigError, match="disagree"):
        parse_config(sessions_document(session_file(tmp_path), kpis))


# -- pages per visit ---------------------------------------------------------------------------


def test_pages_per_visit_from_session_rows_is_a_mean_with_t_interval(tmp_path: Path) -> None:
    rows = results(sessions_document(session_file(tmp_path), ["pages_per_visit"]), period="month")
    total = overall(rows)
    assert total.value == pytest.approx(22 / 7)
    assert total.n == 7
    assert total.unit == "pages"
    assert total.ci_method == "t"
    assert (total.ci_low, total.ci_high) == pytest.approx((1.3377, 4.9480), abs=1e-4)
    assert total.detail["excluded_rows"] == 1
    assert total.detail["pageviews"] == 22
    months = by_period(rows)
    assert months["2025-01"].value == pytest.approx(2.75)
    assert months["2025-02"].value == pytest.approx(11 / 3)


def test_negative_or_blank_page_counts_are_left_out_and_counted(tmp_path: Path) -> None:
    rows = [("a", "2025-01-01", "u", "x", 2, "false"), ("b", "2025-01-01", "u", "x", 4, "false")]
    rows += [("c", "2025-01-01", "u", "x", -1, "false"), ("d", "2025-01-01", "u", "x", "", "")]
    row = overall(results(sessions_document(session_file(tmp_path, rows), ["pages_per_visit"])))
    assert (row.value, row.n, row.detail["excluded_rows"]) == (pytest.approx(3.0), 2, 2)


def test_pages_per_visit_from_pageview_rows_counts_rows_per_session(tmp_path: Path) -> None:
    path = session_file(tmp_path, PAGEVIEW_ROWS)
    kpis = [{"kpi": "pages_per_visit", "layout": "pageviews"}]
    rows = results(sessions_document(path, kpis), period="month")
    total = overall(rows)
    assert (total.value, total.n) == (pytest.approx(2.0), 4)
    assert (total.ci_low, total.ci_high) == pytest.approx((0.7008, 3.2992), abs=1e-4)
    assert total.detail["excluded_rows"] == 1
    months = by_period(rows)
    assert months["2025-01"].value == pytest.approx(3.0)  # s1's pages after midnight stay in Jan
    assert months["2025-02"].value == pytest.approx(5 / 3)


def test_pages_per_visit_from_daily_aggregates_has_no_interval(tmp_path: Path) -> None:
    rows = results(daily_document(tmp_path, ["pages_per_visit"]), period="month")
    total = overall(rows)
    assert (total.value, total.n) == (pytest.approx(1400 / 470), 470)
    assert (total.ci_low, total.ci_high, total.ci_method) == (None, None, None)
    assert total.detail["excluded_rows"] == 1
    months = by_period(rows)
    assert months["2025-01"].value == pytest.approx(750 / 220)
    assert months["2025-02"].value == pytest.approx(650 / 250)


@pytest.mark.parametrize(
    ("mapped", "layout"),
    [
        ({"date", "sessions", "pageviews"}, "daily"),
        ({"date", "conversions", "users"}, "daily"),
        ({"session_id", "timestamp", "pageviews", "converted"}, "sessions"),
        ({"timestamp", "converted"}, "sessions"),
        ({"session_id", "timestamp", "converted"}, "pageviews"),
    ],
)
def test_layout_rule_reads_the_mapped_fields(mapped: set[str], layout: str) -> None:
    assert detect_layout(mapped) == layout


def test_a_source_without_a_page_count_is_read_as_pageview_rows(tmp_path: Path) -> None:
    columns = {"session_id": "session", "timestamp": "when", "converted": "converted"}
    path = session_file(tmp_path, PAGEVIEW_ROWS)
    report = run(parse_config(sessions_document(path, ["conversion_rate"], columns)))
    assert overall(list(report.results)).value == pytest.approx(100 / 3)
    assert report.definitions[0].options["layout"] == "pageviews"


# -- properties --------------------------------------------------------------------------------

START = dt.datetime(2025, 1, 1)
sessions_strategy = st.lists(
    st.tuples(
        st.integers(0, 150 * 24 * 60),  # start, minutes after START
        st.integers(1, 6),  # pages
        st.booleans(),  # converted
        st.sampled_from(["search", "social"]),
    ),
    min_size=1,
    max_size=25,
)
examples = settings(max_examples=20, deadline=None)


@examples
@given(sessions_strategy, st.randoms(use_true_random=False))
def test_session_rows_and_pageview_rows_give_the_same_figures(
    sessions: list[tuple[int, int, bool, str]], rng: random.Random
) -> None:
    """One session per row with a count, or one row per pageview: the same KPIs either way."""
    as_sessions, as_pageviews = [], []
    for i, (minute, pages, converted, channel) in enumerate(sessions):
        when = START + dt.timedelta(minutes=minute)
        as_sessions.append((f"s{i}", f"{when:%Y-%m-%d %H:%M}", "u", channel, pages, converted))
        hit = rng.randrange(pages) if converted else -1
        for page in range(pages):
            stamp = when + dt.timedelta(minutes=page)
            as_pageviews.append(
                (f"s{i}", f"{stamp:%Y-%m-%d %H:%M}", "u", channel, None, page == hit)
            )
    rng.shuffle(as_pageviews)
    kpis = ["conversion_rate", "pages_per_visit"]
    with tempfile.TemporaryDirectory() as folder:
        one = session_file(Path(folder), as_sessions)
        a = results(sessions_document(one, kpis), period="month", by=["channel"])
        many = write_csv(Path(folder) / "pv.csv", as_pageviews, SESSIONS_HEADER)
        layout = [{"kpi": k, "layout": "pageviews"} for k in kpis]
        b = results(sessions_document(many, layout), period="month", by=["channel"])
    key = lambda r: (r.kpi, r.period or "", tuple(r.segment.items()))  # noqa: E731
    assert sorted((key(r), r.n) for r in a) == sorted((key(r), r.n) for r in b)
    values_b = {key(r): (r.value, r.ci_low, r.ci_high) for r in b}
    for r in a:
        assert values_b[key(r)] == pytest.approx((r.value, r.ci_low, r.ci_high))


orders_strategy = st.lists(
    st.tuples(
        st.sampled_from("abcdefgh"),  # customer
        st.integers(0, 364),  # day of 2024..2025
        st.sampled_from(["search", "social"]),
    ),
    min_size=1,
    max_size=30,
)


@examples
@given(orders_strategy, st.lists(st.integers(0, 364), min_size=1, max_size=20))
def test_each_customer_is_new_exactly_once_and_spend_adds_up(
    orders: list[tuple[str, int, str]], spend_days: list[int]
) -> None:
    """Per-month new customers sum to the overall count (= customers first seen in the window)."""
    day0 = dt.date(2024, 7, 1)
    order_rows = [
        (f"o{i}", c, f"{day0 + dt.timedelta(days=d)} 12:00", ch, "paid")
        for i, (c, d, ch) in enumerate(orders)
    ]
    spend_rows = [(str(day0 + dt.timedelta(days=d)), "search", 10) for d in spend_days]
    firsts: dict[str, int] = {}
    for customer, day, _ in orders:
        firsts[customer] = min(day, firsts.get(customer, day))
    since = day0 + dt.timedelta(days=120)
    expected_new = sum(day0 + dt.timedelta(days=d) >= since for d in firsts.values())
    with tempfile.TemporaryDirectory() as folder:
        document = cac_document(Path(folder))
        write_csv(Path(folder) / "orders.csv", order_rows, ORDERS_HEADER)
        write_csv(Path(folder) / "spend.csv", spend_rows, SPEND_HEADER)
        rows = results(document, period="month", since=since)
    total = overall(rows)
    months = by_period(rows).values()
    assert total.detail["new_customers"] == expected_new
    assert sum(m.detail["new_customers"] for m in months) == expected_new
    for group in (total, *months):  # no spend rows: spend unknown (None), never 0
        assert (group.detail["spend"] is None) == (group.detail["spend_rows"] == 0)
        if group.value is None and group.detail["spend"] is None:
            assert group.n == group.detail["new_customers"]
    spent = [m.detail["spend"] for m in months if m.detail["spend"] is not None]
    assert sum(spent) == pytest.approx(total.detail["spend"] or 0.0)
    if total.value is not None:
        assert total.value == pytest.approx(total.detail["spend"] / expected_new)


# -- cross-checks on the sample files ----------------------------------------------------------


def quarter(stamp: str) -> str:
    return f"{stamp[:4]}-Q{(int(stamp[5:7]) - 1) // 3 + 1}"


def sample_orders(path: Path) -> Path:
    """A seeded orders file over the sample period: 300 orders by 150 customers."""
    rng = random.Random(7)
    first = dt.datetime(2024, 11, 1)
    rows = []
    for i in range(300):
        when = first + dt.timedelta(minutes=rng.randrange(425 * 24 * 60))
        customer = f"C{rng.randrange(150)}" if rng.random() > 0.03 else None
        status = "cancelled" if rng.random() < 0.05 else "paid"
        channel = rng.choice(["search", "social", "email", "affiliate"])
        rows.append((f"o{i}", customer, f"{when:%Y-%m-%d %H:%M}", channel, status))
    return write_csv(path, rows, ORDERS_HEADER)


def test_cac_on_the_sample_spend_matches_a_plain_loop(tmp_path: Path) -> None:
    orders_path = sample_orders(tmp_path / "orders.csv")
    document = {
        "version": 1,
        "sources": {
            "spend": spend_source(
                SAMPLE / "spend.csv",
                columns={"date": "Date", "amount": "Spend", "channel": "Channel"},
                segments={"channel": "Channel"},
            ),
            "orders": orders_source(orders_path),
        },
        "kpis": [{"kpi": "cac", "sources": {"spend": "spend", "customers": "orders"}}],
    }
    since = dt.date(2025, 2, 1)
    rows = results(document, period="quarter", by=["channel"], since=since)

    spend: collections.Counter[tuple[str, str]] = collections.Counter()
    with (SAMPLE / "spend.csv").open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["Date"] >= since.isoformat() and row["Spend"]:
                for key in ((quarter(row["Date"]), row["Channel"]), (quarter(row["Date"]), "")):
                    spend[key] += float(row["Spend"])
    first: dict[str, tuple[str, str]] = {}
    with orders_path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["status"] != "cancelled" and row["customer"]:
                seen = first.get(row["customer"])
                if seen is None or row["when"] < seen[0]:
                    first[row["customer"]] = (row["when"], row["channel"])
    new: collections.Counter[tuple[str, str]] = collections.Counter()
    for when, channel in first.values():
        if when >= since.isoformat():
            new[(quarter(when), channel)] += 1
            new[(quarter(when), "")] += 1

    cells = {(r.period, r.segment.get("channel", "")): r for r in rows if r.period}
    assert set(cells) == set(spend) | set(new)
    for key, row in cells.items():
        expected = spend[key] / new[key] if new[key] else None
        assert row.value == pytest.approx(expected), key
        assert row.detail["new_customers"] == new[key]
    total = overall(rows)
    assert total.detail["new_customers"] == sum(v for (_, c), v in new.items() if c == "")
    assert total.value == pytest.approx(
        sum(v for (_, c), v in spend.items() if c == "") / total.detail["new_customers"]
    )


SAMPLE_SESSIONS = {
    "session_id": "Session ID",
    "timestamp": "Started At",
    "user_id": "User ID",
    "pageviews": "Pageviews",
    "converted": "Converted",
}


def test_web_kpis_on_the_sample_sessions_match_a_plain_loop() -> None:
    kpis = [
        "conversion_rate",
        {"kpi": "conversion_rate", "denominator": "users", "label": "conversion_rate_users"},
        "pages_per_visit",
    ]
    document = sessions_document(SAMPLE / "sessions.csv", kpis, SAMPLE_SESSIONS)
    document["sources"]["web"]["segments"] = {"channel": "Channel"}
    document["sources"]["web"]["dedupe"] = "session_id"
    report = run(parse_config(document), period="quarter", by=["channel"])

    seen: set[str] = set()
    sessions: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    pages: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    users: dict[tuple[str, str], dict[str, bool]] = collections.defaultdict(dict)
    with (SAMPLE / "sessions.csv").open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["Session ID"] in seen:
                continue
            seen.add(row["Session ID"])
            hit = row["Converted"] == "true"
            q, channel = quarter(row["Started At"]), row["Channel"]
            for key in ((q, channel), (q, ""), ("", channel), ("", "")):
                sessions[key][0] += 1
                sessions[key][1] += hit
                if row["Pageviews"]:
                    pages[key][0] += 1
                    pages[key][1] += int(row["Pageviews"])
                if row["User ID"]:
                    users[key][row["User ID"]] = users[key].get(row["User ID"], False) or hit

    assert report.inputs[0].rows_dropped == {"duplicate session_id": 6}
    for r in report.results:
        key = (r.period or "", r.segment.get("channel", ""))
        if r.kpi == "conversion_rate" and r.variant == "sessions":
            n, hits = sessions[key]
        elif r.label == "conversion_rate_users":
            n, hits = len(users[key]), sum(users[key].values())
        else:
            n, total = pages[key]
            assert (r.n, r.value) == (n, pytest.approx(total / n)), key
            continue
        assert (r.n, r.value) == (n, pytest.approx(100 * hits / n)), (r.variant, key)
    assert len(report.results) == 3 * len(sessions)
