"""Acquisition and web KPIs: CAC, LTV:CAC, CAC payback, conversion rate, pages per visit.

CAC is built from two hidden parts on two sources: `_spend` (kind spend, an additive total) and
`_new_customers` (kinds orders or subscriptions: each customer counted once, in the group of
their first order or first subscription start). The engine joins their sums per group.
With CLV: `ltv_cac` adds the visible `clv` KPI as a third part and divides its finished figure
(`clv.value`, which the engine adds for parts that are KPIs of their own) by CAC; and
`payback_months` adds a hidden `_arpa` part (revenue per customer-month active, on the activity
rule of the retention KPIs) and divides CAC by ARPA * gross_margin.

Web KPIs read a `sessions` source in one of three layouts, named by the `layout` option or,
when it is not given, detected from the mapped fields by `detect_layout`:
- `sessions`: one row per session (`converted`, a `pageviews` count); additive;
- `pageviews`: one row per pageview with `session_id`; a session is its rows, placed in the
  group of its first row, converted when any of its rows is;
- `daily`: per-day aggregates (`sessions`, `users`, `pageviews`, `conversions`); additive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from cx_cli.errors import ConfigError
from cx_cli.fields import TIME_FIELD, time_field
from cx_cli.kpis.base import (
    ALL,
    PERIOD,
    REGISTRY,
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
from cx_cli.kpis.retention import (
    DAY_NS,
    DAYS_PER_YEAR,
    ClvOptions,
    Timeline,
    data_extent,
    spans,
    window_detail,
)
from cx_cli.sources import IN_WINDOW, SEGMENT_PREFIX

if TYPE_CHECKING:
    import numpy as np
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

    def unit_of(self, opts: Options, ctx: Context) -> str:
        return "customer_id"

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
        cac, detail, reason = cac_figure(s)
        if reason is not None:
            return _undefined_composite(detail, reason)
        return Estimate(cac, detail["new_customers"], detail=detail)


def _undefined_composite(detail: dict[str, Any], reason: str | None) -> Estimate:
    """No value, and why; n stays the group's new customers, as for a value (a channel with
    239 new customers but no spend rows has n 239, not 0: its sample is not small)."""
    return Estimate(None, detail["new_customers"], detail={**detail, "reason": reason})


def cac_figure(s: Sums) -> tuple[float | None, dict[str, Any], str | None]:
    """CAC from a composite's `spend.*` and `customers.*` sums: value, detail, why undefined."""
    spend, rows = s.get("spend.total", 0.0), s.get("spend.rows", 0.0)
    new = s.get("customers.new", 0.0)
    detail: dict[str, Any] = {
        "spend": float(spend) if rows else None,  # no spend rows: unknown, not 0
        "new_customers": int(new),
        "spend_rows": int(rows),
        "rows_without_customer_id": int(s.get("customers.no_id", 0.0)),
    }
    if not rows:
        return None, detail, "no spend rows in this group: spend is unknown, not zero"
    if not new:
        return None, detail, "no new customers in this group"
    return spend / new, detail, None


# -- with CLV: LTV:CAC and CAC payback ---------------------------------------------------------

DAYS_PER_MONTH = DAYS_PER_YEAR / 12
ARPA_COLUMNS = ("customers", "customer_days", "revenue", "without_value")
ARPA_MARKER = ("windows", "window_start", "window_end", "complete", "from_orders")


