"""From a Config to a Report: read each source once, tally, group, estimate, compare.

Each source is streamed once. Per batch, every KPI's tally columns are summed with one groupby at
the finest grain (period x all segments); coarser groups (overall, per period, per segment) are
sums of those sums, which is exact. KPIs that must see whole groups (de-duplication) keep only
the columns they need and are tallied per group set at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cx_cli import __version__, quantiles, stats
from cx_cli.config import PERIODS, Config, KpiChoice, check_segments, leaves, resolve_kpi
from cx_cli.errors import ConfigError
from cx_cli.groups import group_numbers
from cx_cli.kpis.base import ALL, PERIOD, WINDOWED, Context, Estimate, Sums, change_p_value
from cx_cli.periods import period_label, period_start, previous_start
from cx_cli.report import Definition, InputSummary, Report, Result
from cx_cli.sources import (
    DEFAULT_BATCH_BYTES,
    IN_WINDOW,
    SEGMENT_PREFIX,
    SourceReader,
    Window,
)

if TYPE_CHECKING:
    import pandas as pd

    from cx_cli.progress import Update

# (Dask engine) an order's place in the source, kept with the rows so that orders regrouped by
# order id, then by customer, can be put back in file order (`dask_engine._joined`).
SEQUENCE = "_seq"
# The columns `_with_quantiles` adds beside the sums for KPIs with `observations`.
QUANTILES = (quantiles.MEDIAN, quantiles.P90)


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices that override the config's report defaults."""

    kpis: Sequence[str] | None = None
    by: Sequence[str] | None = None
    period: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    confidence: float | None = None
    min_n: int | None = None
    suppress_low_sample: bool | None = None
    batch_bytes: int = DEFAULT_BATCH_BYTES
    engine: str = "pandas"  # or "dask": each file a Dask task (cx_cli.dask_engine)
    scheduler: str | None = None  # Dask: a dask.distributed address or a local scheduler name
    # source name -> a callback (rows, bytes, total bytes) for a progress bar, or None
    progress: Callable[[str], Update | None] | None = None


@dataclass(frozen=True)
class Settings:
    """The effective report settings of one run."""

    period: str | None
    by: tuple[str, ...]
    since: dt.date | None
    until: dt.date | None
    confidence: float
    min_n: int
    suppress_low_sample: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "since": _iso(self.since),
            "until": _iso(self.until),
            "by": list(self.by),
            "p_value_adjustment": "holm",
        }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def settle(config: Config, options: RunOptions) -> Settings:
    """Merge command-line options over the config's report defaults, and check them."""
    report = config.report
    period = options.period if options.period is not None else report.period
    if period not in (None, "none", *PERIODS):
        raise ConfigError(
            f"--period: unknown period '{period}'", hint=f"use one of: {', '.join(PERIODS)}, none"
        )
    by = tuple(options.by) if options.by is not None else tuple(report.by)
    by = () if by == ("none",) else by  # --by none: no segments, whatever the config says
    since = options.since or report.since
    until = options.until or report.until
    if since and until and since > until:
        raise ConfigError(
            f"--since {since} is after --until {until}", hint="swap them, or drop one"
        )
    confidence = options.confidence if options.confidence is not None else report.confidence
    if not 0.5 < confidence < 1:
        raise ConfigError(
            f"--confidence {confidence} must be between 0.5 and 1",
            hint="give a proportion: 0.95 for a 95 % interval",
        )
    return Settings(
        period=None if period == "none" else period,
        by=by,
        since=since,
        until=until,
        confidence=confidence,
        min_n=options.min_n if options.min_n is not None else report.min_n,
        suppress_low_sample=(
            options.suppress_low_sample
            if options.suppress_low_sample is not None
            else report.suppress_low_sample
        ),
    )


def select_kpis(config: Config, names: Sequence[str] | None) -> tuple[KpiChoice, ...]:
    """The configured KPIs, or those named with --kpi (a name not configured gets defaults)."""
    if not names:
        return config.kpis
    chosen: dict[str, KpiChoice] = {}
    folder = config.path.parent if config.path else None
    for name in names:
        configured = [c for c in config.kpis if name in (c.name, c.label)]
        for choice in configured or [resolve_kpi(name, config.sources, f"--kpi {name}", folder)]:
            chosen.setdefault(choice.label or choice.name, choice)
    return tuple(chosen.values())


