"""Retention KPIs (churn, retention, clv) against numbers worked by hand from tiny exports.

Subscriptions (`SUBS`, dates at midnight; "->" start to end, open = blank ended_at), report
--since 2025-01-01, --period month. The last date in the data is 2025-03-01 (I's end), so the
data ends inside March: March is measured over 2025-03-01 only and is incomplete.

    A 2024-12-10 -> open       100     G 2024-10-01 -> 2024-12-20  30, 2025-02-12 -> open  30
    B 2024-12-05 -> 2025-02-15  50     H 2024-12-15 -> 2025-02-01  20
    C 2024-11-01 -> 2025-02-10  50, then 2025-02-10 -> open 150 (an upgrade: no gap; plan Pro)
    D 2024-12-01 -> 2025-02-05  80, then 2025-02-20 -> open  80 (leaves and returns in Feb)
    E 2025-02-03 -> open        60     I 2025-01-02 -> 2025-03-01  70
    F 2025-02-04 -> 2025-02-25  40     J 2025-02-01 -> open        90 (plan Pro)
    K 2024-12-01 -> 2025-01-20  10

"Active at the start of [a, b)" = a subscription with start < a <= end; churned = that cover
ends (with no gap-free successor) before b.
- January: at start A B C D H K (G ended in Dec, I starts Jan 2) -> S 6; churned K (H ends Feb 1,
  not before Feb 1) -> 1/6 = 16.67 %, annualised 1 - (5/6)^12 = 88.78 %. At the end A B C D H I
  -> E 6; new: I -> N 1; CRR (6 - 1)/6 = 83.33 % = 100 - churn (nobody returns).
- February: at start A B C D H I -> S 6; churned B (Feb 15), D (gap from Feb 5), H (ends Feb 1)
  -> 3/6 = 50 %; C's upgrade is no churn, I ends Mar 1 (not in Feb). At the end A C D E G I J
  -> E 7; joined E F J (F left again) -> N 2 (E, J); returned (not at start, not new) G; D
  churned and returned. CRR (7 - 2)/6 = 83.33 %, not 100 - 50: the trap, by D and G.
- March (2025-03-01 only, incomplete): at start A C D E G I J -> 7; churned I -> 1/7.
- Overall (Jan 1 .. Mar 1, one window): S 6 (January's), churned K B D H -> 4/6 (I joined
  inside the window, so its end on Mar 1 is not churn of a customer at the start).
- By plan (C's first subscription and everything else Basic; C's second and J Pro): in Basic,
  C's cover ends Feb 10, so Basic's February churn is B C D H = 4/6; Pro has nobody at the start.
- CLV subscription, gross_margin 0.8: January MRR at start 100+50+50+80+20+10 = 310 over 6 ->
  ARPA 51.67; 51.67 * 0.8 / (1/6) = 248. February 100+50+50+80+20+70 = 370 -> 370/6 * 0.8 / 0.5
  = 98.67.

Orders (`ORDERS`, inactive_days 30, --since 2025-02-01): P 01-10 (50), 02-05 (70), 03-20 (30);
Q 01-20 (100); R 2024-12-01 (40), 02-15 (40); T 02-10 (20); U 01-25 (10), 02-27 (10);
V 03-31 (60). Active at t = an order in [t - 30 days, t).
- February: at start (orders Jan 2 .. Jan 31) P Q U -> S 3; at the end (Jan 30 .. Feb 28) P R T
  U -> E 4; churned = S not E: Q -> 1/3; joined T -> N 1; returned R. CRR (4 - 1)/3 = 100 %.
- March: at start P R T U -> 4; at the end (Mar 2 .. Mar 31) P V; churned R T U -> 3/4; N 1
  (V); CRR (2 - 1)/4 = 25 % = 100 - 75 (nobody returns).
- Overall (Feb 1 .. Mar 31): S P Q U; churned Q U -> 2/3.
- CLV purchase, February: orders P R T U = 4, revenue 70+40+20+10 = 140, AOV 35. Days active in
  February (cover [o, o + 30) merged, within Feb 1 .. Mar 1): P 28, Q 18, R 14, T 19, U 23 + 2 =
  25 -> 104 days = 104 / 365.25 years; frequency 4 / that = 14.05 a year; annual churn
  1 - (2/3)^12; lifespan 1 / that; CLV = 35 * 14.05 * 1.0078 = 495.5. n: P Q R T U active = 5.
- CLV historical: to Mar 1: P 120, Q 100, R 80, T 20, U 20 -> mean 68 over 5, sum of squares
  31600; to Apr 1 (March): + P 30, + V 60 -> 430 / 6.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cx_cli import stats
from cx_cli.analysis import run
from cx_cli.config import parse_config
from cx_cli.errors import ConfigError
from cx_cli.kpis.base import ALL, PERIOD, Context, Sums
from cx_cli.kpis.retention import Churn, Retention, months_between
from tests.conftest import write_csv

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "subscriptions.csv"

SUB_HEADER = ["sub", "customer", "plan", "start", "end", "mrr"]
SUBS = [
    ("s1", "A", "Basic", "2024-12-10", None, 100),
    ("s2", "B", "Basic", "2024-12-05", "2025-02-15", 50),
    ("s3", "C", "Basic", "2024-11-01", "2025-02-10", 50),
    ("s4", "C", "Pro", "2025-02-10", None, 150),
    ("s5", "D", "Basic", "2024-12-01", "2025-02-05", 80),
    ("s6", "D", "Basic", "2025-02-20", None, 80),
    ("s7", "E", "Basic", "2025-02-03", None, 60),
    ("s8", "F", "Basic", "2025-02-04", "2025-02-25", 40),
    ("s9", "G", "Basic", "2024-10-01", "2024-12-20", 30),
    ("s10", "G", "Basic", "2025-02-12", None, 30),
    ("s11", "H", "Basic", "2024-12-15", "2025-02-01", 20),
    ("s12", "I", "Basic", "2025-01-02", "2025-03-01", 70),
    ("s13", "J", "Pro", "2025-02-01", None, 90),
    ("s14", "K", "Basic", "2024-12-01", "2025-01-20", 10),
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


def subs_config(path: Path | str, kpis: list[Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "sources": {
            "subs": {
                "kind": "subscriptions",
                "path": str(path),
                "columns": {
                    "customer_id": "customer",
                    "started_at": "start",
                    "ended_at": "end",
                    "mrr": "mrr",
                },
                "segments": {"plan": "plan"},
            }
        },
        "kpis": kpis,
    }


def orders_config(path: Path | str, kpis: list[Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "sources": {
            "orders": {
                "kind": "orders",
                "path": str(path),
                "columns": {
                    "order_id": "order",
                    "customer_id": "customer",
                    "ordered_at": "when",
                    "amount": "amount",
                },
            }
        },
        "kpis": kpis,
    }


@pytest.fixture
def subs_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "subs.csv", SUBS, SUB_HEADER)


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "orders.csv", ORDERS, ORDER_HEADER)


def _rows(document: dict[str, Any], **options: Any) -> dict[tuple[str, str | None], Any]:
    """Results without segments by (kpi, period label or None for overall)."""
    report = run(parse_config(document), **options)
    return {(r.kpi, r.period): r for r in report.results if not r.segment}


SINCE_2025 = {"period": "month", "since": dt.date(2025, 1, 1)}


# -- churn, subscriptions ----------------------------------------------------------------------


def test_subscription_churn_by_month_matches_hand_count(subs_csv: Path) -> None:
    rows = _rows(subs_config(subs_csv, ["churn"]), **SINCE_2025)
    jan, feb, mar = rows["churn", "2025-01"], rows["churn", "2025-02"], rows["churn", "2025-03"]
    assert (jan.value, jan.n) == (pytest.approx(100 / 6), 6)
    assert (jan.detail["customers_at_start"], jan.detail["churned"]) == (6, 1)
    assert (feb.value, feb.detail["churned"]) == (pytest.approx(50.0), 3)
    assert (mar.value, mar.n) == (pytest.approx(100 / 7), 7)
    assert sorted(p for k, p in rows if k == "churn" and p) == ["2025-01", "2025-02", "2025-03"]


def test_churn_interval_is_wilson_and_annualised_from_the_month(subs_csv: Path) -> None:
    jan = _rows(subs_config(subs_csv, ["churn"]), **SINCE_2025)["churn", "2025-01"]
    low, high = stats.wilson_interval(1, 6, 0.95)
    assert (jan.ci_low, jan.ci_high) == pytest.approx((100 * low, 100 * high))
    assert jan.ci_method == "wilson"
    assert jan.detail["annualised"] == pytest.approx(100 * (1 - (5 / 6) ** 12))
    assert jan.detail["months"] == 1
    assert jan.unit == "%"


def test_period_the_data_ends_inside_is_reported_and_flagged_incomplete(subs_csv: Path) -> None:
    rows = _rows(subs_config(subs_csv, ["churn"]), **SINCE_2025)
    feb, mar = rows["churn", "2025-02"], rows["churn", "2025-03"]
    assert feb.detail["complete"] is True
    assert (feb.detail["from"], feb.detail["to"]) == ("2025-02-01", "2025-02-28")
    assert mar.detail["complete"] is False
    assert (mar.detail["from"], mar.detail["to"]) == ("2025-03-01", "2025-03-01")
    assert mar.detail["months"] == pytest.approx(12 / 365.25)


def test_overall_row_is_the_whole_window_as_one_period(subs_csv: Path) -> None:
    overall = _rows(subs_config(subs_csv, ["churn"]), **SINCE_2025)["churn", None]
    assert (overall.value, overall.n) == (pytest.approx(400 / 6), 6)
    assert (overall.detail["from"], overall.detail["to"]) == ("2025-01-01", "2025-03-01")


def test_until_cuts_the_window_and_later_ends_do_not_count(subs_csv: Path) -> None:
    rows = _rows(subs_config(subs_csv, ["churn"]), **SINCE_2025, until=dt.date(2025, 2, 28))
    assert sorted(p for _, p in rows if p) == ["2025-01", "2025-02"]
    overall = rows["churn", None]
    assert overall.detail["churned"] == 4  # K B D H
    assert overall.detail["to"] == "2025-02-28"
    assert overall.detail["complete"] is True
    assert overall.detail["months"] == 2


def test_without_since_nobody_is_active_at_the_start_of_the_whole_window(subs_csv: Path) -> None:
    overall = _rows(subs_config(subs_csv, ["churn"]))["churn", None]
    assert overall.value is None
    assert overall.n == 0
    assert overall.detail["from"] == "2024-10-01"
    assert "no customers were active" in overall.detail["reason"]


def test_per_segment_a_plan_change_leaves_one_plan_and_joins_the_other(subs_csv: Path) -> None:
    report = run(parse_config(subs_config(subs_csv, ["churn"])), **SINCE_2025, by=["plan"])
    cells = {(r.period, r.segment.get("plan")): r for r in report.results}
    assert cells["2025-02", "Basic"].detail["churned"] == 4  # B, C, D, H
    assert cells["2025-02", "Basic"].n == 6
    assert cells["2025-02", "Pro"].value is None  # nobody on Pro before February
    assert cells["2025-02", None].detail["churned"] == 3  # overall C never left


def test_an_end_before_the_start_is_ignored_and_counted(tmp_path: Path) -> None:
    rows = [*SUBS, ("bad", "Z", "Basic", "2025-01-10", "2025-01-05", 5)]
    path = write_csv(tmp_path / "s.csv", rows, SUB_HEADER)
    overall = _rows(subs_config(path, ["churn"]), **SINCE_2025)["churn", None]
    assert overall.detail["ignored_rows"] == 1
    assert overall.detail["churned"] == 4


# -- retention ---------------------------------------------------------------------------------


def test_retention_january_equals_100_minus_churn_when_nobody_returns(subs_csv: Path) -> None:
    rows = _rows(subs_config(subs_csv, ["retention", "churn"]), **SINCE_2025)
    jan = rows["retention", "2025-01"]
    assert jan.value == pytest.approx(100 * (6 - 1) / 6)
    assert jan.value == pytest.approx(100 - rows["churn", "2025-01"].value)
    assert (jan.detail["customers_at_end"], jan.detail["new_customers"]) == (6, 1)


def test_retention_differs_from_100_minus_churn_when_customers_return(subs_csv: Path) -> None:
    rows = _rows(subs_config(subs_csv, ["retention", "churn"]), **SINCE_2025)
    feb = rows["retention", "2025-02"]
    assert feb.value == pytest.approx(100 * (7 - 2) / 6)
    assert rows["churn", "2025-02"].value == pytest.approx(50.0)
    detail = feb.detail
    assert detail["customers_at_start"] == 6
    assert detail["customers_at_end"] == 7
    assert detail["new_customers"] == 2  # E and J; F joined and left
    assert detail["joined"] == 3
    assert detail["churned_and_returned"] == 1  # D
    assert detail["returned"] == 1  # G
    assert detail["churn"] == pytest.approx(50.0)
    assert feb.ci_low is None and feb.ci_high is None


# -- orders ------------------------------------------------------------------------------------

ORDER_KPIS = [
    {"kpi": "churn", "inactive_days": 30},
    {"kpi": "retention", "inactive_days": 30},
]
SINCE_FEB = {"period": "month", "since": dt.date(2025, 2, 1)}


def test_orders_churn_uses_the_inactive_days_rule(orders_csv: Path) -> None:
    rows = _rows(orders_config(orders_csv, ORDER_KPIS), **SINCE_FEB)
    feb, mar = rows["churn", "2025-02"], rows["churn", "2025-03"]
    assert (feb.value, feb.n, feb.detail["churned"]) == (pytest.approx(100 / 3), 3, 1)
    assert (mar.value, mar.n) == (pytest.approx(75.0), 4)
    assert mar.detail["complete"] is True  # V's order on Mar 31 reaches the month's end
    assert rows["churn", None].value == pytest.approx(200 / 3)
    assert "30 days" in feb.detail["rule"]


def test_orders_retention_counts_a_customer_back_from_before_the_period(orders_csv: Path) -> None:
    rows = _rows(orders_config(orders_csv, ORDER_KPIS), **SINCE_FEB)
    feb, mar = rows["retention", "2025-02"], rows["retention", "2025-03"]
    assert feb.value == pytest.approx(100.0)  # (E 4 - N 1) / S 3: R came back
    assert (feb.detail["returned"], feb.detail["new_customers"]) == (1, 1)
    assert mar.value == pytest.approx(25.0)
    assert mar.value == pytest.approx(100 - rows["churn", "2025-03"].value)


def test_churn_on_orders_without_inactive_days_is_a_config_error(orders_csv: Path) -> None:
    with pytest.raises(ConfigError, match="inactive_days"):
        parse_config(orders_config(orders_csv, ["churn"]))


def test_inactive_days_on_subscriptions_is_a_config_error(subs_csv: Path) -> None:
    with pytest.raises(ConfigError, match="orders sources only"):
        parse_config(subs_config(subs_csv, [{"kpi": "retention", "inactive_days": 90}]))


# -- clv ---------------------------------------------------------------------------------------


def test_clv_subscription_is_arpa_times_margin_over_monthly_churn(subs_csv: Path) -> None:
    rows = _rows(subs_config(subs_csv, [{"kpi": "clv", "gross_margin": 0.8}]), **SINCE_2025)
    jan, feb = rows["clv", "2025-01"], rows["clv", "2025-02"]
    assert jan.value == pytest.approx(310 * 0.8)
    assert jan.detail["arpa"] == pytest.approx(310 / 6)
    assert jan.detail["monthly_churn"] == pytest.approx(100 / 6)
    assert (jan.n, jan.unit, jan.ci_low) == (6, "currency", None)
    assert feb.value == pytest.approx(370 / 6 * 0.8 / 0.5)
    assert feb.detail["method"] == "subscription"


def test_clv_subscription_is_undefined_when_nobody_churns(tmp_path: Path) -> None:
    rows = [
        ("s1", "A", "Basic", "2024-12-01", None, 100),
        ("s2", "B", "Basic", "2025-01-05", None, 50),
    ]
    path = write_csv(tmp_path / "s.csv", rows, SUB_HEADER)
    jan = _rows(subs_config(path, ["clv"]), **SINCE_2025)["clv", "2025-01"]
    assert jan.value is None
    assert jan.detail["reason"] == "churn is 0"
    assert jan.detail["arpa"] == pytest.approx(100.0)


def test_clv_purchase_is_aov_times_frequency_times_lifespan(orders_csv: Path) -> None:
    kpis = [{"kpi": "clv", "inactive_days": 30}]
    feb = _rows(orders_config(orders_csv, kpis), **SINCE_FEB)["clv", "2025-02"]
    frequency = 4 / (104 / 365.25)
    lifespan = 1 / (1 - (2 / 3) ** 12)
    assert feb.value == pytest.approx(35 * frequency * lifespan)
    assert feb.detail["aov"] == pytest.approx(35.0)
    assert feb.detail["orders"] == 4
    assert feb.detail["purchase_frequency_per_year"] == pytest.approx(frequency)
    assert feb.detail["customer_years"] == pytest.approx(104 / 365.25)
    assert feb.n == 5


def test_clv_purchase_counts_line_items_of_one_order_once(tmp_path: Path) -> None:
    rows = [("o1", "P", "2025-02-05", 50), ("o1", "P", "2025-02-05", 20)]
    path = write_csv(tmp_path / "lines.csv", [*rows, *ORDERS[3:]], ORDER_HEADER)
    kpis = [{"kpi": "clv", "inactive_days": 30}]
    feb = _rows(orders_config(path, kpis), **SINCE_FEB)["clv", "2025-02"]
    assert feb.detail["orders"] == 4
    assert feb.detail["aov"] == pytest.approx(35.0)


def test_clv_purchase_with_lifespan_and_margin_options(orders_csv: Path) -> None:
    kpis = [{"kpi": "clv", "inactive_days": 30, "lifespan_years": 2, "gross_margin": 0.5}]
    feb = _rows(orders_config(orders_csv, kpis), **SINCE_FEB)["clv", "2025-02"]
    assert feb.value == pytest.approx(35 * 4 / (104 / 365.25) * 2 * 0.5)
    assert feb.detail["lifespan_from"] == "option"


def test_clv_historical_is_mean_revenue_to_date_with_t_interval(orders_csv: Path) -> None:
    kpis = [{"kpi": "clv", "method": "historical"}]
    rows = _rows(orders_config(orders_csv, kpis), **SINCE_FEB)
    feb, mar = rows["clv", "2025-02"], rows["clv", "2025-03"]
    assert (feb.value, feb.n) == (pytest.approx(68.0), 5)
    interval = stats.mean_interval(5, 340, 31600, 0.95)
    assert (feb.ci_low, feb.ci_high) == pytest.approx(interval)
    assert feb.ci_method == "t"
    assert feb.detail["median"] == pytest.approx(80.0)
    assert (mar.value, mar.n) == (pytest.approx(430 / 6), 6)
    assert feb.variant == "historical"


@pytest.mark.parametrize(("refund", "clipped"), [(False, True), (True, False)])
def test_clv_historical_interval_is_clipped_at_zero_only_without_negative_revenue(
    tmp_path: Path, refund: bool, clipped: bool
) -> None:
    # Revenue to date A 10, B 20, C 600: mean 210, s^2 = 114100, t(0.975, 2) = 4.30265,
    # half-width 839.11 -> [-629.11, 1049.11]; no customer below 0: the low end is 0.
    # With a refund making B's revenue -20 (an order of -40): mean 196.67, not clipped.
    rows = [("o1", "A", "2025-01-10", 10), ("o2", "B", "2025-01-11", 20)]
    rows += [("o3", "C", "2025-01-12", 600)] + ([("o4", "B", "2025-01-13", -40)] if refund else [])
    path = write_csv(tmp_path / "orders.csv", rows, ORDER_HEADER)
    row = _rows(orders_config(path, [{"kpi": "clv", "method": "historical"}]))["clv", None]
    if clipped:
        assert (row.ci_low, row.ci_high) == (0.0, pytest.approx(1049.11, abs=0.01))
    else:
        interval = stats.mean_interval(3, 590, 10**2 + 20**2 + 600**2, 0.95)
        assert (row.value, (row.ci_low, row.ci_high)) == (pytest.approx(590 / 3), interval)
        assert row.ci_low < 0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kpi": "clv", "method": "subscription"}, "does not read a orders source"),
        ({"kpi": "clv", "method": "purchase"}, "needs 'inactive_days'"),
        ({"kpi": "clv", "method": "historical", "gross_margin": 60}, "fraction between 0 and 1"),
        ({"kpi": "clv", "method": "historical", "lifespan_years": 3}, "method purchase only"),
        ({"kpi": "clv", "variant": "purchase", "method": "historical"}, "disagree"),
    ],
)
def test_clv_options_that_do_not_fit_are_config_errors(
    orders_csv: Path, entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(orders_config(orders_csv, [entry]))


def test_months_between_counts_calendar_months_then_days() -> None:
    assert months_between(dt.date(2025, 1, 1), dt.date(2026, 1, 1)) == 12
    assert months_between(dt.date(2025, 2, 1), dt.date(2025, 3, 1)) == 1
    assert months_between(dt.date(2025, 3, 15), dt.date(2025, 4, 1)) == pytest.approx(
        17 * 12 / 365.25
    )
    assert months_between(dt.date(2025, 1, 31), dt.date(2025, 3, 1)) == pytest.approx(
        1 + 1 * 12 / 365.25  # Jan 31 + 1 month = Feb 28, then one day
    )


# -- properties --------------------------------------------------------------------------------

BASE = dt.datetime(2025, 1, 1)


def _frame(intervals: list[tuple[int, int, int | None]]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "customer_id": [f"c{c}" for c, _, _ in intervals],
            "started_at": pd.to_datetime([BASE + dt.timedelta(days=s) for _, s, _ in intervals]),
            "ended_at": pd.to_datetime(
                [None if e is None else BASE + dt.timedelta(days=s + e) for _, s, e in intervals]
            ),
        }
    )


def _monthly_sums(kpi: Any, frame: Any, kind: str = "subscriptions", **options: Any) -> dict:
    ctx = Context(kind, "month", None, None)
    opts = kpi.Options(**options)
    prepared = kpi.prepare(frame, [ALL, PERIOD], opts, ctx)
    tally = kpi.tally(prepared, opts)
    import pandas as pd

    table = pd.concat([prepared[[ALL, PERIOD]], pd.DataFrame(dict(tally))], axis=1)
    summed = table.groupby(PERIOD).sum()
    return {p: Sums(v) for p, v in zip(summed.index, summed.to_dict("records"), strict=True)}


def _covered(intervals: list[tuple[dt.datetime, dt.datetime | None]], t: dt.datetime) -> bool:
    """Covered just before t: a subscription with start < t <= end."""
    return any(s < t and (e is None or t <= e) for s, e in intervals)


def _gap_starts_in(
    intervals: list[tuple[dt.datetime, dt.datetime | None]], a: dt.datetime, b: dt.datetime
) -> bool:
    """Some subscription ends in [a, b) at an instant no subscription covers (start <= t < end)."""
    ends = [end for _, end in intervals if end is not None and a <= end < b]
    return any(not any(s <= end and (e is None or end < e) for s, e in intervals) for end in ends)


intervals_strategy = st.lists(
    st.tuples(
        st.integers(0, 5),  # customer
        st.integers(0, 120),  # start, days after 2025-01-01
        st.one_of(st.none(), st.integers(0, 90)),  # length in days, None = open
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(intervals_strategy)
def test_churn_matches_a_brute_force_reading_of_the_rule(intervals: list) -> None:
    """Per month: S = covered just before its start; churned = S and a gap starts inside it."""
    sums = _monthly_sums(Churn(), _frame(intervals))
    by_customer: dict[int, list] = defaultdict(list)
    for c, s, length in intervals:
        start = BASE + dt.timedelta(days=s)
        by_customer[c].append(
            (start, None if length is None else start + dt.timedelta(days=length))
        )
    for period, s in sums.items():
        a = period.to_pydatetime()
        b = min((a + dt.timedelta(days=32)).replace(day=1), _data_end(intervals))
        at_start = [c for c, iv in by_customer.items() if _covered(iv, a)]
        churned = [c for c in at_start if _gap_starts_in(by_customer[c], a, b)]
        assert (s["at_start"], s["churned"]) == (len(at_start), len(churned))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 150)), min_size=1, max_size=30))
def test_orders_churn_matches_a_brute_force_reading_of_the_rule(orders: list) -> None:
    """Active at t = an order in [t - 30 days, t); churned = active at the start, not the end."""
    import pandas as pd

    when = [BASE + dt.timedelta(days=d, hours=12) for _, d in orders]
    frame = pd.DataFrame(
        {"customer_id": [f"c{c}" for c, _ in orders], "ordered_at": pd.to_datetime(when)}
    )
    sums = _monthly_sums(Churn(), frame, "orders", inactive_days=30)
    end = BASE + dt.timedelta(days=max(d for _, d in orders) + 1)
    window = dt.timedelta(days=30)
    for period, s in sums.items():
        a = max(period.to_pydatetime(), BASE + dt.timedelta(days=min(d for _, d in orders)))
        b = min((period.to_pydatetime() + dt.timedelta(days=32)).replace(day=1), end)
        mine = {c: [w for (k, _), w in zip(orders, when, strict=True) if k == c] for c, _ in orders}
        at_start = {c for c, ws in mine.items() if any(a - window <= w < a for w in ws)}
        at_end = {c for c, ws in mine.items() if any(b - window <= w < b for w in ws)}
        assert (s["at_start"], s["churned"]) == (len(at_start), len(at_start - at_end))


def _data_end(intervals: list) -> dt.datetime:
    days = [s for _, s, _ in intervals] + [s + e for _, s, e in intervals if e is not None]
    return BASE + dt.timedelta(days=max(days) + 1)


@settings(max_examples=60, deadline=None)
@given(intervals_strategy)
def test_retention_identity_and_equality_with_churn_without_returns(intervals: list) -> None:
    """E - N = S - churned + churned_and_returned + returned; CRR = 100 - churn when both are 0."""
    retention = Retention()
    for s in _monthly_sums(retention, _frame(intervals)).values():
        assert s["at_end"] - s["new"] == (
            s["at_start"] - s["churned"] + s["churned_returned"] + s["returned"]
        )
        assert 0 <= s["churned"] <= s["at_start"]
        est = retention.estimate(s, retention.Options(), 0.95)
        if s["at_start"] and not s["churned_returned"] and not s["returned"]:
            assert est.value == pytest.approx(100 - est.detail["churn"])


# -- the sample export, cross-checked by a plain loop ------------------------------------------


def _sample_document() -> dict[str, Any]:
    return {
        "version": 1,
        "sources": {
            "subscriptions": {
                "kind": "subscriptions",
                "path": str(SAMPLE),
                "columns": {
                    "customer_id": "Customer ID",
                    "started_at": "Started At",
                    "ended_at": "Ended At",
                    "mrr": "MRR",
                },
                "segments": {"plan": "Plan", "channel": "Channel"},
            }
        },
        "kpis": ["churn", "retention", {"kpi": "clv", "gross_margin": 0.8}],
    }


def _sample_by_customer() -> dict[str, list[tuple[dt.datetime, dt.datetime | None, float]]]:
    customers: dict[str, list] = defaultdict(list)
    with SAMPLE.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            end = dt.datetime.fromisoformat(row["Ended At"]) if row["Ended At"] else None
            start = dt.datetime.fromisoformat(row["Started At"])
            customers[row["Customer ID"]].append((start, end, float(row["MRR"])))
    return customers


def test_sample_monthly_figures_match_a_plain_python_loop() -> None:
    rows = _rows(_sample_document(), period="month", since=dt.date(2025, 1, 1))
    customers = _sample_by_customer()
    months = [dt.datetime(2025, m, 1) for m in range(1, 13)] + [dt.datetime(2026, 1, 1)]
    for a, b in itertools.pairwise(months):
        label = a.strftime("%Y-%m")
        plain = {c: [(s, e) for s, e, _ in subs] for c, subs in customers.items()}
        at_start = [c for c, iv in plain.items() if _covered(iv, a)]
        churned = [c for c in at_start if _gap_starts_in(plain[c], a, b)]
        at_end = [c for c, iv in plain.items() if _covered(iv, b)]
        new = [c for c in at_end if a <= min(s for s, _ in plain[c]) < b]
        mrr = sum(
            m for c in at_start for s, e, m in customers[c] if s < a and (e is None or a <= e)
        )
        churn = rows["churn", label]
        assert (churn.n, churn.detail["churned"]) == (len(at_start), len(churned))
        assert churn.value == pytest.approx(100 * len(churned) / len(at_start))
        retention = rows["retention", label]
        assert retention.value == pytest.approx(100 * (len(at_end) - len(new)) / len(at_start))
        clv = rows["clv", label]
        monthly = len(churned) / len(at_start)
        assert clv.value == pytest.approx(mrr / len(at_start) * 0.8 / monthly)
    assert rows["churn", "2025-12"].detail["complete"] is True


def test_sample_has_realistic_churn_returns_and_upgrades() -> None:
    rows = _rows(_sample_document(), period="month", since=dt.date(2024, 7, 1))
    churn = [r.value for (kpi, period), r in rows.items() if kpi == "churn" and period]
    assert 3 <= sum(churn) / len(churn) <= 5.5
    customers = _sample_by_customer()
    assert sum(len(subs) for subs in customers.values()) == pytest.approx(1200, abs=60)
    upgraded = [
        c for c, subs in customers.items() if {s for s, _, _ in subs} & {e for _, e, _ in subs}
    ]
    assert len(upgraded) >= 5
    retention = [r for (kpi, period), r in rows.items() if kpi == "retention" and period]
    assert sum(r.detail["churned_and_returned"] + r.detail["returned"] for r in retention) >= 5


def test_sample_file_is_what_its_seeded_generator_writes(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = SAMPLE.parent / "generate_subscriptions.py"
    again = tmp_path / "again.csv"
    subprocess.run(
        [sys.executable, str(script), "--out", str(again)], check=True, capture_output=True
    )
    assert again.read_bytes() == SAMPLE.read_bytes()
