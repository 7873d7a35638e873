"""Acquisition and web KPIs: CAC (spend / new customers), conversion rate and pages per visit.

CAC is built from two hidden parts on two sources: `_spend` (kind spend, an additive total) and
`_new_customers` (kinds orders or subscriptions: each customer counted once, in the group of
their first order or first subscription start). The engine joins their sums per group.

Web KPIs read a `sessions` source in one of three layouts, named by the `layout` option or,
when it is not given, detected from the mapped fields by `detect_layout`:
- `sessions`: one row per session (`converted`, a `pageviews` count); additive;
- `pageviews`: one row per pageview with `session_id`; a session is its rows, placed in the
  group of its first row, converted when any of its rows is;
- `daily`: per-day aggregates (`sessions`, `users`, `pageviews`, `conversions`); additive.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from cx_cli.fields import TIME_FIELD, time_field
from cx_cli.kpis.base import (
    Context,
    Estimate,
    Kpi,
    Options,
    Sums,
    Tally,
    kpi,
    mean_estimate,
    proportion_estimate,
)
from cx_cli.sources import IN_WINDOW

if TYPE_CHECKING:
    import pandas as pd

Layout = Literal["sessions", "pageviews", "daily"]
DAILY_FIELDS = frozenset({"sessions", "users", "conversions"})


def detect_layout(mapped: Collection[str]) -> Layout:
    """The layout of a sessions export, from the fields its source maps.

    Any per-day count (`sessions`, `users`, `conversions`) mapped: `daily`. Otherwise a
    `pageviews` count mapped, or no `session_id` to group rows by: `sessions` (one row per
    session). Otherwise (`session_id` without a count): `pageviews` (one row per pageview).
    """
    if DAILY_FIELDS & set(mapped):
        return "daily"
    if "pageviews" in mapped or "session_id" not in mapped:
        return "sessions"
    return "pageviews"


def _layout(opts: WebOptions) -> Layout:
    """The layout in force; `sessions` when the source's mapping was never seen."""
    return opts.layout or "sessions"


def _count(value: float) -> int | float:
    """A summed count as an int when whole (fractional conversions stay as they are)."""
    return int(value) if float(value).is_integer() else float(value)


def _zeros(rows: pd.DataFrame) -> pd.Series:
    import pandas as pd

    return pd.Series(0, index=rows.index)


# -- CAC and its parts -------------------------------------------------------------------------


@kpi(
    name="_spend",
    title="Marketing spend",
    source="spend",
    fields=("date", "amount"),
    unit="currency",
    higher_is_better=False,
    variants=("total",),
    formula="spend = sum of amount over the rows of the group (credits, negative, net out)",
    interval="none: a total",
    hidden=True,
)
class Spend(Kpi):
    """Total spend of a group, and how many spend rows it has (0: spend unknown, not zero)."""

    def tally(self, rows: pd.DataFrame, opts: Options) -> Tally:
        amount = rows["amount"]
        return {"total": amount.fillna(0.0), "rows": amount.notna()}

    def estimate(self, s: Sums, opts: Options, confidence: float) -> Estimate:
        detail = {"spend": s.total, "spend_rows": int(s.rows)}
        return Estimate(s.total if s.rows else None, int(s.rows), detail=detail)


