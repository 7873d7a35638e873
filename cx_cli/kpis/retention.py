"""Retention KPIs (sources: subscriptions or orders): churn, retention (CRR) and CLV.

None of them is a sum of per-row contributions: whether a customer was active at the start of a
period depends on all their rows, before --since too. So each one `prepare`s, per group set, one
row per (measured window, customer) from the whole source, plus one marker row per group that
carries the window's dates, and the engine sums those as usual.

Activity, the one rule every figure here uses:
- subscriptions: a subscription covers [started_at, ended_at) (blank ended_at: still running);
  a customer's subscriptions are merged into spells of continuous cover, so an upgrade (one ends,
  the next starts at the same instant or earlier) is not a gap.
- orders: an order at o covers [o, o + inactive_days); merged the same way.
- "active at the start of a window [a, b)" means covered just before a (a spell with start < a <=
  end); "active at the end" means covered just before b. A customer who starts on a is a joiner
  of [a, b); one whose subscription ends on a was active at its start and churned within it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from cx_cli.errors import ConfigError
from cx_cli.kpis.base import (
    ALL,
    PERIOD,
    Context,
    Estimate,
    Kpi,
    Options,
    Sums,
    Tally,
    floored_at_zero,
    kpi,
    mean_estimate,
    proportion_estimate,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SEGMENT_PREFIX = "seg:"  # as cx_cli.sources.SEGMENT_PREFIX
DAY_NS = 86_400 * 10**9
OPEN_END = 2**62  # a spell still running: later than any date the data can hold
DAYS_PER_YEAR = 365.25
SUBSCRIPTION_FIELDS = ("customer_id", "started_at", "ended_at")
ORDER_FIELDS = ("customer_id", "ordered_at")

# Columns of the marker row each group gets (one per group), read back in `estimate`.
MARKER_COLUMNS = ("windows", "window_start", "window_end", "complete", "from_orders", "ignored")
# Those that describe the window, the same in every split of the rows (`Kpi.group_facts`).
MARKER_FACTS = frozenset(MARKER_COLUMNS) - {"ignored"}


# -- windows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """One measured window [start, end) in nanoseconds, and the calendar period it belongs to."""

    period: pd.Timestamp | None  # the calendar period's start; None for the whole window
    start: int
    end: int
    complete: bool  # the whole calendar period (or the whole requested window) was observed


def _ns(day: dt.date) -> int:
    import pandas as pd

    return int(pd.Timestamp(day).as_unit("ns").value)


def spans(first: int, last: int, ctx: Context, by_period: bool) -> list[Span]:
    """The windows to measure: every calendar period, or the whole window as one period.

    The window runs from --since (else the day of the first date in the data) to the end of
    --until or of the day of the last date in the data, whichever is earlier. Periods are clipped
    to it; a clipped period (one the data ends inside, or cut by --since/--until) is incomplete.
    """
    import pandas as pd

    from cx_cli.periods import next_start, period_starts

    data_end = (last // DAY_NS + 1) * DAY_NS
    low = _ns(ctx.since) if ctx.since else first // DAY_NS * DAY_NS
    until_end = _ns(ctx.until + dt.timedelta(days=1)) if ctx.until else None
    high = min(data_end, until_end) if until_end is not None else data_end
    if low >= high:
        return []
    if not by_period or not ctx.period:
        return [Span(None, low, high, until_end is None or high == until_end)]
    out = []
    for start in period_starts(pd.Timestamp(low), pd.Timestamp(high - 1), ctx.period):
        calendar_start = int(start.as_unit("ns").value)
        calendar_end = int(next_start(start, ctx.period).as_unit("ns").value)
        a, b = max(calendar_start, low), min(calendar_end, high)
        out.append(Span(start, a, b, a == calendar_start and b == calendar_end))
    return out


def months_between(start: dt.date, end: dt.date) -> float:
    """Length of [start, end) in months: whole calendar months, then days * 12 / 365.25."""
    whole = (end.year - start.year) * 12 + end.month - start.month
    while whole > 0 and _add_months(start, whole) > end:
        whole -= 1
    whole = max(whole, 0)
    rest = (end - _add_months(start, whole)).days
    return whole + rest * 12 / DAYS_PER_YEAR


def _add_months(day: dt.date, months: int) -> dt.date:
    import calendar

    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def rescale(rate: float, months: float, to_months: float) -> float:
    """A churn rate over `months` as the rate over `to_months`, at a constant hazard."""
    return 1.0 - (1.0 - rate) ** (to_months / months)


# -- customers' activity -----------------------------------------------------------------------


@dataclass
class Timeline:
    """Every unit's (segment values + customer) spells of activity and its raw rows, as arrays.

    Units are customers within a combination of the group's segment values: in a per-segment
    view a customer who moves from one segment value to another leaves the first and joins the
    second.
    """

    kind: str
    units: pd.DataFrame  # one row per unit: its segment columns
    first: np.ndarray  # each unit's first start (ns)
    spell_unit: np.ndarray
    spell_start: np.ndarray
    spell_end: np.ndarray
    row_unit: np.ndarray
    row_start: np.ndarray
    row_end: np.ndarray
    row_value: np.ndarray | None  # mrr (subscriptions) or amount (orders); NaN when blank
    first_date: int | None
    last_date: int | None
    combos: pd.DataFrame  # segment-value combinations present in the source
    ignored: pd.Series  # rows left out (no customer id, or ended before started), per combo

    @classmethod
    def build(
        cls,
        rows: pd.DataFrame,
        segments: list[str],
        kind: str,
        inactive_days: int | None,
        value: str | None,
    ) -> Timeline:
        import numpy as np
        import pandas as pd

        frame = rows.reset_index(drop=True)
        customer, start, end, dated, valid = _intervals(frame, kind, inactive_days)
        combos = (
            frame[segments].drop_duplicates().reset_index(drop=True)
            if segments
            else pd.DataFrame(index=[0])
        )
        left_out = ~valid & dated
        if segments:
            ignored = frame.loc[left_out, segments].groupby(segments, observed=True).size()
        else:
            ignored = pd.Series([int(left_out.sum())])
        kept = frame[valid]
        start, end = start[valid], end[valid]
        codes, n_units, first_rows = _unit_codes(kept, segments, customer[valid])
        units = kept[segments].iloc[first_rows].reset_index(drop=True)
        spell_unit, spell_start, spell_end, first = _merge_spells(codes, start, end, n_units)
        values = None
        if value is not None:
            values = kept[value].to_numpy(dtype="float64", na_value=np.nan)
        first_date, last_date = _first_last(start, end, kind)
        return cls(
            kind,
            units,
            first,
            spell_unit,
            spell_start,
            spell_end,
            codes,
            start,
            end,
            values,
            first_date,
            last_date,
            combos,
            ignored,
        )

    @property
    def size(self) -> int:
        return len(self.units)

    def _count(self, units: np.ndarray, weights: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.bincount(units, weights=weights, minlength=self.size)

    def measure(self, a: int, b: int) -> dict[str, np.ndarray]:
        """Per unit: active at the start / end of [a, b), joined, churned, returned, exposure."""
        import numpy as np

        s, e, u = self.spell_start, self.spell_end, self.spell_unit
        start_spell = (s < a) & (e >= a)
        at_start = self._count(u, start_spell) > 0
        at_end = self._count(u, (s < b) & (e >= b)) > 0
        joined = (self.first >= a) & (self.first < b)
        if self.kind == "subscriptions":
            churned = self._count(u, start_spell & (e < b)) > 0
        else:
            churned = at_start & ~at_end
        cover = np.clip(np.minimum(e, b) - np.maximum(s, a), 0, None)
        return {
            "at_start": at_start,
            "at_end": at_end,
            "joined": joined,
            "new": joined & at_end,
            "churned": churned,
            "churned_returned": churned & at_end,
            "returned": at_end & ~at_start & ~joined,
            "active_days": self._count(u, cover.astype("float64")) / DAY_NS,
        }

    def revenue(self, a: int, b: int) -> dict[str, np.ndarray]:
        """Per unit: MRR at the start (subscriptions) or orders and revenue in [a, b) (orders)."""
        import numpy as np

        values = self.row_value if self.row_value is not None else np.zeros(len(self.row_unit))
        known = ~np.isnan(values)
        amounts = np.where(known, values, 0.0)
        u = self.row_unit
        if self.kind == "subscriptions":
            live = (self.row_start < a) & (self.row_end >= a)
            return {
                "mrr_at_start": self._count(u, np.where(live, amounts, 0.0)),
                "with_mrr": self._count(u, live & known) > 0,
            }
        inside = (self.row_start >= a) & (self.row_start < b)
        before_end = self.row_start < b
        return {
            "orders": self._count(u, inside),
            "priced_orders": self._count(u, inside & known),
            "revenue": self._count(u, np.where(inside, amounts, 0.0)),
            "orders_to_date": self._count(u, before_end),
            "revenue_to_date": self._count(u, np.where(before_end, amounts, 0.0)),
        }


_NAT = -(2**63)


def _intervals(
    frame: pd.DataFrame, kind: str, inactive_days: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row: its customer's code (-1: none), the start and end of the activity it gives
    (ns), whether it is dated, and whether it counts (a customer, a start and, for a
    subscription, an end not before it)."""
    import numpy as np
    import pandas as pd

    customer, _ = pd.factorize(frame["customer_id"])
    if kind == "orders":
        start = _ns_array(frame["ordered_at"])
        end = start + (inactive_days or 0) * DAY_NS
        dated = start != _NAT
        return customer, start, end, dated, (customer >= 0) & dated
    start = _ns_array(frame["started_at"])
    end = _ns_array(frame["ended_at"])
    end = np.where(end == _NAT, OPEN_END, end)
    dated = start != _NAT
    return customer, start, end, dated, (customer >= 0) & dated & (end >= start)