def _day_ordinal(ns: int) -> float:
    """A nanosecond instant's day as a proleptic ordinal (what `window_detail` reads)."""
    return float((dt.date(1970, 1, 1) + dt.timedelta(days=ns // DAY_NS)).toordinal())


def _earned(timeline: Timeline, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: revenue earned in [a, b), and how many of its rows there lack the value.

    Orders earn their amount when placed in the window; a subscription earns its MRR for each
    month (365.25 / 12 days) of its cover inside the window, so upgrades and overlaps add up.
    """
    import numpy as np

    values = timeline.row_value if timeline.row_value is not None else np.zeros(0)
    known = ~np.isnan(values)
    if timeline.kind == "orders":
        counted = (timeline.row_start >= a) & (timeline.row_start < b)
        amounts = values
    else:
        cover = np.minimum(timeline.row_end, b) - np.maximum(timeline.row_start, a)
        counted = cover > 0
        amounts = values * (np.clip(cover, 0, None) / DAY_NS / DAYS_PER_MONTH)
    earned = np.where(counted & known, amounts, 0.0)
    missing = (counted & ~known).astype("float64")
    units, size = timeline.row_unit, timeline.size
    return (
        np.bincount(units, weights=earned, minlength=size),
        np.bincount(units, weights=missing, minlength=size),
    )


def arpa_windows(
    rows: pd.DataFrame, keys: list[str], ctx: Context, inactive_days: int | None
) -> pd.DataFrame:
    """One row per (window, unit) active in it (revenue, days active), plus a marker per group.

    Windows, units and activity are those of the retention KPIs (`Timeline`, `spans`): every
    calendar period clipped to --since/--until and the data, or the whole window overall; a
    unit is a customer within the group's segment values. A unit with a row in the window that
    lacks its amount (or MRR) is left out of revenue and days alike, and counted.
    """
    import numpy as np
    import pandas as pd

    segments = [k for k in keys if k.startswith(SEGMENT_PREFIX)]
    by_period = PERIOD in keys
    value = "amount" if ctx.kind == "orders" else "mrr"
    timeline = Timeline.build(rows, segments, ctx.kind, inactive_days, value)
    empty = pd.DataFrame(columns=[*keys, *ARPA_COLUMNS, *ARPA_MARKER])
    first, last = ctx.extent or (timeline.first_date, timeline.last_date)
    if first is None or last is None:
        return empty
    frames = []
    for span in spans(first, last, ctx, by_period):
        days = timeline.measure(span.start, span.end)["active_days"]
        earned, unknown = _earned(timeline, span.start, span.end)
        known = unknown == 0
        chosen = np.flatnonzero(days > 0)
        part = timeline.units.iloc[chosen].reset_index(drop=True)
        part["customers"] = known[chosen].astype("float64")
        part["customer_days"] = np.where(known, days, 0.0)[chosen]
        part["revenue"] = np.where(known, earned, 0.0)[chosen]
        part["without_value"] = (~known)[chosen].astype("float64")
        marker = timeline.combos.copy()
        for name in ARPA_COLUMNS:
            marker[name] = 0.0
        marker["windows"] = 1.0
        marker["window_start"] = _day_ordinal(span.start)
        marker["window_end"] = _day_ordinal(span.end)
        marker["complete"] = float(span.complete)
        marker["from_orders"] = float(ctx.kind == "orders")
        for name in ARPA_MARKER:
            part[name] = 0.0
        for frame in (part, marker):
            frame[ALL] = 0
            if by_period:
                frame[PERIOD] = span.period
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else empty


@dataclass(frozen=True)
class ArpaOptions(Options):
    variant: Literal["standard"] = "standard"
    inactive_days: int | None = None


def _check_margin(margin: float | None) -> None:
    if margin is not None and not 0 < margin <= 1:
        raise ValueError(f"gross_margin is a fraction between 0 and 1 (0.6 for 60 %), not {margin}")


def _check_inactive_days(days: int | None) -> None:
    if days is not None and days < 1:
        raise ValueError(f"inactive_days must be a whole number of days >= 1, not {days}")


ARPA_FORMULA = (
    "ARPA per month = revenue earned in the group / customer-months active in it (a month = "
    "365.25 / 12 days). Orders: revenue = amounts of the orders placed in the group; a "
    "customer is active at t when they ordered in the inactive_days before t (the churn "
    "rule). Subscriptions: revenue = each subscription's MRR times the months it runs inside "
    "the group; a customer is active while any subscription runs. So it is the time-weighted "
    "mean monthly revenue of the customers active in the group; a customer with a row in the "
    "group lacking its amount (MRR) is left out of both sums (detail.customers_without_value)."
)


@kpi(
    name="_arpa",
    title="Average revenue per account per month",
    source=("orders", "subscriptions"),
    fields=("customer_id", "ordered_at", "amount", "started_at", "ended_at", "mrr"),
    unit="currency",
    higher_is_better=True,
    variants=("standard",),
    formula=ARPA_FORMULA,
    interval="none: every active customer is counted, not a sample",
    hidden=True,
)
class Arpa(Kpi):
    """Revenue per active customer per month, time-weighted over the group's window."""

    Options = ArpaOptions

    def check_options(self, opts: ArpaOptions) -> ArpaOptions:
        _check_inactive_days(opts.inactive_days)
        return opts

    def required_fields(self, opts: ArpaOptions, kind: str) -> tuple[str, ...]:
        if kind == "orders":
            if opts.inactive_days is None:
                raise ConfigError(
                    "KPI 'payback_months' on an orders source needs 'inactive_days' (how many "
                    "days without an order end a customer's activity): ARPA is revenue per "
                    "customer-month active",
                    hint="e.g. - {kpi: payback_months, inactive_days: 90, sources: {...}}",
                )
            return ("customer_id", "ordered_at", "amount")
        if opts.inactive_days is not None:
            raise ConfigError(
                "KPI 'payback_months': inactive_days applies to an orders source only; on "
                "subscriptions a customer is active while a subscription runs",
                hint="remove inactive_days from this KPI entry",
            )
        return ("customer_id", "started_at", "ended_at", "mrr")

    group_facts = frozenset(ARPA_MARKER)

    def needs_all_rows(self, opts: ArpaOptions) -> bool:
        return True

    def needs_history(self, opts: ArpaOptions) -> bool:
        return True

    def unit_of(self, opts: ArpaOptions, ctx: Context) -> str:
        return "customer_id"

    def extent(self, rows: pd.DataFrame, opts: ArpaOptions, kind: str) -> tuple[Any, Any] | None:
        return data_extent(rows, kind)

    def prepare(
        self, rows: pd.DataFrame, keys: list[str], opts: ArpaOptions, ctx: Context
    ) -> pd.DataFrame:
        return arpa_windows(rows, keys, ctx, opts.inactive_days)

    def tally(self, rows: pd.DataFrame, opts: ArpaOptions) -> Tally:
        return {c: rows[c] for c in (*ARPA_COLUMNS, *ARPA_MARKER)}

    def estimate(self, s: Sums, opts: ArpaOptions, confidence: float) -> Estimate:
        arpa, detail = arpa_figure(s)
        return Estimate(arpa, detail["arpa_customers"], detail=detail)


def arpa_figure(s: Mapping[str, float]) -> tuple[float | None, dict[str, Any]]:
    """ARPA per month from `_arpa` sums (None without active customers), with its detail."""
    months = s.get("customer_days", 0.0) / DAYS_PER_MONTH
    revenue = s.get("revenue", 0.0)
    arpa = revenue / months if months > 0 else None
    window = window_detail(Sums(s))
    detail: dict[str, Any] = {
        "arpa": arpa,
        "arpa_revenue": revenue,
        "arpa_customers": int(s.get("customers", 0.0)),
        "customer_months": months,
        "customers_without_value": int(s.get("without_value", 0.0)),
        "arpa_from": window["from"],
        "arpa_to": window["to"],
        "arpa_complete": window["complete"],
    }
    return arpa, detail


def _role(s: Sums, role: str) -> Sums:
    """One part's columns of a composite's sums, without the `role.` prefix."""
    prefix = f"{role}."
    return Sums({k[len(prefix) :]: v for k, v in s.items() if k.startswith(prefix)})


@dataclass(frozen=True)
class PaybackOptions(Options):
    variant: Literal["standard"] = "standard"
    gross_margin: float = 1.0
    inactive_days: int | None = None


@kpi(
    name="payback_months",
    title="CAC payback period",
    source=("spend", "orders", "subscriptions"),
    fields=("amount", "customer_id", "ordered_at", "started_at", "ended_at", "mrr"),
    unit="months",
    higher_is_better=False,
    variants=("standard",),
    formula="payback = CAC / (ARPA per month * gross_margin), in months; CAC as for the cac KPI "
    "(spend / new customers in the group), gross_margin 1 unless given (detail.gross_margin). "
    f"{ARPA_FORMULA} Roles: spend (a spend source), customers (who is new) and arpa (whose "
    "revenue), normally the same orders or subscriptions source. n: new customers. Undefined "
    "when CAC is, or when ARPA * gross_margin is 0 or unknown (no active customers); CAC 0 "
    "(spend rows summing to 0) gives 0 months.",
    interval="none: CAC and ARPA are complete totals over every customer, not samples, and the "
    "real uncertainty (attribution, margin) is not statistical",
    parts={"spend": "_spend", "customers": "_new_customers", "arpa": "_arpa"},
)
class PaybackMonths(Kpi):
    """Months of gross profit from an average customer that pay back their acquisition cost."""

    Options = PaybackOptions

    def check_options(self, opts: PaybackOptions) -> PaybackOptions:
        _check_margin(opts.gross_margin)
        _check_inactive_days(opts.inactive_days)
        return opts

    def estimate(self, s: Sums, opts: PaybackOptions, confidence: float) -> Estimate:
        cac, detail, reason = cac_figure(s)
        arpa, arpa_detail = arpa_figure(_role(s, "arpa"))
        margin = opts.gross_margin
        detail = {"cac": cac, **detail, **arpa_detail, "gross_margin": margin}
        if reason is None and arpa is None:
            reason = "no active customer with a known revenue in this group: ARPA is unknown"
        elif reason is None and not arpa * margin:
            reason = "ARPA * gross_margin is 0: the cost is never paid back"
        if reason is not None or cac is None or arpa is None:
            return _undefined_composite(detail, reason)
        return Estimate(cac / (arpa * margin), detail["new_customers"], detail=detail)


@kpi(
    name="ltv_cac",
    title="LTV:CAC ratio",
    source=("spend", "orders", "subscriptions"),
    fields=("amount", "customer_id", "ordered_at", "started_at", "ended_at", "mrr"),
    unit="ratio",
    higher_is_better=True,
    variants=("purchase", "historical", "subscription"),
    formula="LTV:CAC = CLV / CAC per group: CLV is the clv KPI's figure for the group, with "
    "this entry's method, gross_margin, lifespan_years and inactive_days (method default: "
    "purchase on orders, subscription on subscriptions); CAC as for the cac KPI (spend / new "
    "customers in the group). Roles: clv and customers (normally the same orders or "
    "subscriptions source), spend. n: new customers (detail.clv_customers: CLV's n). "
    "Undefined when CAC or CLV is, or when CAC is 0.",
    interval="none: CAC is a ratio of complete totals with no sampling error, and CLV "
    "(purchase, subscription) is a product or ratio of correlated estimates with no honest "
    "closed form; their ratio has none either (historical CLV's t interval ignores the "
    "model behind the ratio, so it is not carried over)",
    parts={"clv": "clv", "spend": "_spend", "customers": "_new_customers"},
)
class LtvCac(Kpi):
    """Lifetime value per unit of acquisition cost; 3 or more is the usual rule of thumb."""

    Options = ClvOptions

    def check_options(self, opts: ClvOptions) -> ClvOptions:
        return REGISTRY["clv"].check_options(opts)

    def estimate(self, s: Sums, opts: ClvOptions, confidence: float) -> Estimate:
        cac, detail, reason = cac_figure(s)
        raw = s.get("clv.value")
        clv = None if raw is None or raw != raw else float(raw)
        method = opts.method or ("purchase" if s.get("clv.from_orders") else "subscription")
        detail = {
            "clv": clv,
            "cac": cac,
            **detail,
            "clv_customers": int(s.get("clv.n", 0.0)),
            "clv_method": method,
            "gross_margin": opts.gross_margin or 1.0,
        }
        if reason is None and clv is None:
            reason = "CLV is undefined in this group (the clv KPI's detail.reason says why)"
        elif reason is None and not cac:
            reason = "CAC is 0 (no spend): the ratio has no finite value"
        if reason is not None or cac is None or clv is None:
            return _undefined_composite(detail, reason)
        return Estimate(clv / cac, detail["new_customers"], detail=detail)


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

    def unit_of(self, opts: ConversionOptions, ctx: Context) -> str:
        return "user_id" if opts.variant == "users" else "session_id"

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

    def unit_of(self, opts: WebOptions, ctx: Context) -> str:
        return "session_id"

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
