"""Commerce KPIs (source kind `orders`): AOV, repeat purchase rate, and MAU / WAU / DAU.

The engine has already folded a line-item export into one row per `order_id` (see
`cx_cli.stages`), so a row here is an order. AOV is additive; repeat rate and the active-customer
counts are not sums of rows, so they build their own per-group rows in `prepare`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from cx_cli.groups import distinct_per_group, group_numbers
from cx_cli.kpis.base import (
    ALL,
    PERIOD,
    WINDOWED,
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
from cx_cli.periods import next_start, period_start, period_starts
from cx_cli.sources import IN_WINDOW, SEGMENT_PREFIX

if TYPE_CHECKING:
    import pandas as pd

# Calendar units from the finest to the coarsest: a period at least as coarse as a KPI's unit
# holds whole units of it.
GRAIN = {"day": 0, "week": 1, "month": 2, "quarter": 3, "year": 4}
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _customer(rows: pd.DataFrame) -> pd.Series:
    """Customer ids (the reader already made blank or whitespace-only ids missing)."""
    return rows["customer_id"]


def _customer_codes(rows: pd.DataFrame) -> Any:
    """Customer ids as integers, -1 where missing (the engine's ids are codes already)."""
    import pandas as pd

    ids = _customer(rows)
    if pd.api.types.is_integer_dtype(ids.dtype):
        return ids.fillna(-1).to_numpy("int64")
    return pd.factorize(ids)[0]


def _ordinal(days: pd.Series) -> pd.Series:
    """Dates as proleptic Gregorian ordinals, so that a date can travel through the sums."""
    import pandas as pd

    return (days - pd.Timestamp("1970-01-01")).dt.days + EPOCH_ORDINAL


def _label(ordinal: float, unit: str) -> str:
    """2025-12, 2025-W52 or 2025-12-31 for the unit starting on the given ordinal date."""
    day = dt.date.fromordinal(int(ordinal))
    if unit == "month":
        return f"{day.year}-{day.month:02d}"
    if unit == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


# -- AOV ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AovOptions(Options):
    variant: Literal["standard"] = "standard"


@kpi(
    name="aov",
    title="Average order value",
    source="orders",
    fields=("order_id", "amount"),
    unit="currency",
    higher_is_better=True,
    variants=("standard",),
    formula="AOV = revenue / orders, per period of the order date. Line items are summed per "
    "order_id first (order_total: sum), or the order total repeated on each line is taken once "
    "(order_total: first); amount may be quantity x unit_price. Refunded and cancelled orders "
    "are left out by the source's status filter. Orders without an amount are counted, not "
    "averaged.",
    interval="Student t interval on the mean order value, its lower end clipped at 0 when no "
    "order is negative (a mean of non-negative amounts is never below 0)",
)
class Aov(Kpi):
    """Mean revenue per order."""

    Options = AovOptions

    def tally(self, rows: pd.DataFrame, opts: AovOptions) -> Tally:
        amount = rows["amount"]
        priced = amount.notna()
        filled = amount.fillna(0.0)
        lines = rows["lines"].where(priced, 0) if "lines" in rows else priced
        return {
            "orders": priced,
            "revenue": filled,
            "revenue_sq": filled * filled,
            "lines": lines,
            "no_amount": ~priced,
            "negative": filled < 0,
        }

    def estimate(self, s: Sums, opts: AovOptions, confidence: float) -> Estimate:
        est = mean_estimate(
            s.orders,
            s.revenue,
            s.revenue_sq,
            confidence,
            orders=int(s.orders),
            revenue=float(s.revenue),
            lines=int(s.lines),
            orders_without_amount=int(s.no_amount),
            negative_orders=int(s.get("negative", 0.0)),
        )
        return floored_at_zero(est, s.get("negative", 0.0))


# -- repeat purchase rate ------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatRateOptions(Options):
    variant: Literal["standard"] = "standard"


@kpi(
    name="repeat_rate",
    title="Repeat purchase rate",
    source="orders",
    fields=("order_id", "customer_id"),
    unit="%",
    higher_is_better=True,
    variants=("standard",),
    formula="Repeat rate = 100 * customers with >= 2 orders / customers with >= 1 order, "
    "counting each customer's orders within the group (the period, the segment, or both). "
    "Orders without a customer id are left out and counted.",
    interval="Wilson score interval over customers",
)
class RepeatRate(Kpi):
    """Share of ordering customers who ordered at least twice in the group."""

    Options = RepeatRateOptions

    def needs_all_rows(self, opts: RepeatRateOptions) -> bool:
        return True

    def unit_of(self, opts: RepeatRateOptions, ctx: Context) -> str:
        return "customer_id"

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: RepeatRateOptions, ctx: Context
    ) -> pd.DataFrame:
        """One row per group: its customers with an order, those with two or more, their
        orders, and the orders that name no customer."""
        return _customer_counts(rows, keys, ctx)

    def tally(self, rows: pd.DataFrame, opts: RepeatRateOptions) -> Tally:
        return {name: rows[name] for name in ("customers", "repeaters", "orders", "no_customer")}

    def estimate(self, s: Sums, opts: RepeatRateOptions, confidence: float) -> Estimate:
        customers, orders = s.get("customers", 0.0), s.get("orders", 0.0)
        return proportion_estimate(
            s.get("repeaters", 0.0),
            customers,
            confidence,
            customers=int(customers),
            repeat_customers=int(s.get("repeaters", 0.0)),
            orders=int(orders),
            orders_per_customer=orders / customers if customers else None,
            orders_without_customer=int(s.get("no_customer", 0.0)),
        )


