"""What a KPI is: a `tally` of additive statistics per row plus an `estimate` from their sums.

Grouping, batching and engines live outside the KPIs (see `cx_cli.analysis`), so one definition
runs on one frame, on chunks of a file, or on a distributed dataframe. This module imports no
pandas, so listing and explaining KPIs stays fast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from cx_cli import stats

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


class Sums(dict[str, float]):
    """One group's summed tally statistics, readable as attributes (`s.promoters`)."""

    def __getattr__(self, name: str) -> float:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


@dataclass(frozen=True)
class ProportionBasis:
    """What a two-proportion test needs."""

    successes: float
    n: float


@dataclass(frozen=True)
class NetScoreBasis:
    """What the NPS-style (+1/0/-1 per answer) two-sample test needs."""

    plus: float
    minus: float
    n: float


@dataclass(frozen=True)
class MeanBasis:
    """What Welch's test needs."""

    n: float
    total: float
    total_sq: float


Basis = ProportionBasis | NetScoreBasis | MeanBasis


def change_p_value(a: Basis | None, b: Basis | None) -> float | None:
    """Two-sided p-value for the difference between two estimates of the same kind."""
    if a is None or b is None or type(a) is not type(b):
        return None
    if isinstance(a, ProportionBasis):
        return stats.two_proportion_test(a.successes, a.n, b.successes, b.n)
    if isinstance(a, NetScoreBasis):
        test = stats.nps_test(a.plus, a.minus, a.n, b.plus, b.minus, b.n)
        return None if test is None else test[1]
    return stats.mean_test(a.n, a.total, a.total_sq, b.n, b.total, b.total_sq)


@dataclass(frozen=True)
class Estimate:
    """A KPI's value for one group, with its sample size, interval and the counts behind it."""

    value: float | None
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    basis: Basis | None = None


def proportion_estimate(successes: float, n: float, confidence: float, **detail: Any) -> Estimate:
    """A percentage with a Wilson score interval."""
    if n <= 0:
        return Estimate(None, 0, detail=detail)
    low, high = stats.wilson_interval(successes, n, confidence)
    return Estimate(
        100.0 * successes / n,
        int(n),
        100.0 * low,
        100.0 * high,
        "wilson",
        detail,
        ProportionBasis(successes, n),
    )


def mean_estimate(
    n: float, total: float, total_sq: float, confidence: float, **detail: Any
) -> Estimate:
    """A mean with a Student t interval (none below two answers)."""
    if n <= 0:
        return Estimate(None, 0, detail=detail)
    interval = stats.mean_interval(n, total, total_sq, confidence)
    low, high = interval if interval is not None else (None, None)
    sd = stats.sample_variance(n, total, total_sq)
    detail = {**detail, "sd": None if sd is None else sd**0.5}
    method = "t" if interval is not None else None  # one answer: no interval, no method
    return Estimate(total / n, int(n), low, high, method, detail, MeanBasis(n, total, total_sq))


def floored_at_zero(est: Estimate, negatives: float) -> Estimate:
    """The estimate with its interval's lower end raised to 0 when none of the values
    averaged is negative: a mean of non-negative values is never below 0."""
    if est.ci_low is None or negatives or est.ci_low >= 0:
        return est
    return dataclasses.replace(est, ci_low=0.0)


def net_score_estimate(
    plus: float, minus: float, n: float, confidence: float, method: str, **detail: Any
) -> Estimate:
    """100 * (plus - minus) / n, each answer scoring +1/0/-1 (NPS, CES index)."""
    if n <= 0:
        return Estimate(None, 0, detail=detail)
    low, high = stats.nps_interval(plus, minus, n, confidence, method)
    return Estimate(
        100.0 * (plus - minus) / n,
        int(n),
        low,
        high,
        method,
        detail,
        NetScoreBasis(plus, minus, n),
    )


@dataclass(frozen=True)
class Options:
    """Options every KPI takes; a KPI subclasses this with its own knobs."""

    variant: str = ""


Tally = Mapping[str, Any]  # column name -> boolean or numeric Series aligned with the rows

# Key columns the engine groups by; a KPI's `prepare` may build them itself (e.g. churn, whose
# subscriptions span many periods, writes one row per (period, customer)).
ALL = "_all"
PERIOD = "_period"
# The `Shared` key of the rows inside --since/--until: the engine's and the KPIs' one copy.
WINDOWED = "rows inside --since/--until"


class Shared:
    """Figures that several whole-rows KPIs, or one KPI over several group sets, work out from
    the same rows (distinct customers per group, say): each is computed once per run.

    Keyed by the rows' identity and a key naming the figure; the rows are kept with the figure,
    so that identity cannot be reused while it is stored.
    """

    def __init__(self) -> None:
        self._found: dict[tuple[int, Hashable], tuple[object, Any]] = {}

    def get(self, rows: pd.DataFrame, key: Hashable, compute: Callable[[], T]) -> T:
        found = self._found.get((id(rows), key))
        if found is None:
            found = self._found[(id(rows), key)] = (rows, compute())
        return found[1]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Context:
    """What a whole-rows KPI knows of the run: source kind, period unit and date window, and
    the figures its KPIs share (`Shared`)."""

    kind: str = ""
    period: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    shared: Shared = field(default_factory=Shared, compare=False, repr=False)
    # The KPI's `extent` of all its rows, when `prepare` sees only some of them (the Dask engine
    # splits rows by `unit_of`); None: `prepare` works it out from the rows it is given.
    extent: tuple[Any, ...] | None = None


