"""Whole-rows KPIs tallied on splits of their units add up to the tally of all rows.

This is what lets the Dask engine aggregate per customer on its workers: each whole-rows KPI
names the column that splits its rows into independent units (`Kpi.unit_of`), the facts it
needs of all rows (`Kpi.extent`) and the tally columns that describe a group rather than its
units (`Kpi.group_facts`). Here the rows are split at random, unit by unit, into buckets
(some of them empty), and every KPI's finished sums per group must equal one tally's.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_cli.analysis import (
    GroupSet,
    RunOptions,
    _reader,
    add_extents,
    add_tallies,
    extent_of,
    finish_tallies,
    scan,
    settle,
    staged,
    tally_whole_rows,
    whole_rows_kpis,
)
from cx_cli.cohort import (
    METRICS,
    _cells,
    add_counts,
    cohort_counts,
    cohort_extent,
    matrix_cells,
)
from cx_cli.config import leaves, load_config
from cx_cli.kpis.base import Context
from tests.conftest import write_config, write_csv

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"
# the per-customer and whole-row variants config.example.yaml does not have
EXTRA_KPIS: list[dict[str, Any]] = [
    {"kpi": "nps", "label": "nps_latest", "variant": "latest_per_customer"},
    {"kpi": "mau", "label": "mau_rolling", "variant": "rolling_30d"},
    {"kpi": "wau", "source": "orders"},
    {"kpi": "dau", "source": "orders"},
    {"kpi": "repeat_rate", "label": "repeat", "source": "orders"},
    {"kpi": "retention", "label": "retention_orders", "source": "orders", "inactive_days": 30},
    {
        "kpi": "clv",
        "label": "clv_purchase",
        "source": "orders",
        "method": "purchase",
        "inactive_days": 30,
    },
    {"kpi": "conversion_rate", "label": "conversion_users", "denominator": "users"},
]

# the sources with whole-rows KPIs in the example config (tickets' duration medians stream:
# their counted values are split-tested in test_quantiles.py)
SOURCES = ("orders", "subscriptions", "surveys", "web")
Tables = dict[int, dict[GroupSet, pd.DataFrame]]
Bucket = Callable[[Any], int]


def tallies(
    config_path: Path, source: str, buckets: int, bucket_of: Bucket, **run: Any
) -> tuple[Tables, Tables]:
    """A source's whole-rows KPIs tallied once, and tallied per bucket of their units and
    added up: (split, whole), finished (quantiles taken)."""
    config = load_config(config_path)
    options = RunOptions(**run)
    chosen = settle(config, options)
    mine = [leaf for c in config.kpis for leaf in leaves(c) if leaf.source == source]
    reader = _reader(config, source, mine, chosen, options)
    rows = pd.concat(scan(staged(reader), reader, mine, chosen).kept)
    kind = reader.spec.kind
    whole = whole_rows_kpis(mine)
    assert whole, f"{source}: no whole-rows KPI to split"
    want = finish_tallies(tally_whole_rows(rows, kind, whole, chosen), whole)
    got: Tables = {}
    for i, c in whole:
        unit = c.definition.unit_of(c.options, Context(kind, chosen.period))
        if unit is None:
            labels = pd.Series(0, index=rows.index)
        else:
            labels = rows[unit].map(bucket_of, na_action=None)
        splits = [rows[(labels == b).to_numpy()] for b in range(buckets)]
        extent = {i: add_extents(extent_of(split, c, kind) for split in splits)}
        parts = [tally_whole_rows(split, kind, [(i, c)], chosen, extent) for split in splits]
        got.update(finish_tallies(add_tallies(parts, [(i, c)], chosen), [(i, c)]))
    return got, want


def assert_same_tables(got: Tables, want: Tables) -> None:
    assert got.keys() == want.keys()
    for i, sets in want.items():
        for group_set, table in sets.items():
            mine = got[i][group_set]
            if table.empty and mine.empty:
                continue
            pd.testing.assert_frame_equal(
                mine.sort_index().sort_index(axis=1),
                table.sort_index().sort_index(axis=1),
                check_dtype=False,
                check_index_type=False,
                check_column_type=False,
                check_freq=False,  # a period index may carry MonthBegin or none: same labels
                rtol=1e-9,
                obj=f"KPI #{i} {group_set}",
            )


# -- every whole-rows KPI on the sample data ---------------------------------------------------


@pytest.fixture(scope="module")
def example_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["kpis"] = [*document["kpis"], *copy.deepcopy(EXTRA_KPIS)]
    for spec in document["sources"].values():
        spec["path"] = str(ROOT / spec["path"])
    return write_config(tmp_path_factory.mktemp("splits"), document)


@pytest.mark.parametrize(
    ("source", "period", "by"),
    [(s, p, b) for s in SOURCES for p, b in (("none", ()), ("month", ("channel",)))],
    ids=str,
)
def test_random_splits_of_the_units_add_up_to_one_tally(
    example_config: Path, source: str, period: str, by: tuple[str, ...]
) -> None:
    seeded = random.Random(f"{source}{period}")
    assigned: dict[Any, int] = {}

    def bucket_of(unit: Any) -> int:
        return assigned.setdefault(unit, seeded.randrange(4))

    got, want = tallies(example_config, source, 4, bucket_of, period=period, by=by)
    assert_same_tables(got, want)


# -- orders drawn at random --------------------------------------------------------------------

DAY0 = dt.date(2025, 1, 1)
CUSTOMERS = ["c1", "c2", "c3", "c4", "c5", None]
ORDER_KPIS: list[Any] = [  # the calendar units and windows a bucket could get wrong
    "repeat_rate",
    "wau",
    "dau",
    {"kpi": "mau", "label": "mau_rolling", "variant": "rolling_30d"},
    {"kpi": "wau", "label": "wau_rolling", "variant": "rolling_7d"},
    {"kpi": "retention", "inactive_days": 30},
    {"kpi": "clv", "method": "purchase", "inactive_days": 30},
    {"kpi": "clv", "label": "clv_hist", "method": "historical"},
]


def orders_document(data: Path) -> dict[str, Any]:
    """A config reading `data` (id, customer, when, channel, amount) with ORDER_KPIS."""
    columns = {
        "order_id": "id",
        "customer_id": "customer",
        "ordered_at": "when",
        "amount": "amount",
    }
    return {
        "version": 1,
        "sources": {
            "orders": {
                "kind": "orders",
                "path": str(data),
                "columns": columns,
                "segments": {"channel": "channel"},
            }
        },
        "kpis": ORDER_KPIS,
    }


orders_strategy = st.lists(
    st.tuples(
        st.sampled_from(CUSTOMERS),
        st.integers(0, 120),
        st.sampled_from(["web", "shop"]),
        st.sampled_from([None, 10.0, 24.5, 99.0]),
    ),
    min_size=1,
    max_size=40,
)


@given(
    orders=orders_strategy,
    buckets=st.dictionaries(st.sampled_from(CUSTOMERS), st.integers(0, 2)),
    period=st.sampled_from(["none", "week", "month"]),
    by=st.sampled_from([(), ("channel",)]),
    since=st.sampled_from([None, "2025-02-01"]),
    until=st.sampled_from([None, "2025-03-20"]),
)
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_orders_split_by_customer_at_random_add_up(
    tmp_path: Path,
    orders: Sequence[tuple[Any, ...]],
    buckets: dict[Any, int],
    period: str,
    by: tuple[str, ...],
    since: str | None,
    until: str | None,
) -> None:
    """However customers fall into buckets (one bucket may hold no orders, or hold the first
    or last day alone), the figures are those of one tally: windows, calendar units and
    marker rows come from the extent of all rows, not of a bucket."""
    rows = [
        (n, customer, (DAY0 + dt.timedelta(days=day)).isoformat(), channel, amount)
        for n, (customer, day, channel, amount) in enumerate(orders)
    ]
    data = write_csv(tmp_path / "orders.csv", rows, ["id", "customer", "when", "channel", "amount"])
    path = write_config(tmp_path, orders_document(data))
    since_day = dt.date.fromisoformat(since) if since else None
    until_day = dt.date.fromisoformat(until) if until else None

    def bucket_of(customer: Any) -> int:
        return buckets.get(None if pd.isna(customer) else customer, 0)

    got, want = tallies(
        path, "orders", 3, bucket_of, period=period, by=by, since=since_day, until=until_day
    )
    assert_same_tables(got, want)


EDGE_ORDERS = [  # one order each, by the edges of ISO weeks, months and quarters
    ("c1", "2025-02-27", "web"),  # a Thursday: its week is February's
    ("c2", "2025-03-01", "shop"),  # a Saturday in that same week
    ("c3", "2025-03-31", "web"),
    ("c4", "2025-04-01", "web"),
    ("c5", "2025-06-30", "shop"),
    ("c6", "2025-07-02", "web"),
]


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
@pytest.mark.parametrize("by", [(), ("channel",)], ids=str)
def test_orders_on_either_side_of_period_edges_in_two_buckets_add_up(
    tmp_path: Path, period: str, by: tuple[str, ...]
) -> None:
    """Sparse buckets: customers with one order each, next to a period edge, with the two
    sides of every edge in different buckets, so no bucket sees the other's groups, calendar
    units or windows."""
    rows = [(n, c, day, channel, 10.0) for n, (c, day, channel) in enumerate(EDGE_ORDERS)]
    data = write_csv(tmp_path / "orders.csv", rows, ["id", "customer", "when", "channel", "amount"])
    path = write_config(tmp_path, orders_document(data))
    apart = {c: n % 2 for n, (c, _, _) in enumerate(EDGE_ORDERS)}  # neighbours split up
    got, want = tallies(path, "orders", 2, apart.__getitem__, period=period, by=by)
    assert_same_tables(got, want)


def test_rolling_windows_end_on_the_last_order_before_until_in_every_split(tmp_path: Path) -> None:
    """New-user test 15: orders after --until are read (the windows' history) but the last
    window ends on the last order inside the dates, in one tally and in customer splits alike.
    By hand: the last window ends 2025-02-10 and reaches back to 2025-01-12, so it holds b
    alone (a ordered on 01-10; c on 03-10, after --until)."""
    rows = [
        (1, "a", "2025-01-10", "web", 10.0),
        (2, "b", "2025-02-10", "web", 10.0),
        (3, "c", "2025-03-10", "web", 10.0),
    ]
    data = write_csv(tmp_path / "orders.csv", rows, ["id", "customer", "when", "channel", "amount"])
    document = orders_document(data)
    document["kpis"] = [{"kpi": "mau", "variant": "rolling_30d"}]
    path = write_config(tmp_path, document)
    apart = {"a": 0, "b": 1, "c": 2}.__getitem__
    until = dt.date(2025, 2, 28)
    got, want = tallies(path, "orders", 3, apart, period="none", until=until)
    assert_same_tables(got, want)
    (overall,) = want[0].values()
    assert overall["actives"].tolist() == [1.0]


# -- cohorts -----------------------------------------------------------------------------------


@given(
    orders=orders_strategy,
    buckets=st.dictionaries(st.sampled_from(CUSTOMERS), st.integers(0, 2)),
    period=st.sampled_from(["week", "month"]),
    metric=st.sampled_from(METRICS),
    since=st.sampled_from([None, dt.date(2025, 2, 1)]),
)
@settings(max_examples=40, deadline=None)
def test_cohort_counts_of_customers_split_at_random_add_up(
    orders: Sequence[tuple[Any, ...]],
    buckets: dict[Any, int],
    period: str,
    metric: str,
    since: dt.date | None,
) -> None:
    """Cohort counts of disjoint sets of customers, on the calendar of all rows, add up to
    the matrix of all rows: how the Dask engine builds cohorts on its workers."""
    rows = pd.DataFrame(
        {
            "customer_id": pd.Series([c for c, _, _, _ in orders], dtype="string"),
            "ordered_at": pd.to_datetime([DAY0 + dt.timedelta(days=d) for _, d, _, _ in orders]),
            "amount": [a for _, _, _, a in orders],
        }
    )
    want = _cells(rows, "orders", metric, period, since, None)
    labels = rows["customer_id"].map(lambda c: buckets.get(None if pd.isna(c) else c, 0))
    splits = [rows[(labels == b).to_numpy()] for b in range(3)]
    extent = add_extents(cohort_extent(split, "orders") for split in splits)
    counts = [cohort_counts(split, extent, "orders", period, since, None) for split in splits]
    counts.insert(1, cohort_counts(None, extent, "orders", period, since, None))  # no rows
    total = functools.reduce(add_counts, counts)
    assert matrix_cells(total, metric, period, since, None, extent) == want
