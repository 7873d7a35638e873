"""Support KPIs (source kind `tickets`): FCR, AHT, first response and resolution time, reopens.

Exactly as KPIS.md "Support KPIs" defines them. Durations are calendar time in seconds; a
negative duration is a data error, counted in the detail and never averaged. Choices that depend
on what the source maps (the FCR method, which column says "solved", whether reopens are known,
where handle time comes from) are left unset (None) by default and filled in by
`resolve_options` from the mapped fields; unresolved, they fall back to KPIS.md's primary fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from cx_cli.coerce import NO_SHIFT
from cx_cli.fields import shift_column
from cx_cli.kpis.base import (
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
    import pandas as pd

SolvedBy = Literal["status", "solved_at", "status_then_solved_at"]
FcrMethod = Literal["contacts", "flag", "replies"]

SOLVED_STATUSES = ("solved", "closed", "resolved")
METHOD_FIELD = {"contacts": "contacts", "flag": "first_contact_resolved", "replies": "replies"}
SOLVED_FIELDS = {
    "status": ("status",),
    "solved_at": ("solved_at",),
    "status_then_solved_at": ("status", "solved_at"),
}
HANDLE_PARTS = ("talk_seconds", "hold_seconds", "wrap_seconds")
# What an unset choice means when the mapped fields are not known: KPIS.md's primary fields.
PRIMARY_FIELDS = frozenset({"contacts", "solved_at", "handle_seconds"})
CALENDAR = "calendar time (business hours are not taken out)"


def _none_if_nan(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _count(s: Sums, name: str) -> int:
    return int(s.get(name, 0.0))


# -- shared rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class SolvedOptions(Options):
    """Which tickets count as solved: by status, by a solved_at timestamp, or status first."""

    variant: Literal["standard"] = "standard"
    solved_by: SolvedBy | None = None  # None: from the mapped fields (status wins when both)
    solved_statuses: tuple[str, ...] = SOLVED_STATUSES


def _solved_by(name: str, mapped: frozenset[str]) -> SolvedBy:
    if {"status", "solved_at"} <= mapped:
        return "status_then_solved_at"
    if "status" in mapped:
        return "status"
    if "solved_at" in mapped:
        return "solved_at"
    raise ValueError(
        f"KPI '{name}' needs 'solved_at' or 'status' to know which tickets are solved; map one "
        "of them (with both, the status decides, and solved_at when the status is blank)"
    )


SolvedT = TypeVar("SolvedT", bound=SolvedOptions)


def _check_statuses(opts: SolvedT) -> SolvedT:
    statuses = tuple(dict.fromkeys(s.strip().lower() for s in opts.solved_statuses if s.strip()))
    if not statuses:
        raise ValueError("solved_statuses needs at least one status, e.g. [solved, closed]")
    return replace(opts, solved_statuses=statuses)


class _SolvedChoice(Generic[SolvedT]):
    """The option handling of a KPI whose one choice is which tickets count as solved."""

    name: str

    def check_options(self, opts: SolvedT) -> SolvedT:
        return _check_statuses(opts)

    def resolve_options(self, opts: SolvedT, mapped: frozenset[str]) -> SolvedT:
        return opts if opts.solved_by else replace(opts, solved_by=_solved_by(self.name, mapped))

    def _concrete(self, opts: SolvedT) -> SolvedT:
        return self.resolve_options(opts, PRIMARY_FIELDS)


def solved_mask(rows: pd.DataFrame, opts: SolvedOptions) -> pd.Series:
    """True where a ticket is solved now: by its status, or its solved_at when status is blank."""
    import pandas as pd

    solved = pd.Series(False, index=rows.index)
    has_status = pd.Series(False, index=rows.index)
    if opts.solved_by in ("status", "status_then_solved_at"):
        status = rows["status"].fillna("").astype(str).str.strip().str.lower()
        has_status = status != ""
        solved = status.isin(opts.solved_statuses)
    if opts.solved_by in ("solved_at", "status_then_solved_at"):
        solved = solved | (~has_status & rows["solved_at"].notna())
    return solved


def reopened_mask(rows: pd.DataFrame) -> pd.Series:
    """True where `reopened` is a positive count or true; blank means not reopened."""
    import pandas as pd

    values = rows["reopened"]
    if values.dtype == object:
        values = values.map(lambda v: float(v) if isinstance(v, bool) else v)
    return (pd.to_numeric(values, errors="coerce").fillna(0.0) > 0).astype(bool)


def _durations(rows: pd.DataFrame, start: str, end: str) -> pd.Series:
    """end - start in seconds of elapsed time (NaN where either is missing).

    Date-times are on the source's local clock; where a `timezone` moved both onto it, their
    shifts are beside them (`fields.ELAPSED`), and a duration across a daylight-saving change
    takes the jump out: a ticket answered an hour after it was opened on the night the clocks
    go back took 3,600 s, not 0 s. A date-time without an offset is taken as it is."""
    import numpy as np

    seconds = (rows[end] - rows[start]).dt.total_seconds()
    if shift_column(start) not in rows or shift_column(end) not in rows:
        return seconds
    before, after = rows[shift_column(start)].to_numpy(), rows[shift_column(end)].to_numpy()
    both = (before != NO_SHIFT) & (after != NO_SHIFT)
    jump = np.where(both, after - before, 0) / 1e9
    return seconds - jump


def _duration_tally(seconds: pd.Series, missing: str) -> Tally:
    """Moments of the non-negative durations; missing and negative ones only counted."""
    valid = seconds >= 0
    kept = seconds.where(valid, 0.0)
    return {
        "n": valid,
        "total": kept,
        "total_sq": kept * kept,
        missing: seconds.isna(),
        "negative_durations": seconds < 0,
    }


def _duration_estimate(s: Sums, confidence: float, missing: str, **detail: Any) -> Estimate:
    """Mean with a t interval, clipped at 0 (a mean duration is never negative)."""
    est = mean_estimate(
        s.get("n", 0.0),
        s.get("total", 0.0),
        s.get("total_sq", 0.0),
        confidence,
        **{missing: _count(s, missing)},
        negative_durations=_count(s, "negative_durations"),
        median=_none_if_nan(s.get("median")),
        p90=_none_if_nan(s.get("p90")),
        **detail,
    )
    return floored_at_zero(est, 0)  # negative durations are counted, never averaged


# -- FCR -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FcrOptions(SolvedOptions):
    method: FcrMethod | None = None  # None: contacts, else flag, else replies (as mapped)
    denominator: Literal["all", "resolved"] = "all"
    use_reopened: bool | None = None  # None: when `reopened` is mapped


@kpi(
    name="fcr",
    title="First contact resolution",
    source="tickets",
    fields=("contacts", "replies", "first_contact_resolved", "status", "solved_at", "reopened"),
    unit="%",
    higher_is_better=True,
    variants=("standard",),
    formula="FCR = 100 * tickets solved on the first contact / tickets (denominator: all), "
    "or / solved tickets (denominator: resolved). First contact, by method: contacts "
    "(customer contacts <= 1 and solved; default when contacts is mapped), flag (a true "
    "first_contact_resolved and solved), replies (agent replies <= 1 and solved). A reopened "
    "ticket (reopened > 0 or true, when mapped) is never first-contact. Solved: status in "
    "solved_statuses (default solved, closed, resolved; any case), or a solved_at when "
    "the status is blank or not mapped. A solved ticket whose contacts/replies/flag is blank is "
    "left out of n (detail: undetermined).",
    interval="Wilson score interval",
)
class Fcr(Kpi):
    """Share of tickets resolved on the customer's first contact."""

    Options = FcrOptions

    def check_options(self, opts: FcrOptions) -> FcrOptions:
        return _check_statuses(opts)

    def resolve_options(self, opts: FcrOptions, mapped: frozenset[str]) -> FcrOptions:
        """Unset choices made from the mapped fields (ValueError when none fits)."""
        method = opts.method
        if method is None:
            method = next(
                (m for m in ("contacts", "flag", "replies") if METHOD_FIELD[m] in mapped), None
            )
        if method is None:
            raise ValueError(
                "KPI 'fcr' needs 'contacts', 'first_contact_resolved' or 'replies' to know which "
                "tickets were resolved on the first contact (method: contacts | flag | replies)"
            )
        return replace(
            opts,
            method=method,
            solved_by=opts.solved_by or _solved_by(self.name, mapped),
            use_reopened="reopened" in mapped if opts.use_reopened is None else opts.use_reopened,
        )

    def _concrete(self, opts: FcrOptions) -> FcrOptions:
        unset = None in (opts.method, opts.solved_by, opts.use_reopened)
        return self.resolve_options(opts, PRIMARY_FIELDS) if unset else opts

    def required_fields(self, opts: FcrOptions, kind: str) -> tuple[str, ...]:
        opts = self._concrete(opts)
        reopened = ("reopened",) if opts.use_reopened else ()
        return (METHOD_FIELD[opts.method or ""], *SOLVED_FIELDS[opts.solved_by or ""], *reopened)

    def tally(self, rows: pd.DataFrame, opts: FcrOptions) -> Tally:
        import pandas as pd

        opts = self._concrete(opts)
        solved = solved_mask(rows, opts)
        reopened = reopened_mask(rows) if opts.use_reopened else pd.Series(False, index=rows.index)
        evidence = rows[METHOD_FIELD[opts.method or ""]]
        known = evidence.notna()
        if opts.method == "flag":
            one_touch = evidence.where(known, False).astype(bool)
        else:
            one_touch = (evidence <= 1).astype(bool)
        candidate = solved & ~reopened
        undetermined = candidate & ~known
        counted = ~undetermined
        return {
            "tickets": counted,
            "resolved": solved & counted,
            "first_contact": candidate & known & one_touch,
            "reopened": reopened & counted,
            "undetermined": undetermined,
        }

    def estimate(self, s: Sums, opts: FcrOptions, confidence: float) -> Estimate:
        opts = self._concrete(opts)
        n = s.get("tickets", 0.0) if opts.denominator == "all" else s.get("resolved", 0.0)
        return proportion_estimate(
            s.get("first_contact", 0.0),
            n,
            confidence,
            first_contact=_count(s, "first_contact"),
            tickets=_count(s, "tickets"),
            resolved=_count(s, "resolved"),
            reopened=_count(s, "reopened"),
            undetermined=_count(s, "undetermined"),
            denominator="all tickets" if opts.denominator == "all" else "resolved tickets",
            method=opts.method,
            solved_by=opts.solved_by,
        )