class Kpi:
    """Base of every KPI definition; the `@kpi` decorator fills the class attributes."""

    name: ClassVar[str]
    title: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]]  # source kinds it reads
    fields: ClassVar[tuple[str, ...]]
    unit: ClassVar[str]
    higher_is_better: ClassVar[bool]
    variants: ClassVar[tuple[str, ...]]
    Options: ClassVar[type[Options]] = Options
    formula: ClassVar[str] = ""
    interval: ClassVar[str] = ""
    # A KPI built from other sources' statistics (CAC = spend / new customers) names its parts:
    # role -> the (hidden) KPI whose summed tallies it reads, as "role.column" in `estimate`.
    parts: ClassVar[Mapping[str, str]] = {}
    hidden: ClassVar[bool] = False
    # Tally columns a whole-rows KPI writes once per group, not per unit (a window's dates, the
    # number of calendar units): equal in every split of the rows that has the group, so the
    # splits' sums take them once (their maximum) instead of adding them up.
    group_facts: ClassVar[frozenset[str]] = frozenset()

    def check_options(self, opts: Any) -> Any:
        """Options made consistent (or ValueError saying what is wrong with them)."""
        return opts

    def resolve_options(self, opts: Any, mapped: frozenset[str]) -> Any:
        """Options whose unset choices are made from the fields the source maps (or ValueError)."""
        return opts

    def required_fields(self, opts: Any, kind: str) -> tuple[str, ...]:
        """Fields this KPI reads from a source of `kind` with these options."""
        return self.fields

    def unit_for(self, opts: Any) -> str:
        """The unit of the value with these options."""
        return self.unit

    def better_high(self, opts: Any) -> bool:
        """Whether a higher value is better with these options."""
        return self.higher_is_better

    def needs_all_rows(self, opts: Any) -> bool:
        """True when the KPI must see every row of a group at once (de-duplication, histories)."""
        return False

    def needs_history(self, opts: Any) -> bool:
        """True when rows before --since still matter (who was a customer at the start)."""
        return False

    def unit_of(self, opts: Any, ctx: Context) -> str | None:
        """The column whose values split a whole-rows KPI's rows into independent units (a
        customer, a session); None when they cannot be split (in this run:
        `ctx` gives the source kind and the period).

        Run on rows split so that each unit's rows stay together (in file order), `prepare`
        and `tally` give sums that add up to those of all rows, given the `extent` of all rows
        in `Context.extent` and the `group_facts` taken once: how the Dask engine aggregates per
        customer on its workers.
        """
        return None

    def extent(self, rows: pd.DataFrame, opts: Any, kind: str) -> tuple[Any, ...] | None:
        """Facts about all the rows that `prepare` reads besides each unit's own rows: their
        first and last instants, as the KPI counts them (None: none; either end may be None),
        and, for a KPI whose units count in groups they have no rows in, the groups: (key
        columns, set of key values). Splits' extents combine into the smallest first, the
        largest last and every group (`analysis.add_extents`)."""
        return None

    def prepare(self, rows: pd.DataFrame, keys: list[str], opts: Any, ctx: Context) -> pd.DataFrame:
        """A non-additive stage before tallying, run per group set (only if needs_all_rows).

        It returns rows carrying the `keys` columns, ready for `tally`.
        """
        return rows

    def observations(self, rows: pd.DataFrame, opts: Any) -> pd.Series | None:
        """Per-row values whose median and p90 the engine adds to the sums (None: no quantiles;
        NaN: a row without a value). The engine counts each value per group
        (`cx_cli.quantiles`), so a KPI with observations still streams."""
        return None

    def tally(self, rows: pd.DataFrame, opts: Any) -> Tally:
        """Per-row contributions to additive statistics."""
        raise NotImplementedError

    def estimate(self, s: Sums, opts: Any, confidence: float) -> Estimate:
        """The value, n and interval from one group's summed statistics."""
        raise NotImplementedError

    def option_names(self) -> tuple[str, ...]:
        """The options this KPI accepts in a config's long form."""
        return tuple(f.name for f in dataclasses.fields(self.Options))


REGISTRY: dict[str, Kpi] = {}


def kpi(
    *,
    name: str,
    title: str,
    source: str | tuple[str, ...],
    fields: tuple[str, ...],
    unit: str,
    higher_is_better: bool,
    variants: tuple[str, ...],
    formula: str,
    interval: str,
    parts: Mapping[str, str] | None = None,
    hidden: bool = False,
) -> Callable[[type[Kpi]], type[Kpi]]:
    """Register a KPI definition under its stable name."""

    def register(cls: type[Kpi]) -> type[Kpi]:
        for attr, value in dict(
            name=name,
            title=title,
            kinds=(source,) if isinstance(source, str) else tuple(source),
            fields=fields,
            unit=unit,
            higher_is_better=higher_is_better,
            variants=variants,
            formula=formula,
            interval=interval,
            parts=dict(parts or {}),
            hidden=hidden,
        ).items():
            setattr(cls, attr, value)
        REGISTRY[name] = cls()
        return cls

    return register