def run(config: Config, **overrides: Any) -> Report:
    """Compute the selected KPIs over every group and return the Report."""
    options = RunOptions(**overrides)
    settings = settle(config, options)
    choices = select_kpis(config, options.kpis)
    check_segments(dataclasses.replace(config, kpis=choices), settings.by, "--by")
    for name in options.inputs:
        if name not in config.sources:
            raise ConfigError(
                f"--input {name}=...: no source named '{name}'",
                hint=f"sources: {', '.join(config.sources)}",
            )
    sums: dict[int, dict[GroupSet, pd.DataFrame]] = {}
    inputs: list[InputSummary] = []
    read_warnings: list[str] = []
    scheduled = [leaf for choice in choices for leaf in leaves(choice)]
    sources = list(dict.fromkeys(leaf.source for leaf in scheduled))
    paths = {s: options.inputs.get(s) or config.source_path(s) for s in sources}
    with engine(options, paths) as (tally, listed):
        for source in sources:
            mine = [leaf for leaf in scheduled if leaf.source == source]
            reader = _reader(config, source, mine, settings, options, listed.get(source))
            sums.update(tally(reader, mine, settings))
            inputs.append(input_summary(reader))
            read_warnings.extend(_encoding_warnings(reader))
    results: list[Result] = []
    for choice in choices:
        table = join_parts(choice, sums, settings) if choice.parts else sums[id(choice)]
        results.extend(results_for(choice, table, settings))
    return Report(
        results=tuple(_finish(results, settings)),
        inputs=tuple(inputs),
        definitions=tuple(_definition(c) for c in choices),
        settings={**settings.as_dict(), "engine": options.engine},
        tool_version=__version__,
        generated_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        config_path=str(config.path) if config.path else None,
        config_sha256=config.sha256,
        warnings=(*read_warnings, *_warnings(inputs), *_negative_durations(results)),
    )


@contextlib.contextmanager
def engine(
    options: RunOptions, paths: Mapping[str, Any]
) -> Iterator[tuple[Callable[..., dict[int, dict[GroupSet, pd.DataFrame]]], dict[str, list[str]]]]:
    """The tally function of the chosen engine, with its Dask scheduler connected if any, and
    the sources' files where they were listed already: Dask's sources are listed and checked
    first, so that a bad one does not wait for a cluster."""
    if options.engine == "pandas":
        yield tally_source, {}
        return
    from cx_cli import dask_engine

    dask_engine.check_engine(options.engine)

    listed = {source: dask_engine.check_paths(source, path) for source, path in paths.items()}
    with dask_engine.connected(options.scheduler) as compute:
        yield (
            (
                lambda reader, choices, settings: dask_engine.tally_source(
                    reader, choices, settings, compute
                )
            ),
            listed,
        )


def _reader(
    config: Config,
    source: str,
    mine: Sequence[KpiChoice],
    settings: Settings,
    options: RunOptions,
    listed: Sequence[str] | None = None,
) -> SourceReader:
    spec = config.sources[source]
    reader = SourceReader(
        source,
        spec,
        options.inputs.get(source) or config.source_path(source),
        tuple(f for c in mine for f in c.definition.required_fields(c.options, spec.kind)),
        settings.by,
        Window(settings.since, settings.until),
        options.batch_bytes,
        keep_history=any(c.definition.needs_history(c.options) for c in mine),
        progress=options.progress(source) if options.progress else None,
        listed=listed,
    )
    if settings.period and reader.time_field is None:
        raise ConfigError(
            f"--period {settings.period}: source '{source}' maps no date field",
            hint="map its timestamp column under columns, or use --period none",
        )
    return reader


# -- tallying ----------------------------------------------------------------------------------

GroupSet = tuple[bool, tuple[str, ...]]  # (by period?, segment names)


def group_sets(settings: Settings) -> list[GroupSet]:
    """Overall, per period, per segment combination, and period x segments."""
    periods = [False, True] if settings.period else [False]
    segments = [(), settings.by] if settings.by else [()]
    return [(p, s) for s in segments for p in periods]