@kpi(
    name="_new_customers",
    title="New customers",
    source=("orders", "subscriptions"),
    fields=("customer_id",),
    unit="count",
    higher_is_better=True,
    variants=("first_date",),
    formula="customers whose first order (first subscription start) falls in the group, "
    "history before --since included",
    interval="none: a count",
    hidden=True,
)
class NewCustomers(Kpi):
    """Each customer once, in the period and segment of their first order or subscription."""

    def required_fields(self, opts: Options, kind: str) -> tuple[str, ...]:
        return ("customer_id", *TIME_FIELD[kind])

    def needs_all_rows(self, opts: Options) -> bool:
        return True

    def needs_history(self, opts: Options) -> bool:
        return True

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: Options, ctx: Context
    ) -> pd.DataFrame:
        """One row per customer (their first), plus in-window rows without a customer id.

        The first row's `_period` is the period of the customer's first date, and its segments
        are those of that first order: a customer is acquired once, where they first bought.
        Ties at the same first timestamp go to the row that comes first in the file.
        """
        import pandas as pd

        when = time_field(ctx.kind, set(rows.columns))
        ordered = rows.sort_values(when, kind="stable") if when else rows
        known = ordered["customer_id"].notna()
        first = ordered[known].drop_duplicates("customer_id", keep="first")
        units = pd.concat([first.assign(_new=1), ordered[~known].assign(_new=0)])
        if IN_WINDOW in units:  # first bought before --since (or after --until): not new here
            units = units[units[IN_WINDOW].astype(bool)]
        return units

    def tally(self, rows: pd.DataFrame, opts: Options) -> Tally:
        return {"new": rows["_new"], "no_id": 1 - rows["_new"]}

    def estimate(self, s: Sums, opts: Options, confidence: float) -> Estimate:
        detail = {"new_customers": int(s.new), "rows_without_customer_id": int(s.no_id)}
        return Estimate(float(s.new), int(s.new), detail=detail)


@dataclass(frozen=True)
class CacOptions(Options):
    variant: Literal["blended"] = "blended"


@kpi(
    name="cac",
    title="Customer acquisition cost",
    source=("spend", "orders", "subscriptions"),
    fields=("amount", "customer_id"),
    unit="currency",
    higher_is_better=False,
    variants=("blended",),
    formula="CAC = marketing/sales spend in the group / new customers in the group. A customer "
    "is new in the period of their first order (or first subscription start), with orders "
    "before --since counted as history; per channel with --by when both sources have the "
    "segment. Undefined when the group has no new customers, or no spend rows.",
    interval="none: spend and new customers are complete totals, not a sample, so the ratio "
    "has no sampling error to express (its real uncertainty, attribution, is not statistical)",
    parts={"spend": "_spend", "customers": "_new_customers"},
)
class Cac(Kpi):
    """Spend per new customer, in the source's currency; lower is better."""

    Options = CacOptions

    def estimate(self, s: Sums, opts: CacOptions, confidence: float) -> Estimate:
        spend, rows = s.get("spend.total", 0.0), s.get("spend.rows", 0.0)
        new = s.get("customers.new", 0.0)
        detail: dict[str, Any] = {
            "spend": float(spend),
            "new_customers": int(new),
            "spend_rows": int(rows),
            "rows_without_customer_id": int(s.get("customers.no_id", 0.0)),
        }
        if not rows:
            reason = "no spend rows in this group: spend is unknown, not zero"
            return Estimate(None, 0, detail={**detail, "reason": reason})
        if not new:
            return Estimate(None, 0, detail={**detail, "reason": "no new customers in this group"})
        return Estimate(spend / new, int(new), detail=detail)


# -- web: sessions ----------------------------------------------------------------------------


def collapse_units(rows: pd.DataFrame, keys: list[str], unit: str, per_group: bool) -> pd.DataFrame:
    """One row per session (or user): converted if any row is, with its row count as pages.

    Sessions (`per_group` False) take the keys of their first row, so each session is in one
    group of a group set; users (`per_group` True) are distinct per group, like monthly actives.
    Rows without the id are kept as `_no_id` rows so the estimate can count them.
    """
    import pandas as pd

    when = time_field("sessions", set(rows.columns))
    ordered = rows.sort_values(when, kind="stable") if when else rows
    known = ordered[unit].notna()
    ids = ordered[known]
    flags = pd.DataFrame(
        {
            "_hit": ids["converted"].eq(True) if "converted" in ids else False,
            "_known": ids["converted"].notna() if "converted" in ids else True,
            "_pages": 1.0,
        },
        index=ids.index,
    )
    by = [*keys, unit] if per_group else [unit]
    grouped = pd.concat([ids[by], flags], axis=1).groupby(by, sort=False)
    per_unit = grouped.agg({"_hit": "any", "_known": "any", "_pages": "sum"})
    if per_group:
        units = per_unit.reset_index()
    else:
        units = ids.drop_duplicates(unit)[[*keys, unit]].join(per_unit, on=unit)
    missing = ordered.loc[~known, keys].assign(_hit=False, _known=False, _pages=0.0)
    return pd.concat([units.assign(_no_id=0), missing.assign(_no_id=1)], ignore_index=True)