def _first_last(start: np.ndarray, end: np.ndarray, kind: str) -> tuple[int | None, int | None]:
    """The first date in the data and the last (a start, or a subscription's end), in ns."""
    if not len(start):
        return None, None
    ends = end[end != OPEN_END] if kind == "subscriptions" else end[:0]
    return int(start.min()), int(max(start.max(), ends.max() if len(ends) else start.max()))


def data_extent(rows: pd.DataFrame, kind: str) -> tuple[int | None, int | None] | None:
    """The first and last dates of the rows that count (`_intervals`), which every window is
    clipped to: the `span` of the KPIs built on `Timeline`."""
    _, start, end, _, valid = _intervals(rows.reset_index(drop=True), kind, None)
    first, last = _first_last(start[valid], end[valid], kind)
    return None if first is None else (first, last)


def _unit_codes(
    frame: pd.DataFrame, segments: list[str], customer: np.ndarray
) -> tuple[np.ndarray, int, np.ndarray]:
    """A code per row for its (segment values, customer), the number of codes, a row of each."""
    import numpy as np
    import pandas as pd

    key = customer.astype("int64")
    for name in segments:
        values, labels = pd.factorize(frame[name])
        key = key * (len(labels) + 1) + values
    codes, uniques = pd.factorize(key)  # numbered in order of first appearance
    seen = np.maximum.accumulate(codes)
    first_rows = np.flatnonzero(np.r_[len(codes) > 0, codes[1:] > seen[:-1]])
    return codes.astype("int64"), len(uniques), first_rows[: len(uniques)]