def _keys(group_set: GroupSet) -> list[str]:
    by_period, segments = group_set
    return [ALL, *([PERIOD] if by_period else []), *(SEGMENT_PREFIX + s for s in segments)]


def tally_source(
    reader: SourceReader, choices: Sequence[KpiChoice], settings: Settings
) -> dict[int, dict[GroupSet, pd.DataFrame]]:
    """Summed tally statistics per KPI choice and group set, reading the source once."""
    return settle_scan(scan(staged(reader), reader, choices, settings), reader, choices, settings)


@dataclass
class Scan:
    """One pass over (part of) a source: the additive KPIs' sums at the finest grain, with
    columns `<position of the KPI>|<statistic>`, the rows the whole-rows KPIs keep, and by
    position of an additive KPI with `observations`, how often each value occurs per group at
    the finest grain (`quantiles.count_values`)."""

    sums: pd.DataFrame | None
    kept: list[pd.DataFrame]
    counts: dict[int, pd.DataFrame] = field(default_factory=dict)


def scan(
    frames: Iterable[pd.DataFrame],
    reader: SourceReader,
    choices: Sequence[KpiChoice],
    settings: Settings,
) -> Scan:
    """Tally clean frames: one group-sum per frame for the additive KPIs, rows kept for the
    others. Frames may be a whole source or one of its files (summing scans is exact)."""
    finest = _keys((bool(settings.period), settings.by))
    additive = [(i, c) for i, c in enumerate(choices) if not c.definition.needs_all_rows(c.options)]
    whole = _kept_columns(choices, reader, finest)
    partials: list[pd.DataFrame] = []
    kept: list[pd.DataFrame] = []
    counted: dict[int, quantiles.ValueCounter] = {}
    for frame in frames:
        keyed = _with_keys(frame, reader.time_field, settings.period)
        current = keyed[keyed[IN_WINDOW]] if IN_WINDOW in keyed else keyed
        if additive:
            columns = {
                f"{i}|{k}": v
                for i, c in additive
                for k, v in c.definition.tally(current, c.options).items()
            }
            partials.append(group_sums(current[finest], columns))
            _count_observations(current, finest, additive, counted)
        if whole:
            kept.append(keyed[[c for c in keyed.columns if c in whole]])
    counts = {i: counter.result() for i, counter in counted.items()}
    return Scan(merge_sums(partials, finest), kept, counts)


def _count_observations(
    rows: pd.DataFrame,
    finest: list[str],
    additive: Sequence[tuple[int, KpiChoice]],
    counted: dict[int, quantiles.ValueCounter],
) -> None:
    """Feed this frame's observations to each KPI's value counter (by position)."""
    for i, c in additive:
        observed = c.definition.observations(rows, c.options)
        if observed is not None:
            counted.setdefault(i, quantiles.ValueCounter()).add(rows[finest], observed)


def observed_quantiles(
    counts: Mapping[int, pd.DataFrame], settings: Settings
) -> dict[int, dict[GroupSet, pd.DataFrame]]:
    """By KPI position and group set, the median and p90 of the counted observations."""
    chosen = group_sets(settings)
    return {
        i: dict(
            zip(chosen, quantiles.quantile_tables(table, [_keys(g) for g in chosen]), strict=True)
        )
        for i, table in counts.items()
    }


def add_quantiles(
    sums: dict[int, dict[GroupSet, pd.DataFrame]],
    found: Mapping[int, Mapping[GroupSet, pd.DataFrame]],
) -> None:
    """Join each KPI's median and p90 (`observed_quantiles`) onto its sums, group by group."""
    for i, tables in found.items():
        for group_set, table in tables.items():
            if group_set in sums[i]:
                sums[i][group_set] = sums[i][group_set].join(table)


def _kept_columns(
    choices: Sequence[KpiChoice], reader: SourceReader, finest: list[str]
) -> set[str]:
    """The columns the whole-rows KPIs read (their fields, the group keys, the time field that
    orders a unit's rows, whether a row is inside --since/--until); none without such KPIs.
    Only these are kept until the end of the read (and sent back by Dask's workers): an
    order id or an amount only an additive KPI reads would hold memory for nothing."""
    whole = [c for c in choices if c.definition.needs_all_rows(c.options)]
    if not whole:
        return set()
    kind = reader.spec.kind
    fields = {f for c in whole for f in c.definition.required_fields(c.options, kind)}
    return {*finest, IN_WINDOW, SEQUENCE, reader.time_field, *fields} - {None}