# -- active customers: MAU, WAU, DAU -------------------------------------------------------------

COUNTS = (
    "slots",  # calendar units behind the mean (1 for a rolling window or a short period)
    "actives",  # distinct customers, summed over those units
    "latest_actives",
    "latest_start",
    "customers_active",
    "no_customer",
    "short_period",
    "window_complete",
)


@dataclass(frozen=True)
class MauOptions(Options):
    variant: Literal["calendar", "rolling_30d", "rolling_28d"] = "calendar"


@dataclass(frozen=True)
class WauOptions(Options):
    variant: Literal["calendar", "rolling_7d"] = "calendar"


@dataclass(frozen=True)
class DauOptions(Options):
    variant: Literal["calendar"] = "calendar"


class ActiveCustomers(Kpi):
    """Distinct customers with an order in a calendar unit (month, ISO week or day).

    A group spanning several units reports the mean of its units' distinct counts; a period
    shorter than the unit reports the distinct customers in the period; `rolling_Nd` reports
    the distinct customers in the N days ending on the group's last day.
    """

    bucket: ClassVar[str]  # the calendar unit: month, week or day
    group_facts = frozenset({"slots", "latest_start", "short_period", "window_complete"})

    def needs_all_rows(self, opts: Any) -> bool:
        return True

    def needs_history(self, opts: Any) -> bool:
        return opts.variant != "calendar"  # a window may reach back before --since

    def unit_of(self, opts: Any, ctx: Context) -> str:
        """Customers: each counts on their own. A customer may count in a group without an
        order in it (a rolling window reaching back, an ISO week's days in the month before),
        so the extent of all rows names every group (`extent`), and each split reports them
        all, with zeros where none of its customers counts."""
        return "customer_id"

    def extent(self, rows: pd.DataFrame, opts: Any, kind: str) -> tuple[Any, ...] | None:
        """The first order day of all rows read (a rolling window reaching back before it is
        incomplete), the last order day inside --since/--until (every calendar unit up to it
        counts, and the last rolling window ends on it: an order after --until counts in no
        window), and the groups of the orders inside the dates: their key columns and the set
        of their key values (`add_extents` joins the sets)."""
        import pandas as pd

        current = rows[rows[IN_WINDOW]] if IN_WINDOW in rows else rows
        first = rows["ordered_at"].min()
        last = current["ordered_at"].max()
        first, last = (None if pd.isna(t) else t.normalize() for t in (first, last))
        columns = tuple(c for c in rows.columns if _is_group_key(c))
        distinct = current[list(columns)].drop_duplicates().astype(object)
        groups = frozenset(distinct.itertuples(index=False, name=None))
        return (first, last, (columns, groups))

    def prepare(self, rows: pd.DataFrame, keys: list[str], opts: Any, ctx: Context) -> pd.DataFrame:
        import pandas as pd

        segments = [k for k in keys if k.startswith(SEGMENT_PREFIX)]
        current = _in_window(rows, ctx)
        every = _every_group(keys, ctx)
        if current.empty and (every is None or every.empty):
            return pd.DataFrame(columns=[*keys, *COUNTS])
        facts = _group_facts(current, keys, ctx, every)
        if opts.variant != "calendar":
            return _rolling(
                _active(rows, keys, ctx), facts, keys, segments, _window_days(opts), ctx
            )
        if PERIOD in keys and GRAIN[ctx.period or "year"] < GRAIN[self.bucket]:
            return facts.assign(slots=1, actives=facts["customers_active"], short_period=1)
        return _calendar(current, facts, keys, segments, self.bucket, ctx)

    def tally(self, rows: pd.DataFrame, opts: Any) -> Tally:
        return {name: rows.get(name, 0) for name in COUNTS}

    def estimate(self, s: Sums, opts: Any, confidence: float) -> Estimate:
        count = {name: s.get(name, 0.0) for name in COUNTS}
        value = count["actives"] / count["slots"] if count["slots"] else None
        if opts.variant != "calendar":
            detail, n = _window_detail(count, _window_days(opts)), count["actives"]
        else:
            detail, n = _calendar_detail(count, self.bucket), count["customers_active"]
        detail["customers_active"] = int(count["customers_active"])
        detail["orders_without_customer"] = int(count["no_customer"])
        return Estimate(value, int(n), detail=detail)