# -- AHT -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AhtOptions(Options):
    variant: Literal["standard"] = "standard"
    # The fields summed into handle time: [handle_seconds], or some of talk_seconds,
    # hold_seconds, wrap_seconds. None: handle_seconds when mapped, else the mapped parts.
    handle_time: tuple[str, ...] | None = None


@kpi(
    name="aht",
    title="Average handle time",
    source="tickets",
    fields=("handle_seconds", *HANDLE_PARTS),
    unit="seconds",
    higher_is_better=False,
    variants=("standard",),
    formula="AHT = mean handle time per handled interaction, in seconds, with the median and "
    "p90 beside it. Handle time = handle_seconds when mapped, else talk_seconds + "
    "hold_seconds + wrap_seconds (those mapped; a blank part counts 0, all parts blank = not "
    "handled). Interactions without a handle time are left out (detail: "
    "without_handle_time); a negative time is a data error, counted "
    "(negative_durations), never averaged.",
    interval="Student t interval for the mean, its lower end clipped at 0",
)
class Aht(Kpi):
    """Mean time agents spent per handled interaction."""

    Options = AhtOptions

    def check_options(self, opts: AhtOptions) -> AhtOptions:
        parts = opts.handle_time
        if parts is None:
            return opts
        if tuple(parts) == ("handle_seconds",):
            return opts
        if not parts or len(set(parts)) != len(parts) or not set(parts) <= set(HANDLE_PARTS):
            raise ValueError(
                "handle_time is [handle_seconds], or a list of talk_seconds, hold_seconds "
                f"and wrap_seconds; got {list(parts)}"
            )
        return opts

    def resolve_options(self, opts: AhtOptions, mapped: frozenset[str]) -> AhtOptions:
        """handle_seconds when mapped (it wins), else the mapped talk/hold/wrap parts."""
        if opts.handle_time is not None:
            return opts
        if "handle_seconds" in mapped:
            return replace(opts, handle_time=("handle_seconds",))
        parts = tuple(p for p in HANDLE_PARTS if p in mapped)
        if not parts:
            raise ValueError(
                "KPI 'aht' needs 'handle_seconds', or 'talk_seconds', 'hold_seconds' and "
                "'wrap_seconds', to know each interaction's handle time"
            )
        return replace(opts, handle_time=parts)

    def required_fields(self, opts: AhtOptions, kind: str) -> tuple[str, ...]:
        return tuple(self.resolve_options(opts, PRIMARY_FIELDS).handle_time or ())

    def handle_seconds(self, rows: pd.DataFrame, opts: AhtOptions) -> tuple[pd.Series, pd.Series]:
        """Each row's handle time (NaN: not handled), and where a part of it was negative."""
        parts = [rows[p] for p in self.required_fields(opts, "tickets")]
        negative = parts[0] < 0
        total = parts[0].fillna(0.0)
        handled = parts[0].notna()
        for part in parts[1:]:
            negative |= part < 0
            total = total + part.fillna(0.0)
            handled |= part.notna()
        return total.where(handled), negative

    def observations(self, rows: pd.DataFrame, opts: AhtOptions) -> pd.Series:
        seconds, negative = self.handle_seconds(rows, opts)
        return seconds.where(~negative)

    def tally(self, rows: pd.DataFrame, opts: AhtOptions) -> Tally:
        seconds, negative = self.handle_seconds(rows, opts)
        # A negative part spoils the whole handle time: count it as a negative duration.
        return _duration_tally(seconds.where(~negative, -1.0), "without_handle_time")

    def estimate(self, s: Sums, opts: AhtOptions, confidence: float) -> Estimate:
        return _duration_estimate(
            s,
            confidence,
            "without_handle_time",
            handle_time=" + ".join(self.required_fields(opts, "tickets")),
        )