def merge_sums(partials: Sequence[pd.DataFrame | None], finest: list[str]) -> pd.DataFrame | None:
    """Group sums of several frames (or files) added up per group."""
    import pandas as pd

    present = [p for p in partials if p is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    merged = pd.concat(present).groupby(level=finest, observed=True).sum()
    if not isinstance(merged.index, pd.MultiIndex):  # one key: pandas drops to a flat index
        merged.index = pd.MultiIndex.from_arrays([merged.index], names=finest)
    return merged


def settle_scan(
    found: Scan, reader: SourceReader, choices: Sequence[KpiChoice], settings: Settings
) -> dict[int, dict[GroupSet, pd.DataFrame]]:
    """Every group set's sums per KPI choice: additive ones rolled up from the finest grain,
    whole-rows ones tallied from the kept rows."""
    import pandas as pd

    out = roll_up(found.sums, choices, settings)
    add_quantiles(out, observed_quantiles(found.counts, settings))
    whole = whole_rows_kpis(choices)
    if whole:
        kept, found.kept = found.kept, []  # the frames go once they are joined
        rows = pd.concat(kept) if kept else None
        del kept
        for i, group_set, tallied in whole_row_tallies(rows, reader.spec.kind, whole, settings):
            # finished at once: its observations (for medians) go before the next is made
            out[i][group_set] = _with_quantiles(tallied, _keys(group_set))
    return {id(c): out[i] for i, c in enumerate(choices)}


def roll_up(
    sums: pd.DataFrame | None, choices: Sequence[KpiChoice], settings: Settings
) -> dict[int, dict[GroupSet, pd.DataFrame]]:
    """The additive KPIs' sums per group set, rolled up from the finest grain; keyed by each
    KPI's position in `choices` (every position has an entry)."""
    out: dict[int, dict[GroupSet, pd.DataFrame]] = {i: {} for i in range(len(choices))}
    if sums is None:
        return out
    for group_set in group_sets(settings):
        rolled = sums.groupby(level=_keys(group_set), observed=True).sum()
        for i in range(len(choices)):
            prefix = f"{i}|"
            part = rolled[[k for k in rolled.columns if k.startswith(prefix)]]
            out[i][group_set] = part.rename(columns=lambda k: k.split("|", 1)[1])
    return out


def whole_rows_kpis(choices: Sequence[KpiChoice]) -> list[tuple[int, KpiChoice]]:
    """The KPIs tallied from whole rows, with their positions in `choices`."""
    return [(i, c) for i, c in enumerate(choices) if c.definition.needs_all_rows(c.options)]


@dataclass(frozen=True)
class Tallied:
    """A whole-rows KPI's tally of (a split of) its rows for one group set: the summed
    statistics, and the counted observations whose median and p90 are taken once every split
    is in."""

    sums: pd.DataFrame
    observed: pd.DataFrame | None = None  # how often each value occurs per group (`quantiles`)


Tallies = dict[int, dict[GroupSet, Tallied]]  # KPI position -> group set -> tally


def tally_whole_rows(
    rows: pd.DataFrame | None,
    kind: str,
    whole: Sequence[tuple[int, KpiChoice]],
    settings: Settings,
    extents: Mapping[int, tuple[Any, ...] | None] | None = None,
) -> Tallies:
    """Each whole-rows KPI tallied per group set from `rows`: all of a source's kept rows, or
    a split of them holding whole units (`Kpi.unit_of`), with `extents` (by KPI position) the
    facts about all rows that a split cannot see (`Kpi.extent`)."""
    out: Tallies = {i: {} for i, _ in whole}
    for i, group_set, tallied in whole_row_tallies(rows, kind, whole, settings, extents):
        out[i][group_set] = tallied
    return out


def whole_row_tallies(
    rows: pd.DataFrame | None,
    kind: str,
    whole: Sequence[tuple[int, KpiChoice]],
    settings: Settings,
    extents: Mapping[int, tuple[Any, ...] | None] | None = None,
) -> Iterator[tuple[int, GroupSet, Tallied]]:
    """`tally_whole_rows` one KPI and group set at a time (KPI position, group set, tally),
    so that a caller finishing each at once holds one set of observations, not all of them."""
    if rows is not None:
        rows = _coded_ids(rows)
    ctx = Context(kind, settings.period, settings.since, settings.until)
    windowed = rows
    if rows is not None and IN_WINDOW in rows:  # one frame for all, so they share figures
        windowed = ctx.shared.get(rows, WINDOWED, lambda: rows[rows[IN_WINDOW]])
    for i, c in whole:
        mine = rows if c.definition.needs_history(c.options) else windowed
        own = dataclasses.replace(ctx, extent=(extents or {}).get(i))
        for group_set in group_sets(settings):
            yield i, group_set, _tally_whole(mine, c, _keys(group_set), own)


def extent_of(rows: pd.DataFrame | None, choice: KpiChoice, kind: str) -> tuple[Any, ...] | None:
    """The KPI's `extent` of (a split of) the kept rows, history included as `prepare` sees it."""
    if rows is None:
        return None
    if IN_WINDOW in rows and not choice.definition.needs_history(choice.options):
        rows = rows[rows[IN_WINDOW]]
    return choice.definition.extent(rows, choice.options, kind)


def add_extents(extents: Iterable[tuple[Any, ...] | None]) -> tuple[Any, ...] | None:
    """Splits' extents as one: the earliest first and the latest last (an end may be None),
    and for an extent that names its groups (columns, set of key values), all of them."""
    found = [s for s in extents if s is not None]
    firsts = [s[0] for s in found if s[0] is not None]
    lasts = [s[1] for s in found if s[1] is not None]
    named = [s[2] for s in found if len(s) > 2]
    if not firsts and not lasts and not named:
        return None
    ends = (min(firsts) if firsts else None, max(lasts) if lasts else None)
    if not named:
        return ends
    return (*ends, (named[0][0], frozenset().union(*(groups for _, groups in named))))


def add_tallies(
    parts: Sequence[Tallies], whole: Sequence[tuple[int, KpiChoice]], settings: Settings
) -> Tallies:
    """Splits' tallies as one: statistics added up per group, `group_facts` taken once, and
    observations' counts added."""
    import pandas as pd

    out: Tallies = {}
    for i, c in whole:
        out[i] = {}
        for group_set in group_sets(settings):
            mine = [p[i][group_set] for p in parts]
            tables = [t.sums for t in mine if len(t.sums)]
            if len(tables) > 1:
                joined = pd.concat(tables)
                how = {k: "max" if k in c.definition.group_facts else "sum" for k in joined}
                sums = joined.groupby(level=_keys(group_set), observed=True).agg(how)
            else:
                sums = tables[0] if tables else max(mine, key=lambda t: len(t.sums.columns)).sums
            counts = quantiles.add_counts([t.observed for t in mine])
            out[i][group_set] = Tallied(sums, counts)
    return out


def finish_tallies(
    tallied: Tallies, whole: Sequence[tuple[int, KpiChoice]]
) -> dict[int, dict[GroupSet, pd.DataFrame]]:
    """The whole-rows KPIs' sums per group set, with the median and p90 of their observations."""
    return {
        i: {group_set: _with_quantiles(t, _keys(group_set)) for group_set, t in tallied[i].items()}
        for i, _ in whole
    }


def group_sums(keys: pd.DataFrame, columns: Mapping[str, Any]) -> pd.DataFrame:
    """Each column summed per combination of `keys` (observed combinations only): one
    `numpy.bincount` per column over the rows' group numbers (`cx_cli.groups`)."""
    import pandas as pd

    if not len(keys):
        empty = [[] for _ in keys.columns]
        index = pd.MultiIndex.from_arrays(empty, names=list(keys.columns))
        return pd.DataFrame({name: [] for name in columns}, index=index, dtype="float64")
    groups = group_numbers(keys)
    return pd.DataFrame(
        {name: groups.count(values) for name, values in columns.items()}, index=groups.index
    )


def _plain_index(table: pd.DataFrame) -> pd.DataFrame:
    """Categorical group labels as plain values, so batches with other categories merge and
    groups sort by label, not by order of appearance."""
    import pandas as pd

    index = table.index
    if isinstance(index, pd.MultiIndex):
        levels = [
            level.astype(object) if isinstance(level, pd.CategoricalIndex) else level
            for level in index.levels
        ]
        table.index = index.set_levels(levels)
    elif isinstance(index, pd.CategoricalIndex):
        table.index = index.astype(object)
    return table


def join_parts(
    choice: KpiChoice, sums: Mapping[int, Mapping[GroupSet, pd.DataFrame]], settings: Settings
) -> dict[GroupSet, pd.DataFrame]:
    """A composite KPI's sums: each part's columns as `role.column`, aligned on the group keys.

    A group one part has and another lacks gets zeros for the missing part (no spend, or no
    new customers, in that period), so the estimate can say what is undefined. A part that is
    a KPI of its own (not hidden, e.g. CLV in LTV:CAC) also brings its finished figure per
    group, `role.value` (NaN when undefined) and `role.n`, estimated from its own sums, so the
    composite uses the figure users see rather than re-deriving it.
    """
    import pandas as pd

    joined = {}
    for group_set in group_sets(settings):
        own = {role: sums[id(part)][group_set] for role, part in choice.parts}
        table = pd.concat([t.add_prefix(f"{role}.") for role, t in own.items()], axis=1)
        table = table.fillna(0.0)
        for role, part in choice.parts:
            if not part.definition.hidden:
                values, counts = _part_figures(part, own[role], table.index, settings)
                table[f"{role}.value"] = values
                table[f"{role}.n"] = counts
        joined[group_set] = table
    return joined


def _part_figures(
    part: KpiChoice, sums: pd.DataFrame, index: pd.Index, settings: Settings
) -> tuple[list[float], list[int]]:
    """The part's value (NaN when undefined) and n per group of `index`, from its own sums.

    A group the part lacks is estimated on zero sums, as `results_for` does for an empty table.
    """
    definition, confidence = part.definition, settings.confidence

    def figure(values: Mapping[str, Any]) -> tuple[float, int]:
        est = definition.estimate(Sums(values), part.options, confidence)
        return (float("nan") if est.value is None else est.value), est.n

    found = {key: figure(values) for key, values in group_rows(sums)}
    absent = figure(_no_rows(sums.columns))
    figures = [found.get(key, absent) for key in index]
    return [value for value, _ in figures], [n for _, n in figures]


def staged(reader: SourceReader) -> Iterable[pd.DataFrame]:
    """The reader's batches, or for an orders source with order ids, one frame of whole orders.

    A line-item export spreads an order over several rows, possibly across batches; summing
    per order is exact only once every batch is in, so orders are reduced per batch and merged.
    """
    if not reader.folds_orders:
        yield from reader.batches()
        return
    from cx_cli.stages import OrderMerger, reduce_orders

    merger = OrderMerger(reader.spec.order_total)
    for frame in reader.batches():
        merger.add(reduce_orders(frame, reader.spec.order_total))
    yield merger.result()


def _coded_ids(rows: pd.DataFrame) -> pd.DataFrame:
    """Customer ids as integer codes (missing stays missing), once per source: whole-rows KPIs
    group by customer for every group set, and integers hash many times faster than text.
    Ids are only ever compared within one source, so codes from one factorize suffice."""
    import pandas as pd

    if "customer_id" not in rows:
        return rows
    codes, _ = pd.factorize(rows["customer_id"])
    coded = pd.array(codes, dtype="Int64")
    coded[codes < 0] = pd.NA
    return rows.assign(customer_id=coded)


def _with_keys(frame: pd.DataFrame, time_field: str | None, period: str | None) -> pd.DataFrame:
    frame = frame.assign(**{ALL: 0})
    if period and time_field:
        frame[PERIOD] = period_start(frame[time_field], period)
    return frame


def _tally_whole(
    rows: pd.DataFrame | None, choice: KpiChoice, keys: list[str], ctx: Context
) -> Tallied:
    import pandas as pd

    if rows is None:
        return Tallied(pd.DataFrame())
    definition = choice.definition
    prepared = definition.prepare(rows, keys, choice.options, ctx)
    table = pd.DataFrame(dict(definition.tally(prepared, choice.options)), index=prepared.index)
    sums = pd.concat([prepared[keys], table], axis=1).groupby(keys, observed=True).sum()
    observed = definition.observations(prepared, choice.options)
    if observed is None:
        return Tallied(_plain_index(sums))
    return Tallied(_plain_index(sums), quantiles.count_values(prepared[keys], observed))


def _with_quantiles(tallied: Tallied, keys: list[str]) -> pd.DataFrame:
    """The sums, with the median and p90 of the observations per group when there are any."""
    if tallied.observed is None:
        return tallied.sums
    return tallied.sums.join(quantiles.quantiles(tallied.observed, keys))


# -- estimating --------------------------------------------------------------------------------


def results_for(
    choice: KpiChoice, sums: Mapping[GroupSet, pd.DataFrame], settings: Settings
) -> list[Result]:
    """One Result per group of every group set, with previous-period change and targets."""
    definition = choice.definition
    rows: list[Result] = []
    for group_set, table in sums.items():
        keys = _keys(group_set)
        estimates: dict[tuple[Any, ...], Estimate] = {}
        ordered = table.sort_index() if not table.empty else table
        for index, values in group_rows(ordered):
            key = index if isinstance(index, tuple) else (index,)
            estimates[key] = definition.estimate(Sums(values), choice.options, settings.confidence)
        if not estimates and keys == [ALL]:
            empty = Sums(_no_rows(table.columns))
            estimates[(0,)] = definition.estimate(empty, choice.options, settings.confidence)
        for key, est in estimates.items():
            labels = dict(zip(keys, key, strict=True))
            rows.append(_result(choice, est, labels, group_set, estimates, settings))
    return rows


def group_rows(table: pd.DataFrame) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Each row's index label and its values by column, as Python numbers: what
    `to_dict("records")` gives, from one `tolist` per column, in half its time (pandas boxes
    each cell there)."""
    names = list(table.columns)
    columns = [table[name].tolist() for name in names]
    for label, *values in zip(table.index, *columns, strict=True):
        yield label, dict(zip(names, values, strict=True))


def _no_rows(columns: Iterable[str]) -> dict[str, float]:
    """The sums of a group without rows: zero counts and totals, and no median or p90 (NaN,
    which the estimates report as null, not 0)."""
    return {c: float("nan") if c in QUANTILES else 0.0 for c in columns}


def _result(
    choice: KpiChoice,
    est: Estimate,
    labels: Mapping[str, Any],
    group_set: GroupSet,
    estimates: Mapping[tuple[Any, ...], Estimate],
    settings: Settings,
) -> Result:
    definition = choice.definition
    segment = {s: str(labels[SEGMENT_PREFIX + s]) for s in group_set[1]}
    period = None
    previous: Estimate | None = None
    if group_set[0]:
        start = labels[PERIOD]
        period = period_label(start, settings.period or "")
        before = {**labels, PERIOD: previous_start(start, settings.period or "")}
        previous = estimates.get(tuple(before.values()))
    target = choice.target.for_segment(segment) if choice.target else None
    prev_value = previous.value if previous else None
    change = est.value - prev_value if est.value is not None and prev_value is not None else None
    return Result(
        kpi=definition.name,
        source=choice.source,
        period=period,
        segment=segment,
        value=est.value,
        unit=choice.unit,
        n=est.n,
        ci_low=est.ci_low,
        ci_high=est.ci_high,
        ci_method=est.ci_method,
        confidence=settings.confidence,
        detail=dict(est.detail),
        variant=getattr(choice.options, "variant", "") or "standard",
        label=choice.label or definition.name,
        low_sample=est.n < settings.min_n,
        target=target,
        status=target_status(est, target, definition.better_high(choice.options)),
        previous=prev_value,
        change=change,
        p_value=change_p_value(est.basis, previous.basis) if previous else None,
    )


def target_status(est: Estimate, target: float | None, higher_is_better: bool) -> str | None:
    """met / missed, or inconclusive when the target lies inside the confidence interval."""
    if target is None or est.value is None:
        return None
    if est.ci_low is not None and est.ci_high is not None and est.ci_low <= target <= est.ci_high:
        return "inconclusive"
    met = est.value >= target if higher_is_better else est.value <= target
    return "met" if met else "missed"


def _finish(results: list[Result], settings: Settings) -> Iterable[Result]:
    """Holm-adjust each KPI's period-over-period p-values; drop low-sample rows if asked."""
    by_kpi: dict[str, list[int]] = {}
    for i, row in enumerate(results):
        by_kpi.setdefault(row.label, []).append(i)
    adjusted = list(results)
    for indices in by_kpi.values():
        p_values = stats.holm_adjust([results[i].p_value for i in indices])
        for i, p in zip(indices, p_values, strict=True):
            adjusted[i] = dataclasses.replace(results[i], p_value=p)
    for row in adjusted:
        overall = row.period is None and not row.segment
        if not (settings.suppress_low_sample and row.low_sample and not overall):
            yield row


def _definition(choice: KpiChoice) -> Definition:
    d = choice.definition
    options = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in dataclasses.asdict(choice.options).items()
    }
    return Definition(
        d.name,
        d.title,
        choice.source,
        choice.unit,
        d.better_high(choice.options),
        options.get("variant") or "standard",
        options,
        choice.label or d.name,
        d.formula,
        d.interval,
    )