def _is_group_key(column: str) -> bool:
    return column in (ALL, PERIOD) or column.startswith(SEGMENT_PREFIX)


def _every_group(keys: list[str], ctx: Context) -> pd.DataFrame | None:
    """The groups of all rows (from the extent), when `prepare` sees a split of them."""
    import pandas as pd

    if ctx.extent is None or len(ctx.extent) < 3:
        return None
    columns, groups = ctx.extent[2]
    every = pd.DataFrame(list(groups), columns=list(columns), dtype=object)
    return every[keys].drop_duplicates()


def _group_facts(
    current: pd.DataFrame, keys: list[str], ctx: Context, every: pd.DataFrame | None
) -> pd.DataFrame:
    """Per group: orders naming no customer and distinct customers; with `every`, one row for
    each of its groups (zeros for those this split has no orders in), segments as text."""
    import pandas as pd

    if current.empty:
        facts = pd.DataFrame(columns=[*keys, "no_customer", "customers_active"])
    else:
        counts = _customer_counts(current, keys, ctx)
        facts = counts[[*keys, "no_customer"]].assign(customers_active=counts["customers"])
    if every is None:
        return facts
    own = facts.astype({k: object for k in keys})
    merged = every.merge(own, on=keys, how="left")
    merged[["no_customer", "customers_active"]] = (
        merged[["no_customer", "customers_active"]].astype("float64").fillna(0.0)
    )
    merged[ALL] = merged[ALL].astype("int64")
    if PERIOD in keys:
        merged[PERIOD] = pd.to_datetime(merged[PERIOD]).astype(current[PERIOD].dtype)
    return merged


def _window_days(opts: Any) -> int:
    """30 for rolling_30d."""
    return int(opts.variant.removeprefix("rolling_").removesuffix("d"))


def _window_detail(count: dict[str, float], days: int) -> dict[str, Any]:
    end, found = count["latest_start"], bool(count["slots"])
    return {
        "rule": f"distinct customers with an order in the {days} days ending window_end",
        "window_days": days,
        "window_start": _label(end - days + 1, "day") if found else None,
        "window_end": _label(end, "day") if found else None,
        "window_complete": bool(count["window_complete"]) if found else None,
    }


def _calendar_detail(count: dict[str, float], unit: str) -> dict[str, Any]:
    if count["short_period"]:
        return {
            "rule": f"distinct customers in the period, which is shorter than a {unit}",
            f"{unit}s": None,
            f"latest_{unit}": None,
            f"latest_{unit}_actives": None,
        }
    found = bool(count["slots"])
    return {
        "rule": f"mean over calendar {unit}s of the distinct customers in each",
        f"{unit}s": int(count["slots"]),
        f"latest_{unit}": _label(count["latest_start"], unit) if found else None,
        f"latest_{unit}_actives": int(count["latest_actives"]) if found else None,
    }


def _customer_counts(rows: pd.DataFrame, keys: list[str], ctx: Context) -> pd.DataFrame:
    """Per group of `keys`: customers with an order, those with two or more, orders naming a
    customer, and orders naming none. Repeat rate's rows, and MAU's customers per group: worked
    out once per group set for both (`Context.shared`)."""

    def count() -> pd.DataFrame:
        groups = group_numbers(rows[keys])
        who = _customer_codes(rows)
        customers, repeaters = distinct_per_group(groups, who)
        return groups.table(
            rows[keys],
            customers=customers,
            repeaters=repeaters,
            orders=groups.count(who >= 0),
            no_customer=groups.count(who < 0),
        )

    return ctx.shared.get(rows, ("customer_counts", *keys), count)