# -- first response and resolution time ----------------------------------------------------


@dataclass(frozen=True)
class DurationOptions(Options):
    variant: Literal["standard"] = "standard"


class _Duration(Kpi):
    """end - start over tickets that have both timestamps; median and p90 beside the mean."""

    Options = DurationOptions
    start = "created_at"
    end = ""
    missing = ""

    def observations(self, rows: pd.DataFrame, opts: DurationOptions) -> pd.Series:
        seconds = _durations(rows, self.start, self.end)
        return seconds.where(seconds >= 0)

    def tally(self, rows: pd.DataFrame, opts: DurationOptions) -> Tally:
        return _duration_tally(_durations(rows, self.start, self.end), self.missing)

    def estimate(self, s: Sums, opts: DurationOptions, confidence: float) -> Estimate:
        return _duration_estimate(s, confidence, self.missing, time="calendar")


@kpi(
    name="first_response_time",
    title="First response time",
    source="tickets",
    fields=("created_at", "first_reply_at"),
    unit="seconds",
    higher_is_better=False,
    variants=("standard",),
    formula=f"first_reply_at - created_at in seconds of {CALENDAR}: the mean over tickets with "
    "a reply, with the median and p90 beside it. Tickets without a first reply are left out "
    "(detail: without_first_reply); a reply before creation is a data error, counted "
    "(negative_durations), never averaged.",
    interval="Student t interval for the mean, its lower end clipped at 0",
)
class FirstResponseTime(_Duration):
    """How long customers waited for the first agent reply."""

    end = "first_reply_at"
    missing = "without_first_reply"


