"""Cohort retention: customers grouped by the month of their first order (or subscription start),
and, for every month after it, the share of each cohort still active or its revenue.

    from cx_cli import load_config
    from cx_cli.cohort import cohort_matrix
    from cx_cli.render.cohort import render_cohorts
    print(render_cohorts(cohort_matrix(load_config("cxkpi.yaml")), "table"))

A cell whose calendar month has not fully elapsed by the last date in the data (or by --until) is
kept, marked incomplete, and never shown as a drop. The source is read with the same reader as
`cxkpi report`, so its filters, row accounting and line-item merging apply.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cx_cli.errors import ConfigError
from cx_cli.fields import available

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from cx_cli.config import Config
    from cx_cli.progress import Update
    from cx_cli.report import InputSummary

METRICS = ("customers", "revenue")
COHORT_PERIODS = ("week", "month", "quarter", "year")
KINDS = ("orders", "subscriptions")
DAY_NS = 86_400 * 10**9
OPEN_END = 2**62

DEFINITIONS = {
    ("orders", "customers"): "cohort = the {period} of a customer's first order (orders before "
    "--since included); cell k = % of the cohort with at least one order in the {period} k "
    "{period}s after it",
    ("subscriptions", "customers"): "cohort = the {period} of a customer's first subscription "
    "start; cell k = % of the cohort with a subscription running at the end of the {period} k "
    "{period}s after it (at the last date in the data for a {period} not over), so k = 0 is "
    "below 100 % only when someone started and ended within their first {period}",
    ("orders", "revenue"): "cohort = the {period} of a customer's first order; cell k = the "
    "cohort's revenue in the {period} k {period}s after it / its revenue in its first {period}",
    ("subscriptions", "revenue"): "cohort = the {period} of a customer's first subscription "
    "start; cell k = the cohort's MRR in force at the end of the {period} k {period}s after it "
    "/ its MRR at the end of its first {period} (at the last date in the data for a {period} "
    "not over)",
}


@dataclass(frozen=True)
class CohortCell:
    """One cell of the matrix: a cohort `offset` periods after its first."""

    cohort: str  # the label of the cohort's first period: 2025-01, 2025-Q1, 2025-W02, 2025
    offset: int  # periods since the first (0 = the first)
    customers: int  # the cohort's size
    active: int  # customers of the cohort active in that period
    revenue: float | None  # revenue metric: the cohort's revenue (orders) or MRR (subscriptions)
    value: float | None  # % of the cohort active, or % of the first period's revenue
    complete: bool  # the period had fully elapsed by the last date in the data


@dataclass(frozen=True)
class Cohorts:
    """A cohort matrix in long form, with how it was made and the source's row accounting."""

    source: str
    kind: str
    metric: str
    period: str
    as_of: str | None  # the last day the data (bounded by --until) covers
    since: str | None
    until: str | None
    definition: str
    cells: tuple[CohortCell, ...]
    inputs: tuple[InputSummary, ...]
    ignored_rows: int = 0  # rows without a customer id (or a subscription ending before it starts)
    currency: str | None = None  # the revenue's ISO 4217 code: the source's `currency:`

    @property
    def offset_key(self) -> str:
        """The long form's column for the offset: months_since_first for monthly cohorts."""
        return f"{self.period}s_since_first"

    def sizes(self) -> dict[str, int]:
        """Each cohort's number of customers, in cohort order."""
        return {cell.cohort: cell.customers for cell in self.cells if cell.offset == 0}