@dataclass(frozen=True)
class WebOptions(Options):
    variant: Literal["standard"] = "standard"
    layout: Layout | None = None  # None: detected from the source's mapped fields


class WebKpi(Kpi):
    """What the web KPIs share: the layout, given in config or detected from the mapping."""

    def resolve_options(self, opts: Any, mapped: frozenset[str]) -> Any:
        return opts if opts.layout else replace(opts, layout=detect_layout(mapped))


Denominator = Literal["sessions", "users"]


@dataclass(frozen=True)
class ConversionOptions(WebOptions):
    variant: Denominator = "sessions"  # always equal to the denominator, so reports name it
    denominator: Denominator | None = None


@kpi(
    name="conversion_rate",
    title="Conversion rate",
    source="sessions",
    fields=("converted",),
    unit="%",
    higher_is_better=True,
    variants=("sessions", "users"),
    formula="conversion rate = 100 * converting units / units, the unit named by denominator: "
    "sessions (default) or users. layout sessions: one row per session (converted); "
    "pageviews: rows grouped by session_id, a session converted when any row is; daily: "
    "sum of conversions / sum of sessions (or users) over the days of the group. Users in "
    "a row export are distinct per group; daily users are summed over days.",
    interval="Wilson score interval; none when daily conversions exceed the denominator "
    "(then they count events, not converting units)",
)
class ConversionRate(WebKpi):
    """Share of sessions (or users) that converted."""

    Options = ConversionOptions

    def check_options(self, opts: ConversionOptions) -> ConversionOptions:
        """`denominator` sets the variant, so every report row names the denominator."""
        if opts.denominator is None or opts.denominator == opts.variant:
            return replace(opts, denominator=opts.variant)
        if opts.variant != "sessions":  # both given, and they disagree
            raise ValueError(
                f"variant '{opts.variant}' and denominator '{opts.denominator}' disagree; "
                "give only denominator: sessions | users"
            )
        return replace(opts, variant=opts.denominator)

    def required_fields(self, opts: ConversionOptions, kind: str) -> tuple[str, ...]:
        if _layout(opts) == "daily":
            return ("conversions", opts.variant)
        if _layout(opts) == "sessions" and opts.variant == "sessions":
            return ("converted",)
        return ("user_id" if opts.variant == "users" else "session_id", "converted")

    def needs_all_rows(self, opts: ConversionOptions) -> bool:
        layout = _layout(opts)
        return layout == "pageviews" or (layout == "sessions" and opts.variant == "users")

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: ConversionOptions, ctx: Context
    ) -> pd.DataFrame:
        users = opts.variant == "users"
        return collapse_units(rows, keys, "user_id" if users else "session_id", per_group=users)

    def tally(self, rows: pd.DataFrame, opts: ConversionOptions) -> Tally:
        if _layout(opts) == "daily":
            hits, units = rows["conversions"], rows[opts.variant]
            complete = hits.notna() & units.notna() & (hits >= 0) & (units >= 0)
            return {
                "units": units.where(complete, 0.0),
                "hits": hits.where(complete, 0.0),
                "no_outcome": ~complete,
                "no_id": _zeros(rows),
            }
        if self.needs_all_rows(opts):
            unit = rows["_no_id"] == 0
            return {
                "units": unit & rows["_known"],
                "hits": unit & rows["_hit"],
                "no_outcome": unit & ~rows["_known"],
                "no_id": rows["_no_id"],
            }
        converted = rows["converted"]
        return {
            "units": converted.notna(),
            "hits": converted.eq(True),
            "no_outcome": converted.isna(),
            "no_id": _zeros(rows),
        }

    def estimate(self, s: Sums, opts: ConversionOptions, confidence: float) -> Estimate:
        detail: dict[str, Any] = {
            "conversions": _count(s.hits),
            opts.variant: _count(s.units),
            "denominator": opts.variant,
            "layout": _layout(opts),
            "excluded_no_outcome": int(s.no_outcome),
            "excluded_no_id": int(s.no_id),
        }
        if _layout(opts) == "daily" and opts.variant == "users":
            detail["users_summed_over_days"] = True
        if s.units <= 0:
            return Estimate(None, 0, detail=detail)
        if s.hits > s.units:
            note = f"conversions exceed {opts.variant}: not a proportion, no interval"
            return Estimate(100.0 * s.hits / s.units, int(s.units), detail={**detail, "note": note})
        return proportion_estimate(s.hits, s.units, confidence, **detail)