@dataclass(frozen=True)
class ResolutionOptions(SolvedOptions):
    pass


@kpi(
    name="resolution_time",
    title="Resolution time",
    source="tickets",
    fields=("created_at", "solved_at", "status"),
    unit="seconds",
    higher_is_better=False,
    variants=("standard",),
    formula=f"solved_at - created_at in seconds of {CALENDAR}: the mean over solved tickets, "
    "with the median and p90 beside it. Solved as for FCR: status in solved_statuses when the "
    "status is mapped and not blank, else a solved_at. Tickets without a solved_at are left out "
    "(detail: without_solved_at), and so are tickets with one that the rule does not count as "
    "solved, such as an open ticket that kept the date of an earlier solve (with solved_by: "
    "status, also one whose status is blank; detail: not_solved_by_status); solved before "
    "created is a data error, counted "
    "(negative_durations), never averaged.",
    interval="Student t interval for the mean, its lower end clipped at 0",
)
class ResolutionTime(_SolvedChoice[ResolutionOptions], _Duration):
    """How long solved tickets took from creation to being solved."""

    Options = ResolutionOptions
    end = "solved_at"
    missing = "without_solved_at"

    def required_fields(self, opts: ResolutionOptions, kind: str) -> tuple[str, ...]:
        solved_by = self._concrete(opts).solved_by or ""
        return ("created_at", *dict.fromkeys(("solved_at", *SOLVED_FIELDS[solved_by])))

    def _seconds(self, rows: pd.DataFrame, opts: ResolutionOptions) -> tuple[pd.Series, Any]:
        """Each ticket's resolution time, NaN where it is not solved; and where a ticket has
        a solved_at although its status says it is not solved (left out, counted)."""
        seconds = _durations(rows, self.start, self.end)
        unsolved = ~solved_mask(rows, self._concrete(opts)) & rows[self.end].notna()
        return seconds.where(~unsolved), unsolved

    def observations(self, rows: pd.DataFrame, opts: ResolutionOptions) -> pd.Series:
        seconds, _ = self._seconds(rows, opts)
        return seconds.where(seconds >= 0)

    def tally(self, rows: pd.DataFrame, opts: ResolutionOptions) -> Tally:
        seconds, unsolved = self._seconds(rows, opts)
        tally = dict(_duration_tally(seconds, self.missing))
        tally[self.missing] = tally[self.missing] & ~unsolved
        tally["not_solved_by_status"] = unsolved
        return tally

    def estimate(self, s: Sums, opts: ResolutionOptions, confidence: float) -> Estimate:
        return _duration_estimate(
            s,
            confidence,
            self.missing,
            time="calendar",
            not_solved_by_status=_count(s, "not_solved_by_status"),
            solved_by=self._concrete(opts).solved_by,
        )