def _in_window(rows: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """The rows inside --since/--until: `rows` itself when all are, else the run's one filtered
    copy (the engine's, see `settle_scan`: one copy keeps memory and shared figures)."""
    import pandas as pd

    if rows.get(IN_WINDOW, pd.Series(True)).all():
        return rows
    return ctx.shared.get(rows, WINDOWED, lambda: rows[rows[IN_WINDOW]])


def _days(rows: pd.DataFrame, ctx: Context) -> pd.Series:
    """Each order's day (midnight), worked out once per run."""
    return ctx.shared.get(rows, "days", lambda: rows["ordered_at"].dt.normalize())


def _actives_per_unit(
    rows: pd.DataFrame, segments: list[str], unit: str, ctx: Context
) -> pd.DataFrame:
    """Distinct customers per segment and calendar unit (-1, no customer, is not counted).

    Every group set with the same segments needs the same counts (with or without periods),
    so they are counted once (`Context.shared`)."""
    import pandas as pd

    def count() -> pd.DataFrame:
        by_unit = pd.DataFrame(
            {
                **{k: rows[k] for k in segments},
                "_unit": period_start(_days(rows, ctx), unit),
                "_c": _customer_codes(rows),
            }
        )
        groups = group_numbers(by_unit[[*segments, "_unit"]])
        distinct, _ = distinct_per_group(groups, by_unit["_c"].to_numpy("int64"))
        return groups.table(by_unit[[*segments, "_unit"]], actives=distinct)

    return ctx.shared.get(rows, ("actives_per_unit", unit, *segments), count)


def _active(rows: pd.DataFrame, keys: list[str], ctx: Context) -> pd.DataFrame:
    """The orders as the rolling windows read them: keys, customer code (-1: none), day, and
    whether the order is inside --since/--until."""
    import pandas as pd

    return pd.DataFrame(
        {
            **{k: rows[k] for k in keys},
            "_c": _customer_codes(rows),
            "_day": _days(rows, ctx),
            "_in": rows.get(IN_WINDOW, True),
        }
    ).reset_index(drop=True)


def _calendar(
    current: pd.DataFrame,
    facts: pd.DataFrame,
    keys: list[str],
    segments: list[str],
    unit: str,
    ctx: Context,
) -> pd.DataFrame:
    """One row per (group, calendar unit) with the unit's distinct customers.

    Every unit between the first and the last order date counts, those without orders as 0.
    A unit belongs to the period holding its anchor: its first day, or for an ISO week its
    Thursday (the ISO rule), clipped to the data's dates so that an edge week never opens a
    period without orders. Groups without a period take every unit.
    """
    import pandas as pd

    days = _days(current, ctx)
    first, last = ctx.extent[:2] if ctx.extent else (days.min(), days.max())
    starts = pd.Series(period_starts(first, last, unit)).astype(days.dtype)
    anchors = (starts + pd.Timedelta(days=3 if unit == "week" else 0)).clip(first, last)
    units = pd.DataFrame({"_unit": starts})
    if PERIOD in keys:
        units[PERIOD] = period_start(anchors, ctx.period or "")
        slots = facts.merge(units, on=PERIOD)
    else:
        slots = facts.merge(units, how="cross")
    counts = _actives_per_unit(current, segments, unit, ctx)
    if segments and not current.empty:  # labels as text: a split's categories are its own
        slots, counts = (t.astype({k: object for k in segments}) for t in (slots, counts))
    slots = slots.merge(counts, on=[*segments, "_unit"], how="left").sort_values("_unit")
    slots["actives"] = slots["actives"].fillna(0)
    latest = ~slots.duplicated(keys, keep="last")
    return slots.assign(
        slots=1,
        latest_actives=slots["actives"].where(latest, 0),
        latest_start=_ordinal(slots["_unit"]).where(latest, 0),
        customers_active=slots["customers_active"].where(latest, 0),
        no_customer=slots["no_customer"].where(latest, 0),
    )


def _rolling(
    active: pd.DataFrame,
    facts: pd.DataFrame,
    keys: list[str],
    segments: list[str],
    days: int,
    ctx: Context,
) -> pd.DataFrame:
    """One row per group: distinct customers with an order in the `days` days ending on the
    group's last day (its period's last day, clipped to the last order date in the window).

    Each customer's order dates d1 < d2 < ... cover the window ends [d_i, min(d_i + days,
    d_i+1)), disjoint pieces whose union is every end the customer counts for; +1 at each
    piece's start and -1 at its end, summed up to a date, give that date's distinct count.
    `active` may hold orders outside --since/--until (`_in` False): early windows reach back
    to them.
    """
    import pandas as pd

    span = pd.Timedelta(days=days)
    first, last = ctx.extent[:2] if ctx.extent else (None, None)
    if last is None:
        last = active.loc[active["_in"], "_day"].max()
    if first is None:
        first = active["_day"].min()
    if PERIOD in keys:
        ends = {
            p: min(next_start(p, ctx.period or "") - pd.Timedelta(days=1), last)
            for p in facts[PERIOD].unique()
        }
        end = facts[PERIOD].map(ends)
    else:
        end = pd.Series(last, index=facts.index)
    known = (
        active.loc[active["_c"] >= 0, [*segments, "_c", "_day"]]
        .drop_duplicates()
        .sort_values([*segments, "_c", "_day"])
    )
    following = known.groupby([*segments, "_c"], observed=True)["_day"].shift(-1)
    stop = pd.concat([known["_day"] + span, following], axis=1).min(axis=1)
    steps = pd.concat(
        [known[[*segments, "_day"]].assign(_step=1), known[segments].assign(_day=stop, _step=-1)]
    )
    level = (
        steps.groupby([*segments, "_day"], observed=True)["_step"]
        .sum()
        .reset_index()
        .sort_values("_day")
    )
    totals = level.groupby(segments, observed=True) if segments else level
    level["_level"] = totals["_step"].cumsum()
    if segments:  # labels as text: a split's categories are its own
        facts, level = (t.astype({k: object for k in segments}) for t in (facts, level))
    found = pd.merge_asof(
        facts.assign(_end=end.astype(known["_day"].dtype)).sort_values("_end"),
        level[[*segments, "_day", "_level"]],
        left_on="_end",
        right_on="_day",
        by=segments or None,
        direction="backward",
    )
    return found.assign(
        slots=1,
        actives=found["_level"].fillna(0),
        latest_start=_ordinal(found["_end"]),
        window_complete=found["_end"] - span + pd.Timedelta(days=1) >= first,
    )


@kpi(
    name="mau",
    title="Monthly active customers",
    source="orders",
    fields=("customer_id", "ordered_at"),
    unit="count",
    higher_is_better=True,
    variants=("calendar", "rolling_30d", "rolling_28d"),
    formula="MAU = distinct customer ids with an order in the calendar month. A group spanning "
    "several months reports the mean of its months' counts (months without orders count 0); "
    "a period shorter than a month (day, week) reports the distinct customers in it. "
    "rolling_30d / rolling_28d: distinct customers in the 30 / 28 days ending on the group's "
    "last day (the period's last day, or the last order date).",
    interval="none: a count of the whole customer population, not an estimate from a sample",
)
class Mau(ActiveCustomers):
    """Distinct customers with an order in a calendar month (or a rolling 30 / 28 days)."""

    Options = MauOptions
    bucket = "month"


@kpi(
    name="wau",
    title="Weekly active customers",
    source="orders",
    fields=("customer_id", "ordered_at"),
    unit="count",
    higher_is_better=True,
    variants=("calendar", "rolling_7d"),
    formula="WAU = distinct customer ids with an order in the ISO week (Monday to Sunday). A "
    "group spanning several weeks reports the mean of its weeks' counts; a week belongs to the "
    "period holding its Thursday (a first or last week whose Thursday falls outside the dates "
    "read, within --since/--until: the period of the first or last day read, so the last "
    "week of a period may move to the next once later days arrive) and is counted whole; a day "
    "reports the distinct customers that day. rolling_7d: distinct customers in the 7 days "
    "ending on the group's last day.",
    interval="none: a count of the whole customer population, not an estimate from a sample",
)
class Wau(ActiveCustomers):
    """Distinct customers with an order in an ISO week (or a rolling 7 days)."""

    Options = WauOptions
    bucket = "week"


@kpi(
    name="dau",
    title="Daily active customers",
    source="orders",
    fields=("customer_id", "ordered_at"),
    unit="count",
    higher_is_better=True,
    variants=("calendar",),
    formula="DAU = distinct customer ids with an order on the day. A group spanning several "
    "days reports the mean of its days' counts (days without orders count 0).",
    interval="none: a count of the whole customer population, not an estimate from a sample",
)
class Dau(ActiveCustomers):
    """Distinct customers with an order on a calendar day."""

    Options = DauOptions
    bucket = "day"