@kpi(
    name="pages_per_visit",
    title="Pages per visit",
    source="sessions",
    fields=("pageviews",),
    unit="pages",
    higher_is_better=True,
    variants=("standard",),
    formula="pages per visit = pageviews / sessions. layout sessions: mean of the pageviews "
    "count per session row; pageviews: rows per session_id; daily: sum of pageviews / sum "
    "of sessions over the days of the group.",
    interval="Student t on the per-session page counts (layouts sessions and pageviews); none "
    "for daily aggregates, which do not carry the per-session spread a standard error needs",
)
class PagesPerVisit(WebKpi):
    """Average pageviews per session."""

    Options = WebOptions

    def required_fields(self, opts: WebOptions, kind: str) -> tuple[str, ...]:
        return {
            "sessions": ("pageviews",),
            "pageviews": ("session_id",),
            "daily": ("pageviews", "sessions"),
        }[_layout(opts)]

    def needs_all_rows(self, opts: WebOptions) -> bool:
        return _layout(opts) == "pageviews"

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: WebOptions, ctx: Context
    ) -> pd.DataFrame:
        return collapse_units(rows, keys, "session_id", per_group=False)

    def tally(self, rows: pd.DataFrame, opts: WebOptions) -> Tally:
        if _layout(opts) == "daily":
            pages, sessions = rows["pageviews"], rows["sessions"]
            complete = pages.notna() & sessions.notna() & (pages >= 0) & (sessions >= 0)
            return {
                "n": sessions.where(complete, 0.0),
                "total": pages.where(complete, 0.0),
                "total_sq": _zeros(rows),
                "excluded": ~complete,
            }
        if _layout(opts) == "pageviews":
            unit = rows["_no_id"] == 0
            pages = rows["_pages"]
            return {"n": unit, "total": pages, "total_sq": pages * pages, "excluded": ~unit}
        pages = rows["pageviews"]
        valid = pages.notna() & (pages >= 0)
        filled = pages.where(valid, 0.0)
        return {"n": valid, "total": filled, "total_sq": filled * filled, "excluded": ~valid}

    def estimate(self, s: Sums, opts: WebOptions, confidence: float) -> Estimate:
        detail: dict[str, Any] = {
            "pageviews": _count(s.total),
            "sessions": _count(s.n),
            "layout": _layout(opts),
            "excluded_rows": int(s.excluded),
        }
        if s.n <= 0:
            return Estimate(None, 0, detail=detail)
        if _layout(opts) == "daily":
            return Estimate(s.total / s.n, int(s.n), detail=detail)
        return mean_estimate(s.n, s.total, s.total_sq, confidence, **detail)