def cohort_matrix(
    config: Config,
    source_name: str | None = None,
    *,
    metric: str = "customers",
    period: str = "month",
    inputs: Mapping[str, str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    engine: str = "pandas",
    scheduler: str | None = None,
    progress: Callable[[str], Update | None] | None = None,
) -> Cohorts:
    """The cohort matrix of an orders or subscriptions source of `config`.

    `source_name` may be left out when the config has one such source; `inputs` overrides source
    paths as `--input NAME=PATH` does; `since`/`until` (inclusive) bound the cohorts' first dates
    and the data used (orders and subscriptions before --since still decide who is new).
    `progress` gives the source's read-progress callback, as in `cx_cli.run`.
    """
    from cx_cli.analysis import input_summary, staged
    from cx_cli.sources import SourceReader, Window

    if metric not in METRICS:
        raise ConfigError(f"unknown cohort metric '{metric}'", hint=f"use {' or '.join(METRICS)}")
    if period not in COHORT_PERIODS:
        raise ConfigError(
            f"cohorts by '{period}' are not supported", hint=f"use {', '.join(COHORT_PERIODS)}"
        )
    if since and until and since > until:
        raise ConfigError(f"--since {since} is after --until {until}")
    from cx_cli.dask_engine import check_engine

    check_engine(engine)
    name = _pick_source(config, source_name)
    spec = config.sources[name]
    fields = _fields(spec.kind, metric, spec.columns, name)
    path = (inputs or {}).get(name) or config.source_path(name)
    listed = None
    if engine == "dask":
        from cx_cli import dask_engine

        listed = dask_engine.check_paths(name, path)  # before a cluster is waited for
    reader = SourceReader(
        name,
        spec,
        path,
        fields,
        (),
        Window(since, until),
        keep_history=True,
        progress=progress(name) if progress else None,
        listed=listed,
    )
    import pandas as pd

    kind = spec.kind
    if engine == "pandas":
        frames = list(staged(reader) if kind == "orders" else reader.batches())
        rows = pd.concat(frames, ignore_index=True)
        cells, as_of, ignored = _cells(rows, kind, metric, period, since, until)
    else:
        from cx_cli import dask_engine

        with dask_engine.connected(scheduler) as compute:
            extent, counts = dask_engine.split_tally(
                reader,
                compute,
                "customer_id",
                functools.partial(cohort_extent, kind=kind),
                functools.partial(
                    cohort_counts, kind=kind, period=period, since=since, until=until
                ),
                add_counts,
            )
        cells, as_of, ignored = matrix_cells(counts, metric, period, since, until, extent)
    return Cohorts(
        source=name,
        kind=spec.kind,
        metric=metric,
        period=period,
        as_of=as_of,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        definition=DEFINITIONS[spec.kind, metric].format(period=period),
        cells=tuple(cells),
        inputs=(input_summary(reader),),
        ignored_rows=ignored,
        currency=spec.currency,
    )


def _pick_source(config: Config, chosen: str | None) -> str:
    fitting = [n for n, s in config.sources.items() if s.kind in KINDS]
    if chosen is not None:
        if chosen not in config.sources:
            raise ConfigError(
                f"no source named '{chosen}'", hint=f"sources: {', '.join(config.sources)}"
            )
        if config.sources[chosen].kind not in KINDS:
            raise ConfigError(
                f"cohorts read an orders or subscriptions source, and '{chosen}' is "
                f"{config.sources[chosen].kind}",
                hint=f"sources that fit: {', '.join(fitting) or 'none'}",
            )
        return chosen
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        raise ConfigError(
            "cohorts need a source of kind orders or subscriptions, and the config has none",
            hint="add a source with 'kind: orders' or 'kind: subscriptions'",
        )
    raise ConfigError(
        f"several sources fit cohorts ({', '.join(fitting)})", hint="name the source to use"
    )


def _fields(kind: str, metric: str, columns: Mapping[str, str], source: str) -> tuple[str, ...]:
    if kind == "orders":
        needed = ("customer_id", "ordered_at", *(("amount",) if metric == "revenue" else ()))
        line_items = ("order_id",) if "order_id" in columns else ()
    else:
        needed = (
            "customer_id",
            "started_at",
            "ended_at",
            *(("mrr",) if metric == "revenue" else ()),
        )
        line_items = ()
    provided = available(kind, columns)
    for field in needed:
        if field not in provided:
            raise ConfigError(
                f"cohorts ({metric}) need field '{field}', which source '{source}' does not map",
                hint=f"add '{field}: <column header>' under sources.{source}.columns "
                f"(mapped now: {', '.join(columns) or 'nothing'})",
            )
    return (*needed, *line_items)


# -- the matrix --------------------------------------------------------------------------------


def _ns(values: pd.Series) -> np.ndarray:
    return values.astype("datetime64[ns]").to_numpy().view("int64")


def _midnight_ns(day: dt.date) -> int:
    import pandas as pd

    return int(pd.Timestamp(day).as_unit("ns").value)


def _cells(
    rows: pd.DataFrame,
    kind: str,
    metric: str,
    period: str,
    since: dt.date | None,
    until: dt.date | None,
) -> tuple[list[CohortCell], str | None, int]:
    """The cells, the last day covered and the number of rows left out."""
    extent = cohort_extent(rows, kind)
    counts = cohort_counts(rows, extent, kind, period, since, until)
    return matrix_cells(counts, metric, period, since, until, extent)


@dataclass(frozen=True)
class Calendar:
    """The cohorts' periods: from --since (else the first date in the data) to the horizon,
    the day after the last date in the data (or --until), which a period must reach to be
    complete. A cohort's customers first bought on or after `low` (--since itself, which
    may fall inside the first period)."""

    starts: list[pd.Timestamp]
    bounds: np.ndarray  # each period's start, then the end of the last (ns)
    low: int
    horizon: int
    as_of: str  # the last day covered

    @classmethod
    def of(
        cls, extent: tuple[int, int], period: str, since: dt.date | None, until: dt.date | None
    ) -> Calendar:
        """The calendar of data running over `extent` (its first and last dates, in ns)."""
        import numpy as np
        import pandas as pd

        from cx_cli.periods import next_start, period_starts

        first, last = extent
        horizon = (last // DAY_NS + 1) * DAY_NS
        if until:
            horizon = min(horizon, _midnight_ns(until + dt.timedelta(days=1)))
        as_of = (dt.date(1970, 1, 1) + dt.timedelta(days=horizon // DAY_NS - 1)).isoformat()
        low = _midnight_ns(since) if since else first
        if low >= horizon:
            return cls([], np.zeros(1, dtype="int64"), low, horizon, as_of)
        starts = period_starts(pd.Timestamp(low), pd.Timestamp(horizon - 1), period)
        bounds = np.array(
            [int(s.as_unit("ns").value) for s in starts]
            + [int(next_start(starts[-1], period).as_unit("ns").value)],
            dtype="int64",
        )
        return cls(starts, bounds, low, horizon, as_of)


@dataclass(frozen=True)
class CohortCounts:
    """Additive counts behind the matrix, per cohort (an index into `Calendar.starts`) and
    offset: customers in each cohort, those active and their revenue. Counts of disjoint sets
    of customers add up (`add_counts`): how the Dask engine builds the matrix on its workers."""

    sizes: np.ndarray
    active: pd.Series  # (cohort, offset) -> customers active
    revenue: pd.Series  # (cohort, offset) -> revenue (or MRR)
    ignored: int  # rows left out: no customer id, no start, or an end before the start


def _valid(rows: pd.DataFrame, kind: str) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, int]:
    """The rows that count: their customers, starts, ends and values, and how many did not."""
    import numpy as np

    nat = np.iinfo("int64").min
    start = _ns(rows["ordered_at" if kind == "orders" else "started_at"])
    if kind == "orders":
        end = start.copy()
    else:
        end = _ns(rows["ended_at"])
        end = np.where(end == nat, OPEN_END, end)
    value_field = "amount" if kind == "orders" else "mrr"
    values = (
        rows[value_field].to_numpy(dtype="float64", na_value=np.nan)
        if value_field in rows
        else np.zeros(len(rows))
    )
    valid = rows["customer_id"].notna().to_numpy() & (start != nat) & (end >= start)
    customers = rows["customer_id"].to_numpy()[valid]
    return customers, start[valid], end[valid], values[valid], int((~valid).sum())


def cohort_extent(rows: pd.DataFrame | None, kind: str) -> tuple[int, int] | None:
    """The first date of the rows that count and the last (a start, or a subscription's end),
    in ns; None without such rows."""
    if rows is None:
        return None
    _, start, end, _, _ = _valid(rows, kind)
    if not len(start):
        return None
    ended = end[end != OPEN_END]
    return int(start.min()), max(int(start.max()), int(ended.max()) if len(ended) else 0)


def cohort_counts(
    rows: pd.DataFrame | None,
    extent: tuple[int, int] | None,
    kind: str,
    period: str,
    since: dt.date | None,
    until: dt.date | None,
) -> CohortCounts:
    """The counts of `rows` (every row of each of their customers), on the calendar of
    `extent`, the first and last dates of all rows (`cohort_extent`)."""
    import numpy as np
    import pandas as pd

    empty = pd.Series(dtype="float64")
    if rows is None:
        return CohortCounts(np.zeros(0, dtype="int64"), empty, empty, 0)
    customers, start, end, values, ignored = _valid(rows, kind)
    calendar = Calendar.of(extent, period, since, until) if extent else None
    if calendar is None or not calendar.starts:
        return CohortCounts(np.zeros(0, dtype="int64"), empty, empty, ignored)
    codes, uniques = pd.factorize(pd.Series(customers), sort=False)
    first = np.full(len(uniques), np.iinfo("int64").max)
    np.minimum.at(first, codes, start)
    members = (first >= calendar.low) & (first < calendar.horizon)
    cohort_of = np.searchsorted(calendar.bounds, first, side="right") - 1  # per customer
    activity = _activity(kind, codes, start, end, values, calendar.bounds, calendar.horizon)
    activity = activity[members[activity["unit"]]]
    activity["cohort"] = cohort_of[activity["unit"]]
    activity["offset"] = activity["index"] - activity["cohort"]
    activity = activity[activity["offset"] >= 0]
    return CohortCounts(
        np.bincount(cohort_of[members], minlength=len(calendar.starts)),
        activity.groupby(["cohort", "offset"])["unit"].nunique().astype("float64"),
        activity.groupby(["cohort", "offset"])["value"].sum(),
        ignored,
    )


def add_counts(a: CohortCounts, b: CohortCounts) -> CohortCounts:
    """The counts of two disjoint sets of customers (on the same calendar); a set without
    counts (no rows, or none on the calendar) has empty ones, which stand for zeros."""
    sizes = (
        a.sizes + b.sizes if len(a.sizes) and len(b.sizes) else a.sizes if len(a.sizes) else b.sizes
    )
    return CohortCounts(
        sizes,
        _added(a.active, b.active),
        _added(a.revenue, b.revenue),
        a.ignored + b.ignored,
    )


def _added(a: pd.Series, b: pd.Series) -> pd.Series:
    """Two series of counts per (cohort, offset) added; an empty one stands for zeros."""
    if not len(a) or not len(b):
        return a if len(a) else b
    return a.add(b, fill_value=0.0)


def matrix_cells(
    counts: CohortCounts,
    metric: str,
    period: str,
    since: dt.date | None,
    until: dt.date | None,
    extent: tuple[int, int] | None,
) -> tuple[list[CohortCell], str | None, int]:
    """The cells from the counts of every customer, the last day covered, rows left out."""
    import numpy as np

    from cx_cli.periods import period_label

    if extent is None:
        return [], None, counts.ignored
    calendar = Calendar.of(extent, period, since, until)
    sizes, starts, bounds = counts.sizes, calendar.starts, calendar.bounds
    last_index = len(starts) - 1
    cells = []
    for cohort in np.flatnonzero(sizes):
        size = int(sizes[cohort])
        base = float(counts.revenue.get((cohort, 0), 0.0))
        for offset in range(last_index - cohort + 1):
            count = int(counts.active.get((cohort, offset), 0))
            money = None
            if metric == "revenue":
                money = float(counts.revenue.get((cohort, offset), 0.0))
                value = 100.0 * money / base if base > 0 else None
            else:
                value = 100.0 * count / size
            cells.append(
                CohortCell(
                    cohort=period_label(starts[cohort], period),
                    offset=offset,
                    customers=size,
                    active=count,
                    revenue=money,
                    value=value,
                    complete=bool(bounds[cohort + offset + 1] <= calendar.horizon),
                )
            )
    return cells, calendar.as_of, counts.ignored


def _activity(
    kind: str,
    codes: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    values: np.ndarray,
    bounds: np.ndarray,
    horizon: int,
) -> pd.DataFrame:
    """(unit, period index, value) for every period a row makes its customer active in.

    Orders: the order's period and its amount. Subscriptions: every period at whose end (or at
    the horizon, for a period not over) the subscription is running, with its MRR.
    """
    import numpy as np
    import pandas as pd

    amounts = np.where(np.isnan(values), 0.0, values)
    if kind == "orders":
        keep = start < horizon
        return pd.DataFrame(
            {
                "unit": codes[keep],
                "index": np.searchsorted(bounds, start[keep], side="right") - 1,
                "value": amounts[keep],
            }
        )
    keep = (start < horizon) & (end > start)
    first = np.searchsorted(bounds, start[keep], side="right") - 1
    last = np.searchsorted(bounds, np.minimum(end[keep], horizon) - 1, side="right") - 1
    lengths = np.maximum(last - first + 1, 0)
    row = np.repeat(np.arange(len(first)), lengths)
    step = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    index = first[row] + step
    period_end = np.minimum(bounds[index + 1], horizon)
    running = (start[keep][row] < period_end) & (end[keep][row] >= period_end)
    return pd.DataFrame(
        {
            "unit": codes[keep][row][running],
            "index": index[running],
            "value": amounts[keep][row][running],
        }
    )


__all__ = ["METRICS", "CohortCell", "Cohorts", "cohort_matrix"]