# -- reopen rate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReopenOptions(SolvedOptions):
    pass


@kpi(
    name="reopen_rate",
    title="Reopen rate",
    source="tickets",
    fields=("reopened", "status", "solved_at"),
    unit="%",
    higher_is_better=False,
    variants=("standard",),
    formula="Reopen rate = 100 * reopened tickets / resolved tickets. Reopened: reopened > 0 "
    "or true (blank: not reopened). Resolved: solved now (status in solved_statuses, or a "
    "solved_at when the status is blank or not mapped) or reopened, since a reopened ticket "
    "was resolved once even if it is open again.",
    interval="Wilson score interval",
)
class ReopenRate(_SolvedChoice[ReopenOptions], Kpi):
    """Share of resolved tickets that the customer reopened."""

    Options = ReopenOptions

    def required_fields(self, opts: ReopenOptions, kind: str) -> tuple[str, ...]:
        return ("reopened", *SOLVED_FIELDS[self._concrete(opts).solved_by or ""])

    def tally(self, rows: pd.DataFrame, opts: ReopenOptions) -> Tally:
        solved = solved_mask(rows, self._concrete(opts))
        reopened = reopened_mask(rows)
        return {
            "resolved": solved | reopened,
            "reopened": reopened,
            "reopened_open": reopened & ~solved,
        }

    def estimate(self, s: Sums, opts: ReopenOptions, confidence: float) -> Estimate:
        return proportion_estimate(
            s.get("reopened", 0.0),
            s.get("resolved", 0.0),
            confidence,
            reopened=_count(s, "reopened"),
            resolved=_count(s, "resolved"),
            reopened_open=_count(s, "reopened_open"),
            solved_by=self._concrete(opts).solved_by,
        )