def _ns_array(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds; blanks become the NaT sentinel."""
    return values.astype("datetime64[ns]").to_numpy().view("int64")


def _merge_spells(
    codes: np.ndarray, start: np.ndarray, end: np.ndarray, n_units: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge each unit's intervals into spells of continuous cover (touching ones join)."""
    import numpy as np
    import pandas as pd

    rank = np.empty(len(start), dtype="int64")
    rank[np.argsort(start, kind="stable")] = np.arange(len(start))
    order = np.argsort(codes * len(start) + rank)  # by unit, then start; keys are unique
    u, s, e = codes[order], start[order], end[order]
    running = pd.Series(e).groupby(u).cummax().to_numpy()
    head = np.ones(len(u), dtype=bool)
    head[1:] = u[1:] != u[:-1]
    new = head.copy()
    new[1:] |= s[1:] > running[:-1]
    starts = np.flatnonzero(new)
    spell_end = np.maximum.reduceat(e, starts) if len(starts) else e[:0]
    first = np.zeros(n_units, dtype="int64")
    first[u[head]] = s[head]
    return u[new], s[new], spell_end, first


# -- the prepared frame ------------------------------------------------------------------------


def customer_windows(
    rows: pd.DataFrame,
    keys: list[str],
    ctx: Context,
    inactive_days: int | None,
    value: str | None,
    keep: Any,
    columns: tuple[str, ...],
) -> pd.DataFrame:
    """One row per (window, unit) that `keep(measures)` selects, plus one marker row per group.

    Each row carries the `columns` of `Timeline.measure` / `Timeline.revenue` it needs. The
    marker row carries the window (first day and the day after its end, as ordinals), whether it
    is complete, whether the source is orders, and (overall windows) rows left out.
    """
    import numpy as np
    import pandas as pd

    segments = [k for k in keys if k.startswith(SEGMENT_PREFIX)]
    by_period = PERIOD in keys
    timeline = Timeline.build(rows, segments, ctx.kind, inactive_days, value)
    first, last = ctx.extent or (timeline.first_date, timeline.last_date)
    if first is None or last is None:
        return pd.DataFrame(columns=[*keys, *columns, *MARKER_COLUMNS])
    parts = []
    for span in spans(first, last, ctx, by_period):
        measures = timeline.measure(span.start, span.end)
        if value is not None:
            measures.update(timeline.revenue(span.start, span.end))
        chosen = np.flatnonzero(keep(measures))
        part = timeline.units.iloc[chosen].reset_index(drop=True)
        for name in columns:
            part[name] = measures[name][chosen].astype("float64")
        for name in MARKER_COLUMNS:
            part[name] = 0.0
        marker = timeline.combos.copy()
        for name in columns:
            marker[name] = 0.0
        marker["windows"] = 1.0
        marker["window_start"] = float(_ordinal(span.start))
        marker["window_end"] = float(_ordinal(span.end))
        marker["complete"] = float(span.complete)
        marker["from_orders"] = float(ctx.kind == "orders")
        marker["ignored"] = 0.0 if by_period else _ignored(timeline, segments)
        for frame in (part, marker):
            frame[ALL] = 0
            if by_period:
                frame[PERIOD] = span.period
            parts.append(frame)
    if not parts:  # every date lies outside the window
        return pd.DataFrame(columns=[*keys, *columns, *MARKER_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def _ordinal(ns: int) -> int:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=ns // DAY_NS)).toordinal()


def _ignored(timeline: Timeline, segments: list[str]) -> Any:
    """Rows left out, aligned with `timeline.combos`."""
    if not segments:
        return float(timeline.ignored.iloc[0])
    index = timeline.combos.set_index(segments).index
    return timeline.ignored.reindex(index, fill_value=0).to_numpy().astype("float64")


def window_detail(s: Sums) -> dict[str, Any]:
    """What window a group's figure covers, from its marker row."""
    if not s.get("windows"):
        return {"from": None, "to": None, "months": None, "complete": False}
    start = dt.date.fromordinal(int(s.window_start))
    end = dt.date.fromordinal(int(s.window_end))
    detail: dict[str, Any] = {
        "from": start.isoformat(),
        "to": (end - dt.timedelta(days=1)).isoformat(),
        "months": months_between(start, end),
        "complete": bool(s.complete),
    }
    if s.get("ignored"):
        detail["ignored_rows"] = int(s.ignored)
    return detail


# -- options -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityOptions(Options):
    variant: Literal["standard"] = "standard"
    inactive_days: int | None = None


def _check_inactive_days(days: int | None) -> None:
    if days is not None and days < 1:
        raise ValueError(f"inactive_days must be a whole number of days >= 1, not {days}")


def _activity_fields(name: str, opts: Any, kind: str) -> tuple[str, ...]:
    """Fields for an activity rule on `kind`, refusing options that do not fit the kind."""
    if kind == "orders":
        if opts.inactive_days is None:
            raise ConfigError(
                f"KPI '{name}' on an orders source needs 'inactive_days' (how many days without "
                "an order make a customer inactive)",
                hint=f"e.g. - {{kpi: {name}, inactive_days: 90}}",
            )
        return ORDER_FIELDS
    if opts.inactive_days is not None:
        raise ConfigError(
            f"KPI '{name}': inactive_days applies to orders sources only; on subscriptions a "
            "customer churns when their subscriptions end",
            hint="remove inactive_days from this KPI entry",
        )
    return SUBSCRIPTION_FIELDS


SUBSCRIPTION_RULE = (
    "subscriptions: a customer is active while any of their subscriptions runs "
    "(started_at <= t < ended_at; blank ended_at = still running); churned = active at the "
    "start of the period (running just before it: one ending at its first instant is active "
    "at the start and churns in it) and a subscription end within it left them with none running "
    "(an upgrade without a gap is not churn; coming back later in the period still is)"
)


def _orders_rule(days: int) -> str:
    return (
        f"orders: a customer is active at t when they ordered in the {days} days before t; "
        f"churned = active at the start of the period and no order in its last {days} days"
    )


def _rule(s: Sums, opts: Any) -> str:
    if s.get("from_orders") or (opts.inactive_days is not None):
        return _orders_rule(int(opts.inactive_days or 0))
    return SUBSCRIPTION_RULE


class _ActivityKpi(Kpi):
    """What churn, retention and CLV share: whole rows, history, their own periods."""

    group_facts = MARKER_FACTS

    def check_options(self, opts: Any) -> Any:
        _check_inactive_days(opts.inactive_days)
        return opts

    def required_fields(self, opts: Any, kind: str) -> tuple[str, ...]:
        return _activity_fields(self.name, opts, kind)

    def needs_all_rows(self, opts: Any) -> bool:
        return True

    def needs_history(self, opts: Any) -> bool:
        return True

    def unit_of(self, opts: Any, ctx: Context) -> str:
        return "customer_id"

    def extent(self, rows: pd.DataFrame, opts: Any, kind: str) -> tuple[Any, Any] | None:
        return data_extent(rows, kind)

    def tally(self, rows: pd.DataFrame, opts: Any) -> Tally:
        return {c: rows[c] for c in rows.columns if c != ALL and c != PERIOD and c[:4] != "seg:"}


# -- churn -------------------------------------------------------------------------------------

PERIOD_NOTE = (
    "Periods are calendar periods clipped to --since/--until and to the last date in the data "
    "(detail.complete is false for a clipped period: its value covers detail.from-detail.to "
    "only); the overall row treats the whole window as one period, so without --since nobody "
    "is active at its start and it has no value."
)
ANNUAL_NOTE = (
    "detail.annualised = 100 * (1 - (1 - c)^(12 / months)), months = the window's length "
    "(1 for a calendar month, 3 for a quarter; else whole calendar months plus "
    "days * 12 / 365.25)."
)


def _keep_activity(m: Mapping[str, np.ndarray]) -> np.ndarray:
    return m["at_start"] | m["at_end"] | m["joined"]


def _at_start(m: Mapping[str, np.ndarray]) -> np.ndarray:
    return m["at_start"]


RETENTION_COLUMNS = (
    "at_start",
    "at_end",
    "new",
    "joined",
    "churned",
    "churned_returned",
    "returned",
)


@kpi(
    name="churn",
    title="Customer churn rate",
    source=("subscriptions", "orders"),
    fields=("customer_id", "started_at", "ended_at", "ordered_at"),
    unit="%",
    higher_is_better=False,
    variants=("standard",),
    formula="churn = 100 * churned / customers active at the start of the period; customers "
    "who joined during the period are in neither. Subscriptions (customer_id, started_at, "
    "ended_at): active while any subscription runs; churned = their subscriptions ended "
    "within the period leaving none running. Orders (customer_id, ordered_at, option "
    "inactive_days): active at t = ordered in the inactive_days before t; churned = active at "
    f"the start, not at the end. {PERIOD_NOTE} {ANNUAL_NOTE}",
    interval="Wilson score interval on churned of the customers active at the start",
)
class Churn(_ActivityKpi):
    """Share of the customers active at a period's start who churned during it."""

    Options = ActivityOptions

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: ActivityOptions, ctx: Context
    ) -> pd.DataFrame:
        return customer_windows(
            rows, keys, ctx, opts.inactive_days, None, _at_start, ("at_start", "churned")
        )

    def estimate(self, s: Sums, opts: ActivityOptions, confidence: float) -> Estimate:
        window = window_detail(s)
        at_start, churned = s.get("at_start", 0.0), s.get("churned", 0.0)
        detail: dict[str, Any] = {
            "customers_at_start": int(at_start),
            "churned": int(churned),
            "annualised": None,
            **window,
            "rule": _rule(s, opts),
        }
        if at_start <= 0:
            detail["reason"] = "no customers were active at the start of the window"
            return Estimate(None, 0, detail=detail)
        if window["months"]:
            detail["annualised"] = 100.0 * rescale(churned / at_start, window["months"], 12)
        return proportion_estimate(churned, at_start, confidence, **detail)


# -- retention ---------------------------------------------------------------------------------


@kpi(
    name="retention",
    title="Customer retention rate (CRR)",
    source=("subscriptions", "orders"),
    fields=("customer_id", "started_at", "ended_at", "ordered_at"),
    unit="%",
    higher_is_better=True,
    variants=("standard",),
    formula="CRR = 100 * (E - N) / S: S customers active at the start of the period, E at its "
    "end, N new customers (first subscription or order ever within the period) still active "
    "at its end, so E - N are the customers at the end who were customers before the period. "
    "It equals 100 - churn only when nobody returns: a customer who churns and comes back "
    "within the period (subscriptions), or one inactive at the start who comes back, counts "
    "in E - N (detail.churned_and_returned, detail.returned). Activity as for churn (orders: "
    f"inactive_days). {PERIOD_NOTE}",
    interval="none: E - N can hold customers who were not in S (returns), so CRR is not a "
    "binomial proportion and can exceed 100",
)
class Retention(_ActivityKpi):
    """Customers at the end who were customers before the period, per customer at the start."""

    Options = ActivityOptions

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: ActivityOptions, ctx: Context
    ) -> pd.DataFrame:
        return customer_windows(
            rows, keys, ctx, opts.inactive_days, None, _keep_activity, RETENTION_COLUMNS
        )

    def estimate(self, s: Sums, opts: ActivityOptions, confidence: float) -> Estimate:
        at_start, at_end, new = (s.get(k, 0.0) for k in ("at_start", "at_end", "new"))
        churned = s.get("churned", 0.0)
        detail: dict[str, Any] = {
            "customers_at_start": int(at_start),
            "customers_at_end": int(at_end),
            "new_customers": int(new),
            "joined": int(s.get("joined", 0.0)),
            "churned": int(churned),
            "churned_and_returned": int(s.get("churned_returned", 0.0)),
            "returned": int(s.get("returned", 0.0)),
            "churn": 100.0 * churned / at_start if at_start > 0 else None,
            **window_detail(s),
            "rule": _rule(s, opts),
        }
        if at_start <= 0:
            detail["reason"] = "no customers were active at the start of the window"
            return Estimate(None, 0, detail=detail)
        return Estimate(100.0 * (at_end - new) / at_start, int(at_start), detail=detail)


# -- customer lifetime value -------------------------------------------------------------------


def _ordered_to_date(m: Mapping[str, np.ndarray]) -> np.ndarray:
    return m["orders_to_date"] > 0


def _keep_purchase(m: Mapping[str, np.ndarray]) -> np.ndarray:
    return m["at_start"] | (m["active_days"] > 0) | (m["orders"] > 0)


def _positive(frame: pd.DataFrame, column: str) -> Any:
    """1.0 where the column is above 0 (0 when the frame has no such column)."""
    if column not in frame:
        return 0.0
    return (frame[column] > 0).astype("float64")


@dataclass(frozen=True)
class ClvOptions(Options):
    variant: Literal["", "purchase", "historical", "subscription"] = ""
    method: Literal["purchase", "historical", "subscription"] | None = None
    inactive_days: int | None = None
    gross_margin: float | None = None
    lifespan_years: float | None = None


def clv_method(opts: ClvOptions, kind: str) -> str:
    """The method in force: the configured one, else purchase (orders) or subscription."""
    return opts.method or ("purchase" if kind == "orders" else "subscription")


@kpi(
    name="clv",
    title="Customer lifetime value",
    source=("orders", "subscriptions"),
    fields=("customer_id", "ordered_at", "amount", "started_at", "ended_at", "mrr"),
    unit="currency",
    higher_is_better=True,
    variants=("purchase", "historical", "subscription"),
    formula="method purchase (orders default): AOV * purchase frequency per year * expected "
    "lifespan in years * gross_margin (1 when not given). AOV = revenue / orders with an "
    "amount and a customer id in the window (unlike the aov KPI, which keeps orders "
    "without a customer: a lifetime value is per customer); purchase frequency per year ="
    " orders in the window / customer-years active in it (a customer is active while they"
    " ordered in the last inactive_days, the churn rule); lifespan = lifespan_years, else"
    " 1 / annual churn (the window's churn annualised). method historical (orders): mean "
    "revenue per customer from their first order to the window's end (history before "
    "--since included), times gross_margin when given. method subscription (subscriptions"
    " default): ARPA * gross_margin / monthly churn; ARPA = mean MRR of the customers "
    "active at the start (running subscriptions summed; customers whose MRR is blank left"
    " out), monthly churn = the window's churn over its length in months; no value when "
    "churn is 0 (detail.reason). n: customers active in the window (purchase), with an "
    "order by its end (historical), active at its start "
    f"(subscription). {PERIOD_NOTE}",
    interval="historical: Student t over customers' revenue (lower end clipped at 0 when no "
    "customer's revenue is negative); purchase and subscription: none "
    "(a product or ratio of correlated estimates, with no honest closed form)",
)
class Clv(_ActivityKpi):
    """Expected (or to-date) value of a customer, by the configured method."""

    Options = ClvOptions

    def check_options(self, opts: ClvOptions) -> ClvOptions:
        if opts.variant and opts.method and opts.variant != opts.method:
            raise ValueError(
                f"variant '{opts.variant}' and method '{opts.method}' disagree; give one"
            )
        method = opts.method or opts.variant or None
        opts = replace(opts, method=method, variant=method or "")
        _check_inactive_days(opts.inactive_days)
        if opts.gross_margin is not None and not 0 < opts.gross_margin <= 1:
            raise ValueError(
                f"gross_margin is a fraction between 0 and 1 (0.6 for 60 %), not "
                f"{opts.gross_margin}"
            )
        if opts.lifespan_years is not None:
            if opts.lifespan_years <= 0:
                raise ValueError(f"lifespan_years must be above 0, not {opts.lifespan_years}")
            if opts.method not in (None, "purchase"):
                raise ValueError("lifespan_years applies to method purchase only")
        return opts

    def required_fields(self, opts: ClvOptions, kind: str) -> tuple[str, ...]:
        method = clv_method(opts, kind)
        fits = {"orders": ("purchase", "historical"), "subscriptions": ("subscription",)}[kind]
        if method not in fits:
            raise ConfigError(
                f"KPI 'clv': method '{method}' does not read a {kind} source",
                hint=f"on {kind} use method: {' or '.join(fits)}",
            )
        if method == "subscription":
            return (*_activity_fields(self.name, opts, kind), "mrr")
        if method == "purchase" and opts.inactive_days is None:
            raise ConfigError(
                "KPI 'clv' (method purchase) needs 'inactive_days': it defines the "
                "customer-years purchase frequency is counted over and the churn behind "
                "the lifespan",
                hint="e.g. - {kpi: clv, method: purchase, inactive_days: 90}",
            )
        return (*ORDER_FIELDS, "amount")

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: ClvOptions, ctx: Context
    ) -> pd.DataFrame:
        method = clv_method(opts, ctx.kind)
        if method == "subscription":
            columns = ("at_start", "churned", "mrr_at_start", "with_mrr")
            return customer_windows(rows, keys, ctx, None, "mrr", _at_start, columns)
        if method == "historical":
            columns = ("orders_to_date", "revenue_to_date")
            frame = customer_windows(rows, keys, ctx, 0, "amount", _ordered_to_date, columns)
            frame["historical"] = _positive(frame, "orders_to_date")
            return frame
        columns = ("at_start", "churned", "active_days", "orders", "priced_orders", "revenue")
        frame = customer_windows(
            rows, keys, ctx, opts.inactive_days, "amount", _keep_purchase, columns
        )
        frame["in_window"] = _positive(frame, "active_days") + _positive(frame, "orders") > 0
        frame["in_window"] = frame["in_window"].astype("float64")
        return frame

    def tally(self, rows: pd.DataFrame, opts: ClvOptions) -> Tally:
        tally = dict(super().tally(rows, opts))
        if "historical" in rows:
            revenue = rows["revenue_to_date"] * (opts.gross_margin or 1.0)
            tally["hist_total"] = revenue * rows["historical"]
            tally["hist_total_sq"] = revenue * revenue * rows["historical"]
            tally["hist_negative"] = (revenue < 0) & (rows["historical"] > 0)
        return tally

    def observations(self, rows: pd.DataFrame, opts: ClvOptions) -> pd.Series | None:
        if "historical" not in rows:
            return None
        revenue = rows["revenue_to_date"] * (opts.gross_margin or 1.0)
        return revenue.where(rows["historical"] > 0)

    def estimate(self, s: Sums, opts: ClvOptions, confidence: float) -> Estimate:
        method = opts.method or ("purchase" if s.get("from_orders") else "subscription")
        if "historical" in s or method == "historical":
            return self._historical(s, opts, confidence)
        if method == "purchase":
            return self._purchase(s, opts)
        return self._subscription(s, opts)

    def _historical(self, s: Sums, opts: ClvOptions, confidence: float) -> Estimate:
        customers = s.get("historical", 0.0)
        median, p90 = s.get("median"), s.get("p90")
        detail = {
            "method": "historical",
            "customers": int(customers),
            "revenue": s.get("revenue_to_date", 0.0),
            "gross_margin": opts.gross_margin or 1.0,
            "median": None if median is None or median != median else median,
            "p90": None if p90 is None or p90 != p90 else p90,
            **window_detail(s),
        }
        est = mean_estimate(
            customers, s.get("hist_total", 0.0), s.get("hist_total_sq", 0.0), confidence, **detail
        )
        return floored_at_zero(est, s.get("hist_negative", 0.0))

    def _purchase(self, s: Sums, opts: ClvOptions) -> Estimate:
        window = window_detail(s)
        margin = opts.gross_margin or 1.0
        orders, priced = s.get("orders", 0.0), s.get("priced_orders", 0.0)
        revenue = s.get("revenue", 0.0)
        years = s.get("active_days", 0.0) / DAYS_PER_YEAR
        at_start, churned = s.get("at_start", 0.0), s.get("churned", 0.0)
        annual = None
        if at_start > 0 and window["months"]:
            annual = rescale(churned / at_start, window["months"], 12)
        lifespan = opts.lifespan_years or (1.0 / annual if annual else None)
        detail: dict[str, Any] = {
            "method": "purchase",
            "aov": revenue / priced if priced else None,
            "orders": int(orders),
            "revenue": revenue,
            "purchase_frequency_per_year": orders / years if years else None,
            "customer_years": years,
            "lifespan_years": lifespan,
            "lifespan_from": "option" if opts.lifespan_years else "churn",
            "annual_churn": None if annual is None else 100.0 * annual,
            "customers_at_start": int(at_start),
            "churned": int(churned),
            "gross_margin": margin,
            **window,
            "rule": _rule(s, opts),
        }
        customers = int(s.get("in_window", 0.0))
        reason = None
        if not priced or not years:
            reason = "no orders with an amount in the window"
        elif lifespan is None:
            reason = (
                "churn is 0"
                if at_start > 0
                else "no customers were active at the start of "
                "the window, so no churn to derive a lifespan from (set lifespan_years)"
            )
        if reason:
            return Estimate(None, customers, detail={**detail, "reason": reason})
        value = detail["aov"] * detail["purchase_frequency_per_year"] * lifespan * margin
        return Estimate(value, customers, detail=detail)

    def _subscription(self, s: Sums, opts: ClvOptions) -> Estimate:
        window = window_detail(s)
        margin = opts.gross_margin or 1.0
        at_start, churned = s.get("at_start", 0.0), s.get("churned", 0.0)
        with_mrr = s.get("with_mrr", 0.0)
        arpa = s.get("mrr_at_start", 0.0) / with_mrr if with_mrr else None
        monthly = None
        if at_start > 0 and window["months"]:
            monthly = rescale(churned / at_start, window["months"], 1)
        detail: dict[str, Any] = {
            "method": "subscription",
            "arpa": arpa,
            "customers_at_start": int(at_start),
            "customers_with_mrr": int(with_mrr),
            "mrr_at_start": s.get("mrr_at_start", 0.0),
            "churned": int(churned),
            "monthly_churn": None if monthly is None else 100.0 * monthly,
            "gross_margin": margin,
            **window,
            "rule": _rule(s, opts),
        }
        reason = None
        if at_start <= 0:
            reason = "no customers were active at the start of the window"
        elif arpa is None:
            reason = "no MRR for the customers active at the start"
        elif not monthly:
            reason = "churn is 0"
        if reason:
            return Estimate(None, int(at_start), detail={**detail, "reason": reason})
        return Estimate(arpa * margin / monthly, int(at_start), detail=detail)
