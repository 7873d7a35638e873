"""Commerce KPIs (aov, repeat_rate, mau, wau, dau) against numbers worked by hand.

The tiny line-item export `LINES` (2024 is a leap year; Jan 1 2024 is a Monday, so ISO week
W01 is Jan 1-7 and W05 is Jan 29 - Feb 4):

    order  date         customer  lines (qty x price = total)                 status     channel
    O1     Jan 3 Wed    a         1 x 10 = 10, 2 x 5 = 10                      paid       web
    O2     Jan 15 Mon   a         1 x 30 = 30                                  paid       app
    O3     Jan 20 Sat   b         1 x 8 = 8                                    refunded   web
    O4     Jan 31 Wed   b         3 x 4 = 12                                   paid       web
    O5     Feb 1 Thu    c         1 x 50 = 50, 1 x 10 = 10 (line refunded)     paid       app
    O6     Feb 10 Sat   (guest)   1 x 40 = 40                                  paid       web
    O7     Feb 12 Mon   a         2 x 7.50 = 15                                paid       web
    O8     Feb 29 Thu   d         1 x 25 = 25                                  cancelled  app
    O9     Mar 5 Tue    b         1 x 100, Line Total 90 (10 off)              paid       web
    O10    May 2 Thu    e         2 x 30 = 60                                  paid       web

The status filter (not_in refunded, cancelled) drops O3, O8 and O5's second line, leaving the
orders O1 20 (2 lines), O2 30, O4 12, O5 50, O6 40, O7 15, O9 90, O10 60.

- AOV (Line Total, summed per order): revenue 317 over 8 orders = 39.625; lines 9. Values
  20,30,12,50,40,15,90,60: sum of squares 17469, SS = 17469 - 317^2/8 = 4907.875, sd =
  sqrt(4907.875 / 7) = 26.4788, SE = 9.3617, t(0.975, 7) = 2.364624 -> [17.488, 61.762].
  By month: Jan 62/3 = 20.667, Feb 105/3 = 35, Mar 90, May 60. By channel: web (O1 O4 O6 O7
  O9 O10) 237/6 = 39.5, app (O2 O5) 80/2 = 40. Quantity x unit price instead: O9 is 100, so
  327/8 = 40.875. Without the filter: + O3 8 + O8 25 + O5's 10 = 360 over 10 orders = 36.
- Repeat rate: orders per customer a 3 (O1 O2 O7), b 2 (O4 O9), c 1, e 1; O6 has no customer.
  2 of 4 = 50 %, Wilson 95 % [15.00, 85.00]; 7 orders, 1.75 per customer. Jan: a 2, b 1 -> 1 of
  2 = 50 %; Feb: c 1, a 1 -> 0 of 2 (and the guest order); Mar: b -> 0 of 1. Web: a 2, b 2,
  e 1 -> 2 of 3; app: a 1, c 1 -> 0 of 2. Without the filter b has 3 orders and d appears:
  2 of 5 = 40 %.
- MAU (calendar): Jan {a, b} 2, Feb {c, a} 2, Mar {b} 1, Apr {} 0, May {e} 1; overall the
  mean of the 5 months = 6/5 = 1.2, latest month 2024-05 with 1, 4 customers active. Per
  quarter: Q1 (2 + 2 + 1)/3 = 5/3; Q2 April and May (the data ends May 2) (0 + 1)/2 = 0.5.
  Web: Jan {a, b}, Feb {a}, Mar {b}, Apr 0, May {e} -> 5/5 = 1; app: Jan {a}, Feb {c}, then
  0, 0, 0 -> 2/5 = 0.4. With --period week (shorter than a month): W05 {b, c} = 2.
- WAU (calendar): weeks W01 (Jan 1) to W18 (Apr 29) = 18 weeks; active W01 {a}, W03 {a},
  W05 {b, c}, W06 {} (guest only), W07 {a}, W10 {b}, W18 {e} -> 7/18. Per month, each week
  goes to the month of its Thursday: Jan W01-W04 (1 + 0 + 1 + 0)/4 = 0.5; Feb W05 (Thursday
  Feb 1, so b's Jan 31 order counts in February) to W09 (Thursday Feb 29) (2+0+1+0+0)/5 = 0.6;
  Mar W10-W13 1/4; May W18 (Thursday May 2) 1/1.
- DAU (calendar): Jan 3 .. May 2 = 29 + 29 + 31 + 30 + 2 = 121 days with 7 customer-days
  (Jan 3, 15, 31, Feb 1, 12, Mar 5, May 2; the guest's Feb 10 is not a customer) -> 7/121.
  Per month: Jan 3/29 (from Jan 3), Feb 2/29, Mar 1/31, May 1/2.
- MAU rolling_30d: overall the 30 days ending May 2 (Apr 3 - May 2): {e} = 1. Per month:
  Jan 2 - Jan 31 {a, b} = 2, window incomplete (the data starts Jan 3); Jan 31 - Feb 29
  {b, c, a} = 3 (reaching back into January); Mar 2 - Mar 31 {b} = 1; May: the window ends
  on the last order date, May 2 -> 1. rolling_28d: Feb 2 - Feb 29 {a} = 1. By channel
  overall: web {e} = 1, app 0. With --since 2024-02-01 February still sees b's Jan 31 order.
- WAU rolling_7d: Apr 26 - May 2 {e} = 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_cli.analysis import run
from cx_cli.config import parse_config
from cx_cli.errors import ConfigError
from cx_cli.kpis import get
from cx_cli.report import Result
from tests.conftest import write_csv

HEADER = ["order", "line", "when", "customer", "qty", "price", "total", "status", "channel"]
LINES = [
    ("O1", 1, "2024-01-03 10:00", "a", 1, "10.00", "10.00", "paid", "web"),
    ("O2", 1, "2024-01-15 12:00", "a", 1, "30.00", "30.00", "paid", "app"),
    ("O3", 1, "2024-01-20 09:00", "b", 1, "8.00", "8.00", "refunded", "web"),
    ("O4", 1, "2024-01-31 23:30", "b", 3, "4.00", "12.00", "paid", "web"),
    ("O5", 1, "2024-02-01 09:00", "c", 1, "50.00", "50.00", "paid", "app"),
    ("O5", 2, "2024-02-01 09:00", "c", 1, "10.00", "10.00", "refunded", "app"),
    ("O6", 1, "2024-02-10 14:00", None, 1, "40.00", "40.00", "paid", "web"),
    ("O7", 1, "2024-02-12 08:00", "a", 2, "7.50", "15.00", "paid", "web"),
    ("O8", 1, "2024-02-29 16:00", "d", 1, "25.00", "25.00", "cancelled", "app"),
    ("O9", 1, "2024-03-05 11:00", "b", 1, "100.00", "90.00", "paid", "web"),
    ("O10", 1, "2024-05-02 18:00", "e", 2, "30.00", "60.00", "paid", "web"),
    ("O1", 2, "2024-01-03 10:00", "a", 2, "5.00", "10.00", "paid", "web"),  # far from line 1
]
STATUS_FILTER = [{"field": "status", "not_in": ["refunded", "cancelled"]}]
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "orders.csv"


def orders_config(
    path: Path | str,
    kpis: list[Any],
    *,
    amount: str = "total",
    filters: list[dict[str, Any]] | None = None,
    **report: Any,
) -> dict[str, Any]:
    """A config for the HEADER layout; amount "total" maps the line total, "derived" maps
    quantity and unit price instead."""
    columns = {
        "order_id": "order",
        "customer_id": "customer",
        "ordered_at": "when",
        "status": "status",
    }
    if amount == "total":
        columns["amount"] = "total"
    else:
        columns.update(quantity="qty", unit_price="price")
    return {
        "version": 1,
        "sources": {
            "orders": {
                "kind": "orders",
                "path": str(path),
                "columns": columns,
                "segments": {"channel": "channel"},
                "filters": STATUS_FILTER if filters is None else filters,
            }
        },
        "kpis": kpis,
        "report": report,
    }


@pytest.fixture
def tiny_orders(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "orders.csv", LINES, HEADER)


def _run(path: Path, kpis: list[Any], options: dict[str, Any] | None = None, **config: Any):
    return run(parse_config(orders_config(path, kpis, **config)), **(options or {}))


def _overall(results: tuple[Result, ...] | list[Result], kpi: str = "") -> Result:
    (row,) = [
        r for r in results if (not kpi or r.kpi == kpi) and r.period is None and not r.segment
    ]
    return row


def _periods(results: tuple[Result, ...]) -> dict[str, Result]:
    return {r.period: r for r in results if r.period and not r.segment}


def _segments(results: tuple[Result, ...], name: str = "channel") -> dict[str, Result]:
    return {r.segment[name]: r for r in results if r.period is None and r.segment}


# -- AOV ---------------------------------------------------------------------------------------


def test_aov_sums_line_totals_per_order_after_the_status_filter(tiny_orders: Path) -> None:
    report = _run(tiny_orders, ["aov"])
    row = _overall(report.results)
    assert row.value == pytest.approx(317 / 8)
    assert row.n == 8
    assert row.unit == "currency"
    assert row.detail["orders"] == 8
    assert row.detail["revenue"] == pytest.approx(317)
    assert row.detail["lines"] == 9
    assert row.detail["orders_without_amount"] == 0
    assert row.detail["sd"] == pytest.approx(26.4788, abs=1e-4)
    assert row.ci_method == "t"
    assert (row.ci_low, row.ci_high) == pytest.approx((17.488, 61.762), abs=0.001)
    dropped = report.inputs[0].rows_dropped
    assert dropped == {"filter status not_in ['refunded', 'cancelled']": 3}  # O3, O5/2, O8


def test_aov_per_month_and_channel(tiny_orders: Path) -> None:
    results = _run(tiny_orders, ["aov"], {"period": "month", "by": ["channel"]}).results
    months = {p: (r.value, r.n) for p, r in _periods(results).items()}
    assert months == {
        "2024-01": (pytest.approx(62 / 3), 3),
        "2024-02": (pytest.approx(35.0), 3),
        "2024-03": (pytest.approx(90.0), 1),
        "2024-05": (pytest.approx(60.0), 1),
    }
    assert _periods(results)["2024-02"].change == pytest.approx(35 - 62 / 3)
    channels = {c: (r.value, r.n) for c, r in _segments(results).items()}
    assert channels == {"web": (pytest.approx(39.5), 6), "app": (pytest.approx(40.0), 2)}


def test_aov_from_quantity_times_unit_price(tiny_orders: Path) -> None:
    row = _overall(_run(tiny_orders, ["aov"], amount="derived").results)
    assert row.value == pytest.approx(327 / 8)  # O9 at its list price 100, not 90
    assert row.n == 8


def test_aov_without_the_status_filter_counts_refunds_and_cancellations(tiny_orders: Path) -> None:
    row = _overall(_run(tiny_orders, ["aov"], filters=[]).results)
    assert (row.value, row.n) == (pytest.approx(36.0), 10)


def test_aov_takes_a_repeated_order_total_once_with_order_total_first(tmp_path: Path) -> None:
    header = ["order", "when", "customer", "order total", "status"]
    lines = [
        ("A", "2024-01-01", "x", "20.00", "paid"),
        ("A", "2024-01-01", "x", "20.00", "paid"),
        ("B", "2024-01-02", "y", "30.00", "paid"),
    ]
    document = orders_config(write_csv(tmp_path / "o.csv", lines, header), ["aov"])
    source = document["sources"]["orders"]
    source["columns"] = {
        "order_id": "order",
        "ordered_at": "when",
        "customer_id": "customer",
        "amount": "order total",
        "status": "status",
    }
    source["segments"] = {}
    source["order_total"] = "first"
    assert _overall(run(parse_config(document)).results).value == pytest.approx(25.0)
    source["order_total"] = "sum"  # the wrong reading of this export double-counts A
    assert _overall(run(parse_config(document)).results).value == pytest.approx(35.0)


def test_aov_needs_an_order_id(tiny_orders: Path) -> None:
    document = orders_config(tiny_orders, ["aov"])
    del document["sources"]["orders"]["columns"]["order_id"]
    with pytest.raises(ConfigError, match="needs field 'order_id'"):
        parse_config(document)


# -- repeat rate ---------------------------------------------------------------------------------


def test_repeat_rate_counts_customers_with_two_or_more_orders(tiny_orders: Path) -> None:
    row = _overall(_run(tiny_orders, ["repeat_rate"]).results)
    assert row.value == pytest.approx(50.0)
    assert row.n == 4
    assert row.unit == "%"
    assert row.ci_method == "wilson"
    assert (row.ci_low, row.ci_high) == pytest.approx((15.00, 85.00), abs=0.01)
    assert dict(row.detail) == {
        "customers": 4,
        "repeat_customers": 2,
        "orders": 7,
        "orders_per_customer": pytest.approx(1.75),
        "orders_without_customer": 1,
    }


def test_repeat_rate_counts_orders_within_each_period_and_segment(tiny_orders: Path) -> None:
    results = _run(tiny_orders, ["repeat_rate"], {"period": "month", "by": ["channel"]}).results
    months = _periods(results)
    assert {p: (r.value, r.n) for p, r in months.items()} == {
        "2024-01": (pytest.approx(50.0), 2),
        "2024-02": (pytest.approx(0.0), 2),
        "2024-03": (pytest.approx(0.0), 1),
        "2024-05": (pytest.approx(0.0), 1),
    }
    assert months["2024-02"].detail["orders_without_customer"] == 1
    channels = _segments(results)
    assert (channels["web"].value, channels["web"].n) == (pytest.approx(200 / 3), 3)
    assert (channels["app"].value, channels["app"].n) == (pytest.approx(0.0), 2)


def test_repeat_rate_without_the_status_filter(tiny_orders: Path) -> None:
    row = _overall(_run(tiny_orders, ["repeat_rate"], filters=[]).results)
    assert (row.value, row.n) == (pytest.approx(40.0), 5)  # d appears; b has 3 orders


def test_repeat_rate_of_guests_only_is_undefined(tmp_path: Path) -> None:
    lines = [("G1", 1, "2024-01-01", None, 1, "5", "5", "paid", "web")]
    row = _overall(_run(write_csv(tmp_path / "g.csv", lines, HEADER), ["repeat_rate"]).results)
    assert (row.value, row.n, row.ci_low) == (None, 0, None)
    assert row.detail["orders_without_customer"] == 1


# -- MAU, WAU, DAU ------------------------------------------------------------------------------


def test_mau_is_the_mean_of_calendar_months_including_empty_ones(tiny_orders: Path) -> None:
    row = _overall(_run(tiny_orders, ["mau"]).results)
    assert row.value == pytest.approx(1.2)
    assert row.n == 4
    assert row.unit == "count"
    assert (row.ci_low, row.ci_high, row.ci_method) == (None, None, None)
    assert row.variant == "calendar"
    assert row.detail["months"] == 5
    assert row.detail["latest_month"] == "2024-05"
    assert row.detail["latest_month_actives"] == 1
    assert row.detail["customers_active"] == 4
    assert row.detail["orders_without_customer"] == 1
    # n 4 is under the default min_n 30: flagged though a count has no interval (KPIS.md)
    assert row.low_sample
    assert not _overall(_run(tiny_orders, ["mau"], min_n=4).results).low_sample


def test_mau_per_month_is_the_months_distinct_count(tiny_orders: Path) -> None:
    months = _periods(_run(tiny_orders, ["mau"], {"period": "month"}).results)
    assert {p: r.value for p, r in months.items()} == {
        "2024-01": 2,
        "2024-02": 2,
        "2024-03": 1,
        "2024-05": 1,
    }
    assert months["2024-02"].detail["months"] == 1
    assert months["2024-02"].change == 0


def test_mau_per_quarter_averages_its_months(tiny_orders: Path) -> None:
    quarters = _periods(_run(tiny_orders, ["mau"], {"period": "quarter"}).results)
    assert quarters["2024-Q1"].value == pytest.approx(5 / 3)
    assert quarters["2024-Q1"].detail["latest_month"] == "2024-03"
    assert quarters["2024-Q1"].n == 3
    assert quarters["2024-Q2"].value == pytest.approx(0.5)
    assert quarters["2024-Q2"].detail["months"] == 2


def test_mau_per_segment_counts_months_without_orders_as_zero(tiny_orders: Path) -> None:
    channels = _segments(_run(tiny_orders, ["mau"], {"by": ["channel"]}).results)
    assert channels["web"].value == pytest.approx(1.0)
    assert channels["app"].value == pytest.approx(0.4)


def test_mau_for_a_period_shorter_than_a_month_counts_the_period(tiny_orders: Path) -> None:
    weeks = _periods(_run(tiny_orders, ["mau"], {"period": "week"}).results)
    assert weeks["2024-W05"].value == 2
    assert weeks["2024-W05"].detail["months"] is None
    assert "shorter than a month" in weeks["2024-W05"].detail["rule"]


def test_wau_puts_each_whole_week_in_the_month_of_its_thursday(tiny_orders: Path) -> None:
    results = _run(tiny_orders, ["wau"], {"period": "month"}).results
    assert _overall(results).value == pytest.approx(7 / 18)
    assert _overall(results).detail["weeks"] == 18
    months = _periods(results)
    assert {p: (r.value, r.detail["weeks"]) for p, r in months.items()} == {
        "2024-01": (pytest.approx(0.5), 4),
        "2024-02": (pytest.approx(0.6), 5),
        "2024-03": (pytest.approx(0.25), 4),
        "2024-05": (pytest.approx(1.0), 1),
    }
    assert months["2024-02"].detail["latest_week"] == "2024-W09"


def test_dau_averages_every_calendar_day_in_range(tiny_orders: Path) -> None:
    results = _run(tiny_orders, ["dau"], {"period": "month"}).results
    assert _overall(results).value == pytest.approx(7 / 121)
    assert _overall(results).detail["days"] == 121
    assert _overall(results).detail["latest_day"] == "2024-05-02"
    assert {p: r.value for p, r in _periods(results).items()} == {
        "2024-01": pytest.approx(3 / 29),
        "2024-02": pytest.approx(2 / 29),
        "2024-03": pytest.approx(1 / 31),
        "2024-05": pytest.approx(1 / 2),
    }


def test_mau_rolling_30d_reaches_back_into_the_previous_month(tiny_orders: Path) -> None:
    kpis = [{"kpi": "mau", "variant": "rolling_30d"}]
    results = _run(tiny_orders, kpis, {"period": "month"}).results
    overall = _overall(results)
    assert (overall.value, overall.n) == (1, 1)
    assert overall.detail["window_start"] == "2024-04-03"
    assert overall.detail["window_end"] == "2024-05-02"
    months = _periods(results)
    assert {p: r.value for p, r in months.items()} == {
        "2024-01": 2,
        "2024-02": 3,
        "2024-03": 1,
        "2024-05": 1,
    }
    assert months["2024-01"].detail["window_complete"] is False
    assert months["2024-02"].detail["window_complete"] is True
    assert months["2024-05"].detail["window_end"] == "2024-05-02"


def test_mau_rolling_28d_and_wau_rolling_7d(tiny_orders: Path) -> None:
    kpis = [{"kpi": "mau", "variant": "rolling_28d"}, {"kpi": "wau", "variant": "rolling_7d"}]
    results = _run(tiny_orders, kpis, {"period": "month"}).results
    mau = [r for r in results if r.kpi == "mau"]
    assert _periods(tuple(mau))["2024-02"].value == 1  # Feb 2 - Feb 29: only a
    assert _overall(results, "wau").value == 1
    assert _overall(results, "wau").detail["window_start"] == "2024-04-26"


def test_mau_rolling_by_channel_reports_zero_for_a_quiet_segment(tiny_orders: Path) -> None:
    kpis = [{"kpi": "mau", "variant": "rolling_30d"}]
    channels = _segments(_run(tiny_orders, kpis, {"by": ["channel"]}).results)
    assert (channels["web"].value, channels["app"].value) == (1, 0)


def test_rolling_window_sees_orders_before_since(tiny_orders: Path) -> None:
    kpis = ["mau", {"kpi": "mau", "variant": "rolling_30d", "label": "mau_30d"}]
    options = {"period": "month", "since": dt.date(2024, 2, 1), "until": dt.date(2024, 2, 29)}
    results = _run(tiny_orders, kpis, options).results
    february = {r.variant: r.value for r in results if r.period == "2024-02" and not r.segment}
    assert february == {"calendar": 2, "rolling_30d": 3}  # b's Jan 31 order is history
    assert {r.period for r in results if r.period} == {"2024-02"}


def test_dau_has_no_rolling_variant(tiny_orders: Path) -> None:
    with pytest.raises(ConfigError, match="variant"):
        parse_config(orders_config(tiny_orders, [{"kpi": "dau", "variant": "rolling_30d"}]))


def test_active_customer_kpis_say_why_they_have_no_interval() -> None:
    for name in ("mau", "wau", "dau"):
        definition = get(name)
        assert definition.unit == "count"
        assert definition.higher_is_better
        assert definition.interval.startswith("none")


def test_results_do_not_depend_on_batch_size(tiny_orders: Path) -> None:
    rolling = {"kpi": "mau", "variant": "rolling_30d", "label": "mau_30d"}
    kpis = ["aov", "repeat_rate", "mau", "wau", "dau", rolling]
    options = {"period": "month", "by": ["channel"]}
    whole = _run(tiny_orders, kpis, options).results
    chunked = _run(tiny_orders, kpis, {**options, "batch_bytes": 64}).results

    def rounded(rows: tuple[Result, ...]) -> list[tuple[Any, ...]]:
        return [(r.kpi, r.variant, r.period, r.segment, round(r.value, 9), r.n) for r in rows]

    assert len(whole) > 50
    assert rounded(chunked) == rounded(whole)


def test_kpis_that_share_figures_give_what_each_gives_alone(tiny_orders: Path) -> None:
    """Repeat rate and the active-customer KPIs share per-group counts (`Context.shared`):
    run together, over two group sets and inside a --since window, each must give its own
    figures. (Jan 31 is in the window for the rolling windows only: 2024-02-01 onward.)"""
    rolling = {"kpi": "mau", "variant": "rolling_30d", "label": "mau_30d"}
    kpis = ["repeat_rate", "mau", "wau", "dau", rolling]
    options = {"period": "month", "by": ["channel"], "since": dt.date(2024, 2, 1)}

    def figures(rows: tuple[Result, ...]) -> list[tuple[Any, ...]]:
        return [(r.label, r.period, r.segment, r.value, r.n, dict(r.detail)) for r in rows]

    together = figures(_run(tiny_orders, kpis, options).results)
    alone = [row for kpi in kpis for row in figures(_run(tiny_orders, [kpi], options).results)]
    assert sorted(together, key=repr) == sorted(alone, key=repr)
    feb = {r[0]: r for r in together if r[1] == "2024-02" and not r[2]}
    assert (feb["repeat_rate"][3], feb["repeat_rate"][4]) == (0.0, 2)  # c, a: one order each
    assert (feb["mau"][3], feb["mau_30d"][3]) == (2, 3)  # {c, a}; {b, c, a} reaching into Jan


def test_shared_figures_are_computed_once_per_rows_and_key() -> None:
    import pandas as pd

    from cx_cli.kpis.base import Shared

    shared, calls = Shared(), Counter()

    def compute(name: str) -> str:
        calls[name] += 1
        return name

    rows, other = pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [1]})
    assert shared.get(rows, "a", lambda: compute("a")) == "a"
    assert shared.get(rows, "a", lambda: compute("never")) == "a"
    assert shared.get(rows, "b", lambda: compute("b")) == "b"
    assert shared.get(other, "a", lambda: compute("other a")) == "other a"
    assert calls == {"a": 1, "b": 1, "other a": 1}


# -- properties ---------------------------------------------------------------------------------

START = dt.datetime(2024, 1, 1)
order_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", ""]),  # customer; "" is a guest
        st.integers(0, 150),  # day offset: about five months
        st.integers(1, 50_000),  # amount in cents
        st.integers(1, 3),  # lines
    ),
    min_size=1,
    max_size=30,
)


def _write_orders(folder: Path, orders: list[tuple[str, int, int, int]]) -> Path:
    """One order per tuple, its amount split over its lines (the last line takes the rest)."""
    rows = []
    for number, (customer, day, cents, lines) in enumerate(orders):
        when = (START + dt.timedelta(days=day, hours=number % 24)).strftime("%Y-%m-%d %H:%M")
        share = cents // lines
        for line in range(lines):
            part = share if line < lines - 1 else cents - share * (lines - 1)
            rows.append(
                (f"O{number}", line, when, customer, 1, part / 100, part / 100, "paid", "x")
            )
    return write_csv(folder / "orders.csv", rows, HEADER)


def _months_between(first: dt.date, last: dt.date) -> list[tuple[int, int]]:
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + month // 12, month % 12 + 1)
    return months


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_strategy)
def test_active_counts_match_a_brute_force_count(orders: list[tuple[str, int, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write_orders(Path(folder), orders)
        kpis = ["mau", "dau", {"kpi": "mau", "variant": "rolling_30d", "label": "mau_30d"}]
        results = _run(path, kpis, {"period": "month"}, filters=[]).results
    days = [(START + dt.timedelta(days=day)).date() for _, day, _, _ in orders]
    first, last = min(days), max(days)
    named = [(c, d) for (c, *_), d in zip(orders, days, strict=True) if c]
    per_month = {
        m: {c for c, d in named if (d.year, d.month) == m} for m in _months_between(first, last)
    }
    calendar = [r for r in results if r.kpi == "mau" and r.variant == "calendar"]
    assert _overall(calendar).value == pytest.approx(
        sum(map(len, per_month.values())) / len(per_month)
    )
    for r in calendar:
        if r.period:
            year, month = map(int, r.period.split("-"))
            assert r.value == len(per_month[(year, month)])
    rolling = _overall([r for r in results if r.variant == "rolling_30d"])
    assert rolling.value == len({c for c, d in named if (last - d).days < 30})
    span = (last - first).days + 1
    assert _overall([r for r in results if r.kpi == "dau"]).value == pytest.approx(
        len(set(named)) / span
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_strategy)
def test_aov_and_repeat_rate_invariants(orders: list[tuple[str, int, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write_orders(Path(folder), orders)
        results = _run(path, ["aov", "repeat_rate"], {"period": "month"}, filters=[]).results
    aov = [r for r in results if r.kpi == "aov"]
    overall = _overall(aov)
    assert overall.n == len(orders)
    assert overall.value == pytest.approx(sum(c for _, _, c, _ in orders) / 100 / len(orders))
    months = [r for r in aov if r.period]
    assert overall.value == pytest.approx(sum(r.value * r.n for r in months) / overall.n)
    repeat = [r for r in results if r.kpi == "repeat_rate"]
    counts = Counter(c for c, *_ in orders if c)
    whole = _overall(repeat)
    assert whole.n == len(counts)
    assert whole.detail["repeat_customers"] == sum(1 for k in counts.values() if k >= 2)
    for r in repeat:
        if r.value is not None:
            assert 0 <= r.value <= 100
            assert r.detail["repeat_customers"] <= whole.detail["repeat_customers"]


# -- the bundled sample, computed a second way --------------------------------------------------


def sample_config() -> dict[str, Any]:
    """The config snippet that wires sample_data/orders.csv into config.example.yaml."""
    return {
        "version": 1,
        "sources": {
            "orders": {
                "kind": "orders",
                "path": str(SAMPLE),
                "columns": {
                    "order_id": "Order ID",
                    "customer_id": "Customer ID",
                    "ordered_at": "Ordered At",
                    "amount": "Line Total",
                    "status": "Status",
                },
                "segments": {"channel": "Channel", "country": "Country"},
                "order_total": "sum",
                "filters": STATUS_FILTER,
            }
        },
        "kpis": [
            "aov",
            "repeat_rate",
            "mau",
            {"kpi": "mau", "variant": "rolling_30d", "label": "mau_rolling_30d"},
            "wau",
            "dau",
        ],
        "report": {"period": "quarter"},
    }


def _sample_orders() -> dict[str, dict[str, Any]]:
    """Kept lines folded into orders with a plain loop: total, earliest time, customer."""
    orders: dict[str, dict[str, Any]] = {}
    with SAMPLE.open(encoding="utf-8", newline="") as stream:
        for line in csv.DictReader(stream):
            if line["Status"] in ("refunded", "cancelled"):
                continue
            order = orders.setdefault(
                line["Order ID"], {"total": 0.0, "when": line["Ordered At"], "customer": ""}
            )
            order["total"] += float(line["Line Total"])
            order["when"] = min(order["when"], line["Ordered At"])
            order["customer"] = order["customer"] or line["Customer ID"].strip()
    return orders


def test_sample_matches_a_plain_python_count() -> None:
    results = run(parse_config(sample_config())).results
    orders = list(_sample_orders().values())
    assert 2000 < len(orders) < 3000

    aov = _overall(results, "aov")
    assert aov.n == len(orders)
    assert aov.value == pytest.approx(sum(o["total"] for o in orders) / len(orders))

    def quarter(order: dict[str, Any]) -> str:
        return f"{order['when'][:4]}-Q{(int(order['when'][5:7]) - 1) // 3 + 1}"

    per_quarter: dict[str, Counter[str]] = defaultdict(Counter)
    for o in orders:
        if o["customer"]:
            per_quarter[quarter(o)][o["customer"]] += 1
    repeat = {r.period: r for r in results if r.kpi == "repeat_rate" and not r.segment}
    for label, counts in per_quarter.items():
        repeaters = sum(1 for k in counts.values() if k >= 2)
        assert repeat[label].value == pytest.approx(100 * repeaters / len(counts))
    everyone = Counter(o["customer"] for o in orders if o["customer"])
    assert repeat[None].n == len(everyone)
    assert repeat[None].value == pytest.approx(
        100 * sum(1 for k in everyone.values() if k >= 2) / len(everyone)
    )
    assert repeat[None].detail["orders_without_customer"] == sum(
        1 for o in orders if not o["customer"]
    )

    named = [
        (o["customer"], dt.date.fromisoformat(o["when"][:10])) for o in orders if o["customer"]
    ]
    all_days = [dt.date.fromisoformat(o["when"][:10]) for o in orders]
    first, last = min(all_days), max(all_days)
    months = _months_between(first, last)
    monthly = [len({c for c, d in named if (d.year, d.month) == m}) for m in months]
    mau = [r for r in results if r.kpi == "mau" and r.variant == "calendar"]
    assert _overall(mau).value == pytest.approx(sum(monthly) / len(monthly))
    assert _overall(mau).detail["latest_month_actives"] == monthly[-1]
    q4 = [n for m, n in zip(months, monthly, strict=True) if m[0] == 2025 and m[1] >= 10]
    assert _periods(tuple(mau))["2025-Q4"].value == pytest.approx(sum(q4) / 3)

    rolling = _overall([r for r in results if r.variant == "rolling_30d"])
    assert rolling.value == len({c for c, d in named if 0 <= (last - d).days < 30})

    def monday(day: dt.date) -> dt.date:
        return day - dt.timedelta(days=day.weekday())

    mondays = {monday(d) for _, d in named}
    weeks = (monday(last) - monday(first)).days // 7 + 1
    weekly = sum(len({c for c, d in named if monday(d) == m}) for m in mondays)
    assert _overall(results, "wau").value == pytest.approx(weekly / weeks)

    span = (last - first).days + 1
    assert _overall(results, "dau").value == pytest.approx(len(set(named)) / span)


def test_the_window_is_filtered_once_per_run() -> None:
    """Every rolling KPI and group set asks for the rows inside --since/--until; one copy is
    made per run (a copy each kept 2.6x the memory alive through `Context.shared`)."""
    import pandas as pd

    from cx_cli.kpis.base import Context
    from cx_cli.kpis.commerce import _in_window
    from cx_cli.sources import IN_WINDOW

    rows = pd.DataFrame({"customer_id": ["a", "b", "c"], IN_WINDOW: [True, False, True]})
    ctx = Context()
    inside = _in_window(rows, ctx)
    assert list(inside["customer_id"]) == ["a", "c"]
    assert _in_window(rows, ctx) is inside
    every = rows.assign(**{IN_WINDOW: True})
    assert _in_window(every, ctx) is every


def test_whole_rows_kpis_keep_only_the_columns_they_read(
    tiny_orders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows kept for repeat rate (to the end of the read, and sent back by Dask's workers)
    carry its fields, the group keys and the time field (which orders a unit's rows, see
    test_conversion_rate_from_pageview_rows_groups_sessions), not the amount or line counts
    only AOV reads."""
    import cx_cli.analysis as analysis

    kept: list[set[str]] = []
    settle = analysis.settle_scan

    def spy(found: analysis.Scan, *args: Any) -> Any:
        kept.extend(set(frame.columns) for frame in found.kept)
        return settle(found, *args)

    monkeypatch.setattr(analysis, "settle_scan", spy)
    config = parse_config(orders_config(tiny_orders, ["aov", "repeat_rate"]))
    result = run(config, period="month", by=("channel",))
    assert kept == [{"_all", "_period", "seg:channel", "order_id", "customer_id", "ordered_at"}]
    (overall,) = [
        r for r in result.results if r.kpi == "repeat_rate" and r.period is None and not r.segment
    ]
    # Orders kept: O1 (a), O2 (a), O4 (b), O5 (c), O6 (none), O7 (a), O9 (b), O10 (e):
    # customers a b c e, repeaters a (3) and b (2): 2 / 4 = 50 %
    assert (overall.value, overall.n) == (pytest.approx(50.0), 4)


