"""LTV:CAC (`ltv_cac`) and CAC payback (`payback_months`) against numbers worked by hand.

A month is 365.25 / 12 = 30.4375 days; ARPA per month = revenue earned in the group / customer-
months active in it; payback = CAC / (ARPA * gross_margin); LTV:CAC = the clv KPI's figure / CAC.

Subscriptions (`SUBS`, midnight dates, "->" start to end, open = blank ended_at), spend `SPEND`
(Dec 2024 500, before --since; Jan search 120 + social 60 = 180; Feb search 100), run with
--since 2025-01-01 --until 2025-02-28 --period month, gross_margin 0.8:

    A 2024-12-01 -> open        100 search    D 2025-01-11 -> 2025-02-01  30 social
    B 2024-12-01 -> 2025-01-16   50 social    E 2025-02-15 -> open        40 search
    C 2025-01-01 -> 2025-02-10   60 search,   then 2025-02-10 -> open 90 (an upgrade, no gap)
    F 2024-11-01 -> 2025-03-05  (MRR blank) search

- New customers (first start in the group): Jan C, D; Feb E. CAC Jan 180 / 2 = 90, Feb 100 / 1
  = 100, overall 280 / 3 = 93.33. A, B and F started in 2024: history.
- ARPA January (Jan 1 .. Feb 1, 31 days), F left out (blank MRR, customers_without_value 1):
  days A 31, B 15, C 31, D 21 = 98; MRR-days 100*31 + 50*15 + 60*31 + 30*21 = 6340 -> ARPA
  6340 / 98 = 64.69 a month (revenue 6340 / 30.4375 = 208.30 over 98 / 30.4375 = 3.22
  customer-months). Payback 90 / (64.69 * 0.8) = 1.739 months.
- ARPA February (Feb 1 .. Mar 1, 28 days): A 28 days * 100 = 2800; C 28 days, 9 * 60 + 19 * 90
  = 2250; D ended Feb 1 (no cover); E 14 * 40 = 560 -> 5610 / 70 = 80.14; payback 100 / (80.14
  * 0.8) = 1.560.
- Overall (Jan 1 .. Mar 1, 59 days): A 59 (5900), B 15 (750), C 59 (40 * 60 + 19 * 90 = 4110),
  D 21 (630), E 14 (560) -> 11950 / 168 = 71.13; payback 93.33 / (71.13 * 0.8) = 1.640.
- By channel, overall: search new C, E, spend 220 -> CAC 110; ARPA A + C + E = (5900 + 4110 +
  560) / (59 + 59 + 14) = 10570 / 132; payback 110 / (80.08 * 0.8) = 1.717. social new D, spend
  60; ARPA B + D = (750 + 630) / (15 + 21) = 38.33; payback 60 / (38.33 * 0.8) = 1.957.
- CLV (method subscription, the clv KPI: ARPA at the start * 0.8 / monthly churn). January: at
  the start A, B, F (C starts on Jan 1: a joiner); churned B -> 1/3; ARPA at start (A, B: F has
  no MRR) 150 / 2 = 75 -> CLV 75 * 0.8 * 3 = 180; LTV:CAC 180 / 90 = 2.0. February: at the
  start A, C, D (ends on Feb 1: churns in Feb), F; churned D -> 1/4; ARPA (100 + 60 + 30) / 3 ->
  CLV 63.33 * 0.8 * 4 = 202.67; LTV:CAC 2.0267. Overall (2 months): at start A, B, F; churned B
  -> 1/3, monthly 1 - (2/3)^(1/2) = 0.1835; CLV 60 / 0.1835 = 326.97; LTV:CAC 326.97 / 93.33 =
  3.503.

Orders (`ORDERS`, amounts, inactive_days 30: a customer is active for 30 days after each order),
spend Jan 999 (before --since), Feb 80 + 40 = 120, Mar 90; --since 2025-02-01 --period month,
gross_margin 0.5:

    P 01-10 50, 02-05 70, 03-20 30   Q 01-20 100   R 2024-12-01 40, 02-15 40   T 02-10 20
    U 01-25 10, 02-27 10             V 03-31 60

- New: Feb T, Mar V. CAC Feb 120, Mar 90, overall 210 / 2 = 105.
- February (28 days): active days P 28 (cover Jan 10 .. Mar 7), Q 18 (.. Feb 19), R 14 (Feb
  15 ..), T 19 (Feb 10 ..), U 23 + 2 = 25 -> 104; revenue P 70 + R 40 + T 20 + U 10 = 140;
  ARPA 140 / (104 / 30.4375) = 40.97; payback 120 / (40.97 * 0.5) = 5.857.
- March (31 days, the data ends on Mar 31): P 6 + 12 = 18, R 16, T 11, U 28 (Feb 27 .. Mar 29),
  V 1 -> 74; revenue P 30 + V 60 = 90; ARPA 90 * 30.4375 / 74 = 37.02; payback 90 / (37.02 *
  0.5) = 4.862.
- Overall (Feb 1 .. Apr 1): 178 days, revenue 230, ARPA 39.33; payback 105 / 19.66 = 5.340.
- CLV (method purchase, the orders default) = AOV * orders per customer-year * lifespan * 0.5,
  and AOV * frequency = revenue / customer-years = 12 * ARPA. Feb: 140 * 365.25 / 104 *
  1 / (1 - (2/3)^12) (churn Q of P, Q, U) * 0.5 = 247.8; LTV:CAC 247.8 / 120 = 2.065. Mar:
  90 * 365.25 / 74 / (1 - (1/4)^12) (R, T, U of P, R, T, U churned) * 0.5 = 222.1; / 90 =
  2.468. Overall: 230 * 365.25 / 178 / (1 - (1/3)^6) (Q, U of P, Q, U over 2 months) * 0.5 /
  105 = 2.251.
- So with purchase CLV and the same margin, LTV:CAC * payback = 12 * lifespan in years for any
  data: the property test checks it with lifespan_years 2 (product 24).
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cx_cli.analysis import RunOptions, group_sets, join_parts, run, settle
from cx_cli.config import parse_config
from cx_cli.errors import ConfigError
from cx_cli.kpis.base import ALL, PERIOD
from cx_cli.render import render
from cx_cli.report import Result
from tests.conftest import write_csv

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
MONTH = 365.25 / 12

SUB_HEADER = ["customer", "start", "end", "mrr", "channel"]
SUBS = [
    ("A", "2024-12-01", None, 100, "search"),
    ("B", "2024-12-01", "2025-01-16", 50, "social"),
    ("C", "2025-01-01", "2025-02-10", 60, "search"),
    ("C", "2025-02-10", None, 90, "search"),
    ("D", "2025-01-11", "2025-02-01", 30, "social"),
    ("E", "2025-02-15", None, 40, "search"),
    ("F", "2024-11-01", "2025-03-05", None, "search"),
]
SPEND_HEADER = ["date", "channel", "amount"]
SUB_SPEND = [
    ("2024-12-10", "search", 500),
    ("2025-01-05", "search", 120),
    ("2025-01-20", "social", 60),
    ("2025-02-03", "search", 100),
]
ORDER_HEADER = ["order", "customer", "when", "amount"]
ORDERS = [
    ("o1", "P", "2025-01-10", 50),
    ("o2", "P", "2025-02-05", 70),
    ("o3", "P", "2025-03-20", 30),
    ("o4", "Q", "2025-01-20", 100),
    ("o5", "R", "2024-12-01", 40),
    ("o6", "R", "2025-02-15", 40),
    ("o7", "T", "2025-02-10", 20),
    ("o8", "U", "2025-01-25", 10),
    ("o9", "U", "2025-02-27", 10),
    ("o10", "V", "2025-03-31", 60),
]
ORDER_SPEND = [
    ("2025-01-15", "search", 999),
    ("2025-02-03", "search", 80),
    ("2025-02-17", "social", 40),
    ("2025-03-02", "search", 90),
]
SUBS_WINDOW = {"period": "month", "since": dt.date(2025, 1, 1), "until": dt.date(2025, 2, 28)}
ORDERS_WINDOW = {"period": "month", "since": dt.date(2025, 2, 1)}


# -- helpers -----------------------------------------------------------------------------------


def spend_source(path: Path | str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "spend",
        "path": str(path),
        "columns": {"date": "date", "amount": "amount", "channel": "channel"},
        "segments": {"channel": "channel"},
        **extra,
    }


def subs_document(
    folder: Path, kpis: list[Any], subs: list[tuple[Any, ...]] = SUBS, spend: list[Any] = SUB_SPEND
) -> dict[str, Any]:
    return {
        "version": 1,
        "sources": {
            "spend": spend_source(write_csv(folder / "spend.csv", spend, SPEND_HEADER)),
            "subs": {
                "kind": "subscriptions",
                "path": str(write_csv(folder / "subs.csv", subs, SUB_HEADER)),
                "columns": {
                    "customer_id": "customer",
                    "started_at": "start",
                    "ended_at": "end",
                    "mrr": "mrr",
                },
                "segments": {"channel": "channel"},
            },
        },
        "kpis": kpis,
    }


def orders_document(
    folder: Path, kpis: list[Any], orders: list[Any] = ORDERS, spend: list[Any] = ORDER_SPEND
) -> dict[str, Any]:
    return {
        "version": 1,
        "sources": {
            "spend": spend_source(write_csv(folder / "spend.csv", spend, SPEND_HEADER)),
            "orders": {
                "kind": "orders",
                "path": str(write_csv(folder / "orders.csv", orders, ORDER_HEADER)),
                "columns": {
                    "order_id": "order",
                    "customer_id": "customer",
                    "ordered_at": "when",
                    "amount": "amount",
                },
            },
        },
        "kpis": kpis,
    }


SUB_ROLES = {"spend": "spend", "customers": "subs"}
ORDER_ROLES = {"spend": "spend", "customers": "orders"}


def payback(roles: dict[str, str], arpa: str, **options: Any) -> dict[str, Any]:
    return {"kpi": "payback_months", "sources": {**roles, "arpa": arpa}, **options}


def ltv_cac(roles: dict[str, str], clv: str, **options: Any) -> dict[str, Any]:
    return {"kpi": "ltv_cac", "sources": {**roles, "clv": clv}, **options}


def table(document: dict[str, Any], **options: Any) -> dict[tuple[str, str | None], Result]:
    """Results without segments by (label, period label or None for the overall row)."""
    report = run(parse_config(document), **options)
    return {(r.label, r.period): r for r in report.results if not r.segment}


# -- payback, subscriptions ---------------------------------------------------------------------


def test_payback_on_subscriptions_is_cac_over_time_weighted_arpa(tmp_path: Path) -> None:
    kpis = [payback(SUB_ROLES, "subs", gross_margin=0.8)]
    rows = table(subs_document(tmp_path, kpis), **SUBS_WINDOW)
    jan, feb, total = (rows["payback_months", p] for p in ("2025-01", "2025-02", None))
    assert jan.value == pytest.approx(90 / (6340 / 98 * 0.8))
    assert jan.detail["arpa"] == pytest.approx(6340 / 98)
    assert jan.detail["arpa_revenue"] == pytest.approx(6340 / MONTH)
    assert jan.detail["customer_months"] == pytest.approx(98 / MONTH)
    assert jan.detail["cac"] == pytest.approx(90.0)
    assert (jan.detail["arpa_customers"], jan.detail["customers_without_value"]) == (4, 1)
    assert (jan.detail["arpa_from"], jan.detail["arpa_to"]) == ("2025-01-01", "2025-01-31")
    assert jan.detail["gross_margin"] == 0.8
    assert feb.value == pytest.approx(100 / (5610 / 70 * 0.8))
    assert feb.detail["arpa_customers"] == 3
    assert total.value == pytest.approx((280 / 3) / (11950 / 168 * 0.8))
    assert total.detail["arpa_complete"] is True
    assert (total.n, total.unit, total.ci_low, total.ci_method) == (3, "months", None, None)
    assert feb.change == pytest.approx(feb.value - jan.value)


def test_payback_by_channel_pairs_each_channels_spend_and_customers(tmp_path: Path) -> None:
    kpis = [payback(SUB_ROLES, "subs", gross_margin=0.8)]
    report = run(parse_config(subs_document(tmp_path, kpis)), **SUBS_WINDOW, by=["channel"])
    channel = {r.segment["channel"]: r for r in report.results if r.segment and not r.period}
    assert channel["search"].value == pytest.approx(110 / (10570 / 132 * 0.8))
    assert channel["search"].detail["customers_without_value"] == 1
    assert channel["social"].value == pytest.approx(60 / (1380 / 36 * 0.8))


def test_payback_gross_margin_defaults_to_one_and_detail_says_so(tmp_path: Path) -> None:
    rows = table(subs_document(tmp_path, [payback(SUB_ROLES, "subs")]), **SUBS_WINDOW)
    jan = rows["payback_months", "2025-01"]
    assert jan.value == pytest.approx(90 / (6340 / 98))
    assert jan.detail["gross_margin"] == 1.0


# -- LTV:CAC, subscriptions ---------------------------------------------------------------------


def test_ltv_cac_on_subscriptions_divides_the_clv_figure_by_cac(tmp_path: Path) -> None:
    kpis = [
        ltv_cac(SUB_ROLES, "subs", gross_margin=0.8),
        {"kpi": "clv", "source": "subs", "gross_margin": 0.8},
    ]
    rows = table(subs_document(tmp_path, kpis), **SUBS_WINDOW)
    jan, feb, total = (rows["ltv_cac", p] for p in ("2025-01", "2025-02", None))
    assert jan.value == pytest.approx(180 / 90)
    assert jan.detail["clv"] == pytest.approx(180.0)
    assert feb.value == pytest.approx(190 / 3 * 0.8 * 4 / 100)
    monthly = 1 - (2 / 3) ** 0.5
    assert total.value == pytest.approx(75 * 0.8 / monthly / (280 / 3))
    assert (total.unit, total.n, total.ci_low, total.ci_method) == ("ratio", 3, None, None)
    assert total.detail["clv_method"] == "subscription"
    assert total.detail["gross_margin"] == 0.8
    for period in ("2025-01", "2025-02", None):  # the figure users see in the clv rows
        clv = rows["clv", period]
        assert rows["ltv_cac", period].detail["clv"] == pytest.approx(clv.value)
        assert rows["ltv_cac", period].detail["clv_customers"] == clv.n


# -- orders ------------------------------------------------------------------------------------


def test_payback_on_orders_is_cac_over_revenue_per_customer_month_active(tmp_path: Path) -> None:
    kpis = [payback(ORDER_ROLES, "orders", inactive_days=30, gross_margin=0.5)]
    rows = table(orders_document(tmp_path, kpis), **ORDERS_WINDOW)
    feb, mar, total = (rows["payback_months", p] for p in ("2025-02", "2025-03", None))
    assert feb.detail["arpa"] == pytest.approx(140 / (104 / MONTH))
    assert feb.value == pytest.approx(120 / (140 / (104 / MONTH) * 0.5))
    assert feb.detail["arpa_customers"] == 5
    assert mar.value == pytest.approx(90 / (90 * MONTH / 74 * 0.5))
    assert total.value == pytest.approx(105 / (230 * MONTH / 178 * 0.5))
    assert (total.detail["arpa_from"], total.detail["arpa_to"]) == ("2025-02-01", "2025-03-31")


def test_ltv_cac_on_orders_uses_the_purchase_clv_by_default(tmp_path: Path) -> None:
    kpis = [ltv_cac(ORDER_ROLES, "orders", inactive_days=30, gross_margin=0.5)]
    rows = table(orders_document(tmp_path, kpis), **ORDERS_WINDOW)
    feb, mar, total = (rows["ltv_cac", p] for p in ("2025-02", "2025-03", None))
    assert feb.value == pytest.approx(140 * 365.25 / 104 / (1 - (2 / 3) ** 12) * 0.5 / 120)
    assert mar.value == pytest.approx(90 * 365.25 / 74 / (1 - (1 / 4) ** 12) * 0.5 / 90)
    assert total.value == pytest.approx(230 * 365.25 / 178 / (1 - (1 / 3) ** 6) * 0.5 / 105)
    assert feb.detail["clv_method"] == "purchase"
    assert (feb.detail["new_customers"], feb.detail["clv_customers"]) == (1, 5)


def test_ltv_cac_with_historical_clv(tmp_path: Path) -> None:
    """Historical CLV to Mar 1 (Feb): P 120, Q 100, R 80, T 20, U 20 -> 68 over 5; / CAC 120."""
    kpis = [ltv_cac(ORDER_ROLES, "orders", method="historical")]
    feb = table(orders_document(tmp_path, kpis), **ORDERS_WINDOW)["ltv_cac", "2025-02"]
    assert feb.value == pytest.approx(68 / 120)
    assert (feb.variant, feb.detail["clv_method"], feb.ci_method) == ("historical",) * 2 + (None,)


# -- undefined ---------------------------------------------------------------------------------


def test_no_spend_rows_or_no_new_customers_leave_both_undefined(tmp_path: Path) -> None:
    kpis = [ltv_cac(SUB_ROLES, "subs"), payback(SUB_ROLES, "subs")]
    rows = table(subs_document(tmp_path, kpis, spend=SUB_SPEND[:3]), **SUBS_WINDOW)
    for label in ("ltv_cac", "payback_months"):
        feb = rows[label, "2025-02"]  # its new customer is known; its spend is not
        assert (feb.value, feb.n, feb.detail["new_customers"]) == (None, 1, 1)
        assert feb.detail["reason"].startswith("no spend rows")
        assert feb.detail["spend"] is None
    only_old = [row for row in SUBS if row[0] in "ABF"]
    rows = table(subs_document(tmp_path, kpis, subs=only_old), **SUBS_WINDOW)
    for label in ("ltv_cac", "payback_months"):
        assert rows[label, "2025-01"].value is None
        assert rows[label, "2025-01"].detail["reason"] == "no new customers in this group"
    assert rows["payback_months", "2025-01"].detail["arpa"] == pytest.approx(
        (100 * 31 + 50 * 15) / (31 + 15)
    )


def test_zero_spend_makes_ltv_cac_undefined_and_payback_zero(tmp_path: Path) -> None:
    spend = [*SUB_SPEND[:3], ("2025-02-03", "search", 0)]
    kpis = [ltv_cac(SUB_ROLES, "subs"), payback(SUB_ROLES, "subs")]
    rows = table(subs_document(tmp_path, kpis, spend=spend), **SUBS_WINDOW)
    assert rows["ltv_cac", "2025-02"].value is None
    assert rows["ltv_cac", "2025-02"].detail["reason"].startswith("CAC is 0")
    assert rows["payback_months", "2025-02"].value == 0.0


def test_ltv_cac_is_undefined_where_clv_is(tmp_path: Path) -> None:
    """Nobody churns in January: CLV has no value, so neither has the ratio; payback has one."""
    subs = [("A", "2024-12-01", None, 100, "search"), ("C", "2025-01-01", None, 60, "search")]
    kpis = [ltv_cac(SUB_ROLES, "subs"), payback(SUB_ROLES, "subs")]
    rows = table(subs_document(tmp_path, kpis, subs=subs), **SUBS_WINDOW)
    jan = rows["ltv_cac", "2025-01"]
    assert (jan.value, jan.detail["clv"], jan.detail["cac"]) == (None, None, 180.0)
    assert jan.detail["reason"].startswith("CLV is undefined")
    assert rows["payback_months", "2025-01"].value == pytest.approx(180 / 80)


def test_payback_is_undefined_when_arpa_is_zero_or_unknown(tmp_path: Path) -> None:
    free = [("A", "2024-12-01", None, 0, "search"), ("C", "2025-01-01", None, 0, "search")]
    kpis = [payback(SUB_ROLES, "subs")]
    jan = table(subs_document(tmp_path, kpis, subs=free), **SUBS_WINDOW)[
        "payback_months", "2025-01"
    ]
    assert (jan.value, jan.detail["arpa"]) == (None, 0.0)
    assert jan.detail["reason"] == "ARPA * gross_margin is 0: the cost is never paid back"
    blank = [(c, start, end, None, ch) for c, start, end, _, ch in free]
    jan = table(subs_document(tmp_path, kpis, subs=blank), **SUBS_WINDOW)[
        "payback_months", "2025-01"
    ]
    assert (jan.value, jan.detail["arpa"], jan.detail["customers_without_value"]) == (None, None, 2)
    assert jan.detail["reason"].startswith("no active customer with a known revenue")


def test_undefined_rows_are_null_in_strict_json(tmp_path: Path) -> None:
    kpis = [ltv_cac(SUB_ROLES, "subs"), payback(SUB_ROLES, "subs")]
    report = run(parse_config(subs_document(tmp_path, kpis, spend=SUB_SPEND[:3])), **SUBS_WINDOW)
    text = render(report, "json")
    assert "NaN" not in text and "Infinity" not in text
    feb = [r for r in json.loads(text)["results"] if r["period"] == "2025-02"]
    assert [r["value"] for r in feb] == [None, None]


# -- the engine: a visible part brings its finished figure ------------------------------------


def test_join_parts_adds_value_and_n_of_visible_parts_only(tmp_path: Path) -> None:
    """Hand-made sums: historical CLV of 2 customers worth 30 and 50 in January, none in February.

    January: clv.value = 80 / 2 = 40, clv.n = 2. February (spend only): CLV on zero sums has no
    value (NaN) and n 0. The parts' own columns stay, zero-filled where a part lacks a group.
    """
    kpis = [ltv_cac(ORDER_ROLES, "orders", method="historical")]
    config = parse_config(orders_document(tmp_path, kpis))
    (choice,) = config.kpis
    settings_ = settle(config, RunOptions(period="month"))
    jan, feb = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")

    def frame(rows: dict[Any, dict[str, float]], by_period: bool) -> pd.DataFrame:
        if not by_period:
            rows = {0: {k: sum(r[k] for r in rows.values()) for k in next(iter(rows.values()))}}
            return pd.DataFrame.from_dict(rows, orient="index").rename_axis(ALL)
        index = pd.MultiIndex.from_tuples([(0, p) for p in rows], names=[ALL, PERIOD])
        return pd.DataFrame(list(rows.values()), index=index)

    clv = {jan: {"historical": 2.0, "hist_total": 80.0, "hist_total_sq": 3400.0}}
    spend = {jan: {"total": 100.0, "rows": 1.0}, feb: {"total": 50.0, "rows": 1.0}}
    new = {jan: {"new": 2.0, "no_id": 0.0}, feb: {"new": 1.0, "no_id": 0.0}}
    parts = dict(choice.parts)
    sums = {
        id(parts[role]): {gs: frame(data, gs[0]) for gs in group_sets(settings_)}
        for role, data in (("clv", clv), ("spend", spend), ("customers", new))
    }
    joined = join_parts(choice, sums, settings_)[(True, ())]
    assert joined.loc[(0, jan), "clv.value"] == pytest.approx(40.0)
    assert joined.loc[(0, jan), "clv.n"] == 2
    assert math.isnan(joined.loc[(0, feb), "clv.value"])
    assert joined.loc[(0, feb), "clv.n"] == 0
    assert joined.loc[(0, feb), "clv.hist_total"] == 0.0
    assert joined.loc[(0, feb), "spend.total"] == 50.0
    assert not any(c in joined for c in ("spend.value", "customers.value", "customers.n"))
    overall = join_parts(choice, sums, settings_)[(False, ())]
    assert overall.loc[0, "clv.value"] == pytest.approx(40.0)


# -- config errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (payback(ORDER_ROLES, "orders"), "needs 'inactive_days'"),
        (payback(ORDER_ROLES, "orders", inactive_days=30, gross_margin=50), "between 0 and 1"),
        (payback(ORDER_ROLES, "orders", inactive_days=0), "inactive_days must be"),
        (payback(ORDER_ROLES, "orders", method="purchase"), "has no option 'method'"),
        (ltv_cac(ORDER_ROLES, "orders"), "needs 'inactive_days'"),
        (ltv_cac(ORDER_ROLES, "orders", method="subscription"), "does not read a orders"),
        (ltv_cac(ORDER_ROLES, "orders", gross_margin=0), "between 0 and 1"),
        (ltv_cac(ORDER_ROLES, "orders", method="historical", lifespan_years=2), "purchase only"),
        (ltv_cac(ORDER_ROLES, "orders", horizon_months=12), "has no option 'horizon_months'"),
        ({"kpi": "clv", "method": "predictive"}, "should be 'purchase', 'historical' or 'sub"),
        ({"kpi": "ltv_cac", "sources": {"clv": "orders", "arpa": "orders"}}, "takes sources"),
    ],
)
def test_options_that_do_not_fit_orders_are_config_errors(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(orders_document(tmp_path, [entry]))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (payback(SUB_ROLES, "subs", inactive_days=30), "applies to an orders source only"),
        (ltv_cac(SUB_ROLES, "subs", inactive_days=30), "applies to orders sources only"),
        (ltv_cac(SUB_ROLES, "subs", method="purchase"), "does not read a subscriptions"),
        (payback(SUB_ROLES, "spend"), "reads a source of kind orders or subscriptions"),
    ],
)
def test_options_that_do_not_fit_subscriptions_are_config_errors(
    tmp_path: Path, entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(subs_document(tmp_path, [entry]))


def test_payback_names_the_unmapped_mrr_field(tmp_path: Path) -> None:
    document = subs_document(tmp_path, [payback(SUB_ROLES, "subs")])
    document["sources"]["subs"]["columns"].pop("mrr")
    with pytest.raises(ConfigError, match="needs field 'mrr'"):
        parse_config(document)


# -- properties --------------------------------------------------------------------------------

examples = settings(max_examples=25, deadline=None)
DAY0 = dt.date(2025, 1, 1)

orders_strategy = st.lists(
    st.tuples(st.sampled_from("abcde"), st.integers(0, 150), st.integers(1, 100)),
    min_size=1,
    max_size=25,
)


@examples
@given(orders_strategy, st.lists(st.integers(0, 150), min_size=1, max_size=10), st.floats(0.1, 1))
def test_purchase_ltv_cac_times_payback_is_twelve_lifespans(
    orders: list[tuple[str, int, int]], spend_days: list[int], margin: float
) -> None:
    """CLV = 12 * ARPA * lifespan * margin, so LTV:CAC * payback = 12 * 2 wherever both exist."""
    order_rows = [
        (f"o{i}", c, str(DAY0 + dt.timedelta(days=d)), amount)
        for i, (c, d, amount) in enumerate(orders)
    ]
    order_rows.append(("last", "z", "2025-05-31", 1))  # the data runs past --since
    spend = [(str(DAY0 + dt.timedelta(days=d)), "search", 10) for d in spend_days]
    options = {"inactive_days": 30, "gross_margin": margin}
    kpis = [
        ltv_cac(ORDER_ROLES, "orders", method="purchase", lifespan_years=2, **options),
        payback(ORDER_ROLES, "orders", **options),
    ]
    with tempfile.TemporaryDirectory() as folder:
        document = orders_document(Path(folder), kpis, order_rows, spend)
        rows = table(document, period="month", since=dt.date(2025, 2, 1))
    for period in {p for _, p in rows}:
        ratio, months = rows["ltv_cac", period], rows["payback_months", period]
        assert (ratio.value is None) == (months.value is None), period
        if ratio.value is not None:
            assert ratio.value * months.value == pytest.approx(24.0)


subs_strategy = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        st.integers(0, 120),  # start, days after 2024-12-01
        st.one_of(st.none(), st.integers(1, 90)),  # length in days, None: still running
        st.sampled_from([0, 10, 25, 99]),
    ),
    min_size=1,
    max_size=12,
)


@examples
@given(subs_strategy)
def test_subscription_arpa_matches_a_day_by_day_count(
    subs: list[tuple[str, int, Any, int]],
) -> None:
    """ARPA = sum over days of the MRR running that day / sum over days of customers active."""
    first = dt.date(2024, 12, 1)
    rows = []
    for customer, start, length, mrr in subs:
        begin = first + dt.timedelta(days=start)
        end = None if length is None else begin + dt.timedelta(days=length)
        rows.append((customer, str(begin), end and str(end), mrr, "search"))
    last = max(max(b for _, b, _, _, _ in rows), max((e for *_, e, _, _ in rows if e), default=""))
    data_end = dt.date.fromisoformat(last) + dt.timedelta(days=1)
    with tempfile.TemporaryDirectory() as folder:
        document = subs_document(Path(folder), [payback(SUB_ROLES, "subs")], rows)
        report = run(parse_config(document), period="month", since=DAY0)
    found = {r.period: r.detail["arpa"] for r in report.results if r.period}
    for month, (a, b) in {"2025-01": (1, 2), "2025-02": (2, 3), "2025-03": (3, 4)}.items():
        start, stop = dt.date(2025, a, 1), min(dt.date(2025, b, 1), data_end)
        money = customers = 0.0
        day = start
        while day < stop:
            running = [
                (c, m) for c, b0, e0, m, _ in rows if b0 <= str(day) and (not e0 or e0 > str(day))
            ]
            money += sum(m for _, m in running)
            customers += len({c for c, _ in running})
            day += dt.timedelta(days=1)
        if customers:
            assert found[month] == pytest.approx(money / customers), month
        else:  # nobody active, or the data ends before the month (its rows come from spend)
            assert found.get(month) is None, month


# -- cross-checks on the sample files ----------------------------------------------------------

QUARTERS = [
    (dt.datetime(2025, 1, 1), dt.datetime(2025, 4, 1)),
    (dt.datetime(2025, 4, 1), dt.datetime(2025, 7, 1)),
    (dt.datetime(2025, 7, 1), dt.datetime(2025, 10, 1)),
    (dt.datetime(2025, 10, 1), dt.datetime(2026, 1, 1)),
]
SAMPLE_SPEND = {"date": "Date", "amount": "Spend", "channel": "Channel"}


def _label(start: dt.datetime) -> str:
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def _merge(intervals: list[tuple[dt.datetime, dt.datetime]]) -> list[list[dt.datetime]]:
    spells: list[list[dt.datetime]] = []
    for start, end in sorted(intervals):
        if spells and start <= spells[-1][1]:
            spells[-1][1] = max(spells[-1][1], end)
        else:
            spells.append([start, end])
    return spells


def _days(start: dt.datetime, end: dt.datetime, a: dt.datetime, b: dt.datetime) -> float:
    return max((min(end, b) - max(start, a)).total_seconds(), 0.0) / 86400


def _sample_spend(since: dt.datetime) -> dict[str, float]:
    """Spend per quarter label and overall (''), from --since."""
    spend: dict[str, float] = collections.Counter()
    with (SAMPLE / "spend.csv").open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["Date"] >= since.strftime("%Y-%m-%d") and row["Spend"]:
                when = dt.datetime.fromisoformat(row["Date"])
                spend[_label(when)] += float(row["Spend"])
                spend[""] += float(row["Spend"])
    return spend


def _windows(
    since: dt.datetime, data_end: dt.datetime
) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    windows = {_label(a): (a, min(b, data_end)) for a, b in QUARTERS if a < data_end}
    return {**windows, "": (since, data_end)}


def _new_by_window(firsts: dict[str, dt.datetime], since: dt.datetime) -> dict[str, int]:
    new: dict[str, int] = collections.Counter()
    for first in firsts.values():
        if first >= since:
            new[_label(first)] += 1
            new[""] += 1
    return new


def test_orders_sample_payback_and_ltv_cac_match_a_plain_loop() -> None:
    since = dt.datetime(2025, 1, 1)
    document = {
        "version": 1,
        "sources": {
            "spend": spend_source(SAMPLE / "spend.csv", columns=SAMPLE_SPEND, segments={}),
            "orders": {
                "kind": "orders",
                "path": str(SAMPLE / "orders.csv"),
                "columns": {
                    "order_id": "Order ID",
                    "customer_id": "Customer ID",
                    "ordered_at": "Ordered At",
                    "amount": "Line Total",
                    "status": "Status",
                },
                "filters": [{"field": "status", "not_in": ["refunded", "cancelled"]}],
            },
        },
        "kpis": [
            payback(ORDER_ROLES, "orders", inactive_days=90, gross_margin=0.5),
            ltv_cac(ORDER_ROLES, "orders", inactive_days=90, gross_margin=0.5, lifespan_years=2),
        ],
    }
    rows = table(document, period="quarter", since=since.date())

    orders: dict[str, list[Any]] = {}  # order id -> [customer, first time, amount]
    with (SAMPLE / "orders.csv").open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["Status"] in ("refunded", "cancelled"):
                continue
            when = dt.datetime.fromisoformat(row["Ordered At"])
            seen = orders.setdefault(row["Order ID"], [row["Customer ID"], when, 0.0])
            seen[1] = min(seen[1], when)
            seen[2] += float(row["Line Total"])
    by_customer: dict[str, list[tuple[dt.datetime, float]]] = collections.defaultdict(list)
    for customer, when, amount in orders.values():
        if customer:
            by_customer[customer].append((when, amount))
    last = max(when for history in by_customer.values() for when, _ in history)
    data_end = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())
    windows = _windows(since, data_end)
    firsts = {c: min(when for when, _ in history) for c, history in by_customer.items()}
    new, spend = _new_by_window(firsts, since), _sample_spend(since)
    inactive = dt.timedelta(days=90)
    for key, (a, b) in windows.items():
        days = revenue = 0.0
        for history in by_customer.values():
            spells = _merge([(when, when + inactive) for when, _ in history])
            days += sum(_days(s, e, a, b) for s, e in spells)
            revenue += sum(amount for when, amount in history if a <= when < b)
        arpa = revenue / (days / MONTH)
        cac = spend[key] / new[key]
        period = key or None
        assert rows["payback_months", period].detail["arpa"] == pytest.approx(arpa), key
        assert rows["payback_months", period].value == pytest.approx(cac / (arpa * 0.5)), key
        clv = arpa * 12 * 2 * 0.5  # AOV * frequency = revenue / customer-years = 12 * ARPA
        assert rows["ltv_cac", period].value == pytest.approx(clv / cac), key


def test_subscriptions_sample_payback_and_ltv_cac_match_a_plain_loop() -> None:
    since = dt.datetime(2025, 1, 1)
    document = {
        "version": 1,
        "sources": {
            "spend": spend_source(SAMPLE / "spend.csv", columns=SAMPLE_SPEND, segments={}),
            "subs": {
                "kind": "subscriptions",
                "path": str(SAMPLE / "subscriptions.csv"),
                "columns": {
                    "customer_id": "Customer ID",
                    "started_at": "Started At",
                    "ended_at": "Ended At",
                    "mrr": "MRR",
                },
            },
        },
        "kpis": [
            payback(SUB_ROLES, "subs", gross_margin=0.8),
            ltv_cac(SUB_ROLES, "subs", method="subscription", gross_margin=0.8),
        ],
    }
    rows = table(document, period="quarter", since=since.date())

    subs: dict[str, list[tuple[dt.datetime, dt.datetime, float]]] = collections.defaultdict(list)
    open_end = dt.datetime(9999, 1, 1)
    with (SAMPLE / "subscriptions.csv").open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            start = dt.datetime.fromisoformat(row["Started At"])
            end = dt.datetime.fromisoformat(row["Ended At"]) if row["Ended At"] else open_end
            subs[row["Customer ID"]].append((start, end, float(row["MRR"])))
    stamps = [t for rows_ in subs.values() for s, e, _ in rows_ for t in (s, e) if t != open_end]
    data_end = dt.datetime.combine(max(stamps).date() + dt.timedelta(days=1), dt.time())
    assert data_end == dt.datetime(2026, 1, 1)  # so every quarter is complete: 3 months each
    windows = _windows(since, data_end)
    firsts = {c: min(s for s, _, _ in history) for c, history in subs.items()}
    new, spend = _new_by_window(firsts, since), _sample_spend(since)
    for key, (a, b) in windows.items():
        days = money = at_start = churned = mrr_at_start = 0.0
        for history in subs.values():
            spells = _merge([(s, e) for s, e, _ in history])
            days += sum(_days(s, e, a, b) for s, e in spells)
            money += sum(m * _days(s, e, a, b) for s, e, m in history)
            start_spells = [(s, e) for s, e in spells if s < a <= e]
            at_start += bool(start_spells)
            churned += any(e < b for _, e in start_spells)
            mrr_at_start += sum(m for s, e, m in history if s < a <= e)
        arpa = money / days
        cac = spend[key] / new[key]
        months = 12 if key == "" else 3
        monthly = 1 - (1 - churned / at_start) ** (1 / months)
        clv = mrr_at_start / at_start * 0.8 / monthly
        period = key or None
        assert rows["payback_months", period].detail["arpa"] == pytest.approx(arpa), key
        assert rows["payback_months", period].value == pytest.approx(cac / (arpa * 0.8)), key
        assert rows["ltv_cac", period].detail["clv"] == pytest.approx(clv), key
        assert rows["ltv_cac", period].value == pytest.approx(clv / cac), key