def input_summary(reader: SourceReader) -> InputSummary:
    q = reader.quality
    return InputSummary(
        source=q.source,
        path="<stdin>" if q.path == "-" else q.path,
        sha256=q.sha256,
        size_bytes=q.size_bytes,
        rows_read=q.rows_read,
        rows_used=q.rows_used,
        rows_dropped=dict(q.rows_dropped),
        rows_history_only=q.rows_history_only,
        fields={k: dict(v) for k, v in q.fields.items()},
        encoding=q.encoding,
        encoding_detected=q.encoding_detected,
        delimiter=q.delimiter,
        header_rows=q.header_rows,
        files=tuple(q.files),
    )


def _negative_durations(results: Iterable[Result]) -> Iterable[str]:
    """A duration that ends before it starts is a data error the KPI left out: said once per
    KPI (its overall row counts them all), not only in the JSON detail."""
    for row in results:
        count = row.detail.get("negative_durations") or 0
        if row.period is None and not row.segment and count:
            yield (
                f"{row.source}: {row.label}: {count} negative duration{'s' * (count != 1)} "
                "(an end before its start), left out"
            )


def _encoding_warnings(reader: SourceReader) -> Iterable[str]:
    """One warning per file whose encoding was guessed and is not UTF-8, naming the file
    (a source of several files may mix encodings)."""
    for path, encoding in reader.quality.guessed_encodings.items():
        yield (
            f"{reader.name}: {path} is not UTF-8; read as {encoding} "
            "(set encoding: under the source to be sure)"
        )