@pytest.mark.parametrize(
    ("amounts", "low", "high"),
    [
        # 10, 20, 600: mean 210, s^2 = (200^2 + 190^2 + 390^2) / 2 = 114100, t(0.975, 2) =
        # 4.30265, half-width 4.30265 * 337.787 / sqrt(3) = 839.11 -> [-629.11, 1049.11]; no
        # order is negative, so the lower end is clipped at 0.
        (["10", "20", "600"], 0.0, 1049.11),
        # A refund kept as an order (-30): not clipped (worked below).
        (["-30", "20", "610"], None, None),
    ],
)
def test_aov_interval_is_clipped_at_zero_only_without_negative_orders(
    tmp_path: Path, amounts: list[str], low: float | None, high: float | None
) -> None:
    rows = [
        (f"O{i}", 1, f"2024-01-0{i}", "a", 1, a, a, "paid", "web") for i, a in enumerate(amounts, 1)
    ]
    path = write_csv(tmp_path / "o.csv", rows, HEADER)
    (row,) = [
        r
        for r in run(parse_config(orders_config(path, ["aov"]))).results
        if r.kpi == "aov" and r.period is None and not r.segment
    ]
    if low is not None:
        assert (row.ci_low, row.ci_high) == (0.0, pytest.approx(high, abs=0.01))
        assert row.detail["negative_orders"] == 0
    else:
        # -30, 20, 610: mean 200, s^2 = (230^2 + 180^2 + 410^2) / 2 = 126700, half-width
        # 4.30265 * 355.950 / sqrt(3) = 884.23 -> [-684.23, 1084.23], kept as it is.
        assert (row.ci_low, row.ci_high) == pytest.approx((-684.23, 1084.23), abs=0.01)
        assert row.detail["negative_orders"] == 1
