"""Cohort matrices against tiny inputs worked by hand.

Orders (`ORDERS`; the refunded order is filtered out, the one without a customer left out):
    a 2025-01-05 (10), 2025-03-02 (20)        d 2025-02-03 (50), 2025-04-10 (10)
    b 2025-01-20 (30), 2025-02-11 (5), 2025-03-03 (refunded)
    c 2025-01-28 (40)                         e 2025-02-14 (25), 2025-03-15 (25)
The last date is 2025-04-10, so April is not over: its cells are incomplete.
- Cohort 2025-01 = a b c (3): M0 3/3 = 100 %; M1 (Feb) b -> 33.3 %; M2 (Mar) a -> 33.3 % (b's
  March order was refunded); M3 (Apr) nobody -> 0 %, incomplete (not a drop).
- Cohort 2025-02 = d e (2): M0 100 %; M1 (Mar) e -> 50 %; M2 (Apr) d -> 50 %, incomplete.
- Revenue: 2025-01: M0 10 + 30 + 40 = 80; M1 5 -> 6.25 %; M2 20 -> 25 %; M3 0.
  2025-02: M0 50 + 25 = 75; M1 25 -> 33.3 %; M2 10 -> 13.3 % (incomplete).
- --since 2025-02-01: only cohort 2025-02 (d e); b's February order does not make b new.

Subscriptions (`SUBS`; active in month k = running at its end, i.e. start < end-of-month <= end):
    A 2025-01-10 -> 2025-02-15 (10)    C 2025-02-05 -> 2025-03-01 (30)
    B 2025-01-20 -> open       (20)    D 2025-02-10 -> open       (40)
    E 2025-01-25 -> 2025-01-28  (5)
The last date is 2025-03-01 (C's end), so March is measured at 2025-03-02 and is incomplete.
- Cohort 2025-01 = A B E (3): M0 A B (E ended within January) -> 66.7 %; M1 B -> 33.3 %;
  M2 B -> 33.3 %, incomplete. MRR at month ends: 30, 20, 20 -> 100, 66.7, 66.7 %.
- Cohort 2025-02 = C D (2): M0 C (ends Mar 1, so running just before it) D -> 100 %; M1 D -> 50 %,
  incomplete. MRR 70, 40 -> 100, 57.1 %.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cx_cli.cohort import CohortCell, Cohorts, _cells, cohort_matrix
from cx_cli.config import parse_config
from cx_cli.errors import ConfigError
from cx_cli.render.cohort import render_cohorts
from tests.conftest import write_csv

ORDER_HEADER = ["order", "customer", "when", "amount", "status"]
ORDERS = [
    ("o1", "a", "2025-01-05", 10, "paid"),
    ("o2", "b", "2025-01-20", 30, "paid"),
    ("o3", "c", "2025-01-28", 40, "paid"),
    ("o4", "d", "2025-02-03", 50, "paid"),
    ("o5", "b", "2025-02-11", 5, "paid"),
    ("o6", "e", "2025-02-14", 25, "paid"),
    ("o7", "a", "2025-03-02", 20, "paid"),
    ("o8", "b", "2025-03-03", 99, "refunded"),
    ("o9", "e", "2025-03-15", 25, "paid"),
    ("o10", "d", "2025-04-10", 10, "paid"),
    ("o11", None, "2025-01-07", 99, "paid"),
]
SUB_HEADER = ["customer", "start", "end", "mrr"]
SUBS = [
    ("A", "2025-01-10", "2025-02-15", 10),
    ("B", "2025-01-20", None, 20),
    ("E", "2025-01-25", "2025-01-28", 5),
    ("C", "2025-02-05", "2025-03-01", 30),
    ("D", "2025-02-10", None, 40),
]


def _orders_document(path: Path) -> dict[str, Any]:
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
                    "status": "status",
                },
                "filters": [{"field": "status", "not_in": ["refunded"]}],
            }
        },
        "kpis": [{"kpi": "churn", "inactive_days": 90}],
    }


def _subs_document(path: Path) -> dict[str, Any]:
    columns = {"customer_id": "customer", "started_at": "start", "ended_at": "end", "mrr": "mrr"}
    return {
        "version": 1,
        "sources": {"subs": {"kind": "subscriptions", "path": str(path), "columns": columns}},
        "kpis": ["churn"],
    }


@pytest.fixture
def orders_config(tmp_path: Path) -> Any:
    return parse_config(_orders_document(write_csv(tmp_path / "o.csv", ORDERS, ORDER_HEADER)))


@pytest.fixture
def subs_config(tmp_path: Path) -> Any:
    return parse_config(_subs_document(write_csv(tmp_path / "s.csv", SUBS, SUB_HEADER)))


def _grid(cohorts: Cohorts) -> dict[tuple[str, int], CohortCell]:
    return {(c.cohort, c.offset): c for c in cohorts.cells}


def test_order_cohorts_have_hand_counted_sizes_and_cells(orders_config: Any) -> None:
    cohorts = cohort_matrix(orders_config)
    assert cohorts.sizes() == {"2025-01": 3, "2025-02": 2}
    grid = _grid(cohorts)
    assert sorted(grid) == [
        ("2025-01", 0),
        ("2025-01", 1),
        ("2025-01", 2),
        ("2025-01", 3),
        ("2025-02", 0),
        ("2025-02", 1),
        ("2025-02", 2),
    ]
    assert grid["2025-01", 0].value == pytest.approx(100.0)
    assert (grid["2025-01", 1].active, grid["2025-01", 1].value) == (1, pytest.approx(100 / 3))
    assert (grid["2025-01", 2].active, grid["2025-01", 2].value) == (1, pytest.approx(100 / 3))
    assert grid["2025-02", 1].value == pytest.approx(50.0)
    assert cohorts.as_of == "2025-04-10"
    assert cohorts.ignored_rows == 1


def test_cells_of_a_month_not_over_are_incomplete_not_drops(orders_config: Any) -> None:
    grid = _grid(cohort_matrix(orders_config))
    assert grid["2025-01", 3].complete is False
    assert grid["2025-01", 3].value == pytest.approx(0.0)
    assert grid["2025-02", 2].complete is False
    assert grid["2025-02", 2].value == pytest.approx(50.0)
    assert all(grid[k].complete for k in grid if k not in {("2025-01", 3), ("2025-02", 2)})


def test_until_ends_the_data_at_a_month_end_so_every_cell_is_complete(orders_config: Any) -> None:
    cohorts = cohort_matrix(orders_config, until=dt.date(2025, 3, 31))
    assert max(c.offset for c in cohorts.cells) == 2
    assert all(c.complete for c in cohorts.cells)
    assert cohorts.as_of == "2025-03-31"


def test_since_keeps_earlier_customers_out_of_later_cohorts(orders_config: Any) -> None:
    cohorts = cohort_matrix(orders_config, since=dt.date(2025, 2, 1))
    assert cohorts.sizes() == {"2025-02": 2}
    assert cohorts.inputs[0].rows_history_only == 4  # o1 o2 o3 o11, before February


@pytest.mark.parametrize(
    ("since", "period", "sizes"),
    [
        (dt.date(2025, 2, 10), "month", {"2025-02": 1}),  # d (first order 3 Feb) is out
        (dt.date(2025, 2, 4), "week", {"2025-W07": 1}),  # a Tuesday: d (Monday 3 Feb) is out
    ],
)
def test_since_inside_a_period_keeps_customers_who_first_bought_before_it_out(
    orders_config: Any, since: dt.date, period: str, sizes: dict[str, int]
) -> None:
    """--since bounds the customers' first dates, not the first period's start."""
    assert cohort_matrix(orders_config, since=since, period=period).sizes() == sizes


def test_revenue_cohorts_divide_by_the_first_month(orders_config: Any) -> None:
    grid = _grid(cohort_matrix(orders_config, metric="revenue"))
    assert grid["2025-01", 0].revenue == pytest.approx(80.0)
    assert grid["2025-01", 1].value == pytest.approx(100 * 5 / 80)
    assert grid["2025-01", 2].value == pytest.approx(100 * 20 / 80)
    assert grid["2025-02", 1].value == pytest.approx(100 * 25 / 75)
    assert grid["2025-02", 2].value == pytest.approx(100 * 10 / 75)


def test_subscription_cohorts_count_customers_running_at_each_month_end(subs_config: Any) -> None:
    cohorts = cohort_matrix(subs_config)
    assert cohorts.sizes() == {"2025-01": 3, "2025-02": 2}
    grid = _grid(cohorts)
    assert grid["2025-01", 0].value == pytest.approx(200 / 3)  # E ended within January
    assert grid["2025-01", 1].value == pytest.approx(100 / 3)
    assert (grid["2025-01", 2].value, grid["2025-01", 2].complete) == (
        pytest.approx(100 / 3),
        False,
    )
    assert grid["2025-02", 0].value == pytest.approx(100.0)
    assert (grid["2025-02", 1].active, grid["2025-02", 1].complete) == (1, False)


def test_subscription_revenue_cohorts_use_mrr_at_month_ends(subs_config: Any) -> None:
    grid = _grid(cohort_matrix(subs_config, metric="revenue"))
    assert [grid["2025-01", k].revenue for k in range(3)] == pytest.approx([30, 20, 20])
    assert grid["2025-01", 1].value == pytest.approx(200 / 3)
    assert grid["2025-02", 1].value == pytest.approx(400 / 7)


# -- errors ------------------------------------------------------------------------------------


def test_revenue_without_an_amount_field_is_a_config_error(tmp_path: Path) -> None:
    document = _orders_document(write_csv(tmp_path / "o.csv", ORDERS, ORDER_HEADER))
    del document["sources"]["orders"]["columns"]["amount"]
    with pytest.raises(ConfigError, match="need field 'amount'"):
        cohort_matrix(parse_config(document), metric="revenue")


def test_source_choice_errors_name_the_sources(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ORDERS, ORDER_HEADER)
    document = _orders_document(path)
    document["sources"]["more"] = dict(document["sources"]["orders"])
    document["kpis"] = [{"kpi": "churn", "inactive_days": 90, "source": "orders"}]
    config = parse_config(document)
    with pytest.raises(ConfigError, match="several sources fit"):
        cohort_matrix(config)
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        cohort_matrix(config, "nope")
    assert cohort_matrix(config, "more").source == "more"
    with pytest.raises(ConfigError, match="metric"):
        cohort_matrix(config, "orders", metric="profit")


def test_inputs_override_the_source_path(orders_config: Any, tmp_path: Path) -> None:
    other = write_csv(tmp_path / "other.csv", ORDERS[:3], ORDER_HEADER)
    cohorts = cohort_matrix(orders_config, inputs={"orders": str(other)})
    assert cohorts.sizes() == {"2025-01": 3}


# -- rendering ---------------------------------------------------------------------------------


def test_json_is_the_long_form_with_row_accounting(orders_config: Any) -> None:
    document = json.loads(render_cohorts(cohort_matrix(orders_config), "json"))
    assert document["schema_version"] == 1
    assert document["metric"] == "customers"
    first = document["cells"][0]
    assert first == {
        "cohort": "2025-01",
        "months_since_first": 0,
        "customers": 3,
        "active": 3,
        "revenue": None,
        "value": 100.0,
        "complete": True,
    }
    (accounting,) = document["inputs"]
    assert accounting["rows_read"] == 11
    assert accounting["rows_dropped"] == {"filter status not_in ['refunded']": 1}


def test_csv_is_the_same_long_form_and_neutralises_formulas(orders_config: Any) -> None:
    cohorts = cohort_matrix(orders_config)
    rows = list(csv.DictReader(io.StringIO(render_cohorts(cohorts, "csv"))))
    assert len(rows) == 7
    assert rows[3] == {
        "cohort": "2025-01",
        "months_since_first": "3",
        "customers": "3",
        "active": "0",
        "revenue": "",
        "value": "0.0",
        "complete": "false",
    }
    hostile = Cohorts(
        **{**cohorts.__dict__, "cells": (CohortCell("=1+2", 0, 1, 1, None, 100.0, True),)}
    )
    assert "'=1+2" in render_cohorts(hostile, "csv")


def test_table_marks_incomplete_cells_and_explains_them(orders_config: Any) -> None:
    text = render_cohorts(cohort_matrix(orders_config), "table")
    assert "Cohort" in text and "M3" in text
    assert "0.0…" in text and "50.0…" in text
    assert "not a drop" in text
    assert "1 filter status not_in ['refunded']" in text
    complete = cohort_matrix(orders_config)
    complete = Cohorts(
        **{**complete.__dict__, "cells": tuple(replace(c, complete=True) for c in complete.cells)}
    )
    assert "not a drop" not in render_cohorts(complete, "table")  # no incomplete cell: no legend


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 200), st.floats(0, 100)),
        min_size=1,
        max_size=40,
    )
)
def test_order_cohort_invariants(orders: list[tuple[int, int, float]]) -> None:
    """M0 is 100 %; 0 <= active <= size; sizes add up to the customers; only the last month is
    incomplete."""
    import pandas as pd

    base = dt.datetime(2025, 1, 1)
    rows = pd.DataFrame(
        {
            "customer_id": [f"c{c}" for c, _, _ in orders],
            "ordered_at": pd.to_datetime([base + dt.timedelta(days=d) for _, d, _ in orders]),
            "amount": [a for _, _, a in orders],
        }
    )
    cells, as_of, _ = _cells(rows, "orders", "customers", "month", None, None)
    assert all(c.value == 100.0 for c in cells if c.offset == 0)
    assert all(0 <= c.active <= c.customers for c in cells)
    sizes = {c.cohort: c.customers for c in cells if c.offset == 0}
    assert sum(sizes.values()) == len({c for c, _, _ in orders})
    last_month = as_of[:7] if as_of else None
    for c in cells:
        year, month = map(int, c.cohort.split("-"))
        month0 = year * 12 + month - 1 + c.offset
        label = f"{month0 // 12}-{month0 % 12 + 1:02d}"
        if not c.complete:
            assert label == last_month


def test_the_long_form_names_the_revenue_currency_the_source_names(tmp_path: Path) -> None:
    """cells[].revenue is money: its code is the source's currency:, null without one."""
    from cx_cli.render.cohort import cohorts_document

    document = _orders_document(write_csv(tmp_path / "o.csv", ORDERS, ORDER_HEADER))
    plain = cohorts_document(cohort_matrix(parse_config(document), metric="revenue"))
    assert plain["currency"] is None
    document["sources"]["orders"]["currency"] = "EUR"
    named = cohorts_document(cohort_matrix(parse_config(document), metric="revenue"))
    assert named["currency"] == "EUR"
    assert named["cells"] == plain["cells"]