def _warnings(inputs: Iterable[InputSummary]) -> Iterable[str]:
    """Data problems worth a look: guessed encodings, no rows left, invalid values."""
    for summary in inputs:
        if summary.rows_used == 0:
            yield (
                f"{summary.source}: no rows left after filters and dates "
                f"({summary.rows_read} read): every figure has n = 0"
            )
        for name, counts in summary.fields.items():
            for reason, count in counts.items():
                if reason not in ("valid", "blank"):
                    yield (
                        f"{summary.source}: {count} {name} value{'s' * (count != 1)} "
                        f"{reason}, left out of n"
                    )


def check_sources(
    config: Config,
    inputs: Mapping[str, str] | None = None,
    progress: Callable[[str], Update | None] | None = None,
) -> list[InputSummary]:
    """Read every source with all its mapped fields and segments: row accounting, no KPIs.
    `progress` gives each source's read-progress callback, as in `run`."""
    summaries = []
    for name, spec in config.sources.items():
        path = (inputs or {}).get(name) or config.source_path(name)
        reader = SourceReader(
            name,
            spec,
            path,
            tuple(spec.columns),
            tuple(spec.segments),
            progress=progress(name) if progress else None,
        )
        for _ in reader.batches():
            pass
        summaries.append(input_summary(reader))
    return summaries
