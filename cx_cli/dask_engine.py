"""The Dask engine (`--engine dask`): a source's files are read and tallied as Dask tasks.

Each file is one partition, read on a worker by the same streaming reader and tallied by the
same KPI definitions as in the pandas engine; Dask adds the partitions' sums pairwise, in file
order, so the figures equal the pandas engine's. What is not a sum is made one first, exactly
as the pandas engine does it over one stream:
- line items are folded into orders per file on the workers; the folded files are hashed by
  order id into buckets, whose pieces are merged in file order (an order may straddle two
  files) and tallied there, each order keeping its place in the source;
- repeated ids (`dedupe:`) are found in a first pass that collects each file's ids (hashed
  into buckets), so each file then drops the ids an earlier file had;
- medians and p90 (durations, historical CLV) come from counts of each distinct value per
  group (`cx_cli.quantiles`), added pairwise like the sums and read off on a worker;
- whole-rows KPIs (per-customer histories) and cohorts are aggregated per unit on the
  workers: each file's kept rows are hashed by the unit (`Kpi.unit_of`: a customer, a session)
  into buckets, each bucket holding every row of its units in file order, and each bucket is
  tallied with the facts of all rows (`Kpi.extent`); the buckets' sums are added on a worker.
  The client gets back sums per group, never rows. A KPI whose rows cannot be split (rolling
  windows) gets them all in one task.
Files are the unit of parallelism: split a big export into several files (or Parquet parts)
to spread it over a cluster. Paths may be fsspec URLs (s3://, gs://, abfs://, memory://, ...),
which the workers open themselves.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cx_cli import startup
from cx_cli.errors import CxError, InputError, UsageError
from cx_cli.kpis.base import Context

if TYPE_CHECKING:
    import pandas as pd
    from dask.delayed import Delayed

    from cx_cli.analysis import GroupSet, Scan, Settings, Tallies
    from cx_cli.config import KpiChoice
    from cx_cli.sources import SourceReader

INSTALL = "pip install 'cxkpi[dask]'"
# Most hash buckets a source's rows are regrouped into for per-customer figures (any count is
# exact; more buckets spread wider, but every file sends a piece to every bucket).
MAX_BUCKETS = 32
FILE_SHIFT = 40  # an order's place in the source: file number << 40 + its place in the file
LOCAL_SCHEDULERS = ("synchronous", "threads", "processes")
ENGINES = ("pandas", "dask")

T = TypeVar("T")


@dataclass(frozen=True)
class Compute:
    """`dask.compute` on the chosen scheduler, and how many tasks it runs at once (`slots`),
    which sets how many buckets rows are regrouped into (`_bucket_count`)."""

    scheduler: Any  # a local scheduler's name, or a distributed Client's `get`
    slots: int

    def __call__(self, *graphs: Any) -> tuple[Any, ...]:
        import dask

        return dask.compute(*graphs, scheduler=self.scheduler)  # type: ignore[no-any-return]


def check_engine(engine: str) -> None:
    """An unknown engine, or the Dask engine without its extra, is a usage error (exit 2)."""
    if engine not in ENGINES:
        raise UsageError(
            f"--engine {engine}: unknown engine", hint=f"use one of: {', '.join(ENGINES)}"
        )
    if engine == "dask":
        try:
            import dask  # noqa: F401
        except ImportError:
            raise UsageError(
                "--engine dask needs the dask extra, which is not installed",
                hint=f"install it: {INSTALL}",
            ) from None


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Compute]:
    """`dask.compute` on the chosen scheduler: a dask.distributed address (--scheduler or
    DASK_SCHEDULER_ADDRESS), one of Dask's local schedulers by name, or else a LocalCluster
    started for this run and closed after it."""
    startup.modules_loaded()  # a long run, mostly waiting: collect garbage again
    given = address
    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    named = f"--scheduler {address}" if given else f"DASK_SCHEDULER_ADDRESS={address}"
    if address in LOCAL_SCHEDULERS:
        yield Compute(address, 1 if address == "synchronous" else os.cpu_count() or 1)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError(
            "--engine dask needs dask.distributed for a cluster, which is not installed",
            hint=f"install it: {INSTALL}; or pass --scheduler synchronous, threads or processes",
        ) from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet("distributed.client"))  # until the client is closed
        if address:
            try:
                client = stack.enter_context(Client(address, timeout="10s"))
            except (OSError, TimeoutError, ValueError, TypeError) as exc:  # TypeError: tls://
                instead = (
                    "leave --scheduler out to start a local cluster"
                    if given
                    else "unset DASK_SCHEDULER_ADDRESS to start a local cluster"
                )
                raise UsageError(
                    f"{named}: cannot connect to a Dask scheduler ({exc})",
                    hint="give a scheduler address (tcp://HOST:8786), one of "
                    f"{', '.join(LOCAL_SCHEDULERS)}, or {instead}",
                ) from None
        else:
            stack.enter_context(_quiet("asyncio"))
            with _workers_ignore_interrupts():
                cluster = stack.enter_context(
                    LocalCluster(
                        threads_per_worker=1,
                        dashboard_address=":0",  # any free port: never "8787 is in use"
                        silence_logs=logging.CRITICAL,  # a worker's error reaches the user
                        # once, as cxkpi's own error line, not also as a logged traceback
                    )
                )
            client = stack.enter_context(Client(cluster))
        workers = client.scheduler_info().get("workers", {}).values()
        with _scheduler_kept(client, named if address else "the local Dask cluster"):
            yield Compute(client.get, sum(w.get("nthreads", 1) for w in workers) or 1)


@contextlib.contextmanager
def _scheduler_kept(client: Any, named: str) -> Iterator[None]:
    """A scheduler lost during the run is one error line (exit 1), not distributed's logged
    reconnection traceback and an internal error (a cancelled future) after it."""
    from concurrent.futures import CancelledError

    try:
        yield
    except (CancelledError, OSError):
        if client.status == "running":  # the scheduler is there: some other failure
            raise
        raise InputError(
            f"{named}: the connection to the Dask scheduler was lost during the run",
            hint="check that the cluster is up and reachable from here, then run it again",
        ) from None


@contextlib.contextmanager
def _workers_ignore_interrupts() -> Iterator[None]:
    """Ctrl-C ignored while the local cluster's worker processes start, so they inherit it:
    the interrupt stops cxkpi alone, which closes the cluster, instead of every worker also
    printing a KeyboardInterrupt traceback (new-user test 13)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """A logger silenced while a cluster is in use, as cxkpi says itself, once, what it
    would log: asyncio's "Task exception was never retrieved" for the client's pending
    gathers when an interrupt stops a run ("interrupted"), distributed.client's traceback
    for its failed reconnection when the scheduler is lost (`_scheduler_kept`)."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def tally_source(
    reader: SourceReader,
    choices: Sequence[KpiChoice],
    settings: Settings,
    compute: Compute,
) -> dict[int, dict[GroupSet, pd.DataFrame]]:
    """The pandas engine's `tally_source`, with each file read and tallied as a Dask task and
    the whole-rows KPIs tallied per split of their units on the workers: the client gets
    back only sums per group."""
    from dask import delayed

    from cx_cli.analysis import add_quantiles, observed_quantiles, roll_up, whole_rows_kpis

    paths = _files(reader)
    buckets = _bucket_count(paths, compute.slots)
    seen = _seen_ids(reader, paths, buckets)
    if reader.folds_orders:
        orders, accounting = _whole_orders(reader, paths, seen, buckets)
        scans = [delayed(_orders_scan)(o, reader, choices, settings) for o in orders]
    else:
        read = [
            delayed(_file_scan)(reader, path, choices, settings, ids)
            for path, ids in zip(paths, seen, strict=True)
        ]
        accounting = _pairwise([delayed(_reader_of)(r) for r in read], _add_accounting)
        scans = [delayed(_scan_of)(r) for r in read]
    sums = _pairwise([delayed(_sums_of)(found) for found in scans], _add_sums)
    counts = _pairwise([delayed(_counts_of)(found) for found in scans], _add_count_maps)
    medians = delayed(observed_quantiles)(counts, settings)
    whole = whole_rows_kpis(choices)
    kept = [delayed(_kept_rows)(found) for found in scans]
    ctx = Context(reader.spec.kind, settings.period, settings.since, settings.until)
    finished = _whole_tallies(kept, ctx, whole, settings, buckets) if whole else []
    with _as_listed(reader):
        found_sums, found_medians, account, tallied = compute(sums, medians, accounting, finished)
    _absorb(reader, account)
    reader.finish()
    out = roll_up(found_sums, choices, settings)
    add_quantiles(out, found_medians)
    for figures in tallied:
        out.update(figures)
    return {id(c): out[i] for i, c in enumerate(choices)}


def _whole_tallies(
    kept: list[Delayed],
    ctx: Context,
    whole: Sequence[tuple[int, KpiChoice]],
    settings: Settings,
    buckets: int,
) -> list[Delayed]:
    """The whole-rows KPIs' finished sums as Dask tasks, one per way of splitting the rows.

    Each file's kept rows are hashed by the KPIs' unit (`Kpi.unit_of`: a customer, a
    session) into `buckets`, so one bucket holds every row of its units, in file order; each
    bucket is tallied on a worker with the extent of all rows (`Kpi.extent`), and the
    buckets' tallies are added up there too. Rows that are their own units are tallied per
    file; a KPI whose rows cannot be split gets all of them in one task. Hash buckets are
    Dask's own task-based shuffle written as tasks: pieces joined in file order keep a
    unit's rows in file order (folded orders are sorted back by their place in the
    source), and no schema has to be shared by all files.
    """
    from dask import delayed

    from cx_cli.analysis import finish_tallies

    kind = ctx.kind
    extents = delayed(_add_extent_maps)([delayed(_file_extents)(r, whole, kind) for r in kept])
    by_unit: dict[str | None, list[tuple[int, KpiChoice]]] = {}
    for i, c in whole:
        by_unit.setdefault(c.definition.unit_of(c.options, ctx), []).append((i, c))
    finished = []
    for unit, mine in by_unit.items():
        splits = _splits(kept, unit, buckets)
        parts = [delayed(_tally_split)(split, kind, mine, settings, extents) for split in splits]
        add = functools.partial(_add_tallies, whole=mine, settings=settings)
        finished.append(delayed(finish_tallies)(_pairwise(parts, add), mine))
    return finished


def split_tally(
    reader: SourceReader,
    compute: Compute,
    unit: str,
    extent_of: Callable[[pd.DataFrame | None], Any],
    tally: Callable[[pd.DataFrame | None, Any], T],
    add: Callable[[T, T], T],
) -> tuple[Any, T]:
    """A per-unit aggregation of every row the source keeps (orders folded), on the workers.

    `tally(rows, extent)` runs on each bucket of whole units (`unit`: a customer) with the
    extent of all rows (`extent_of` per file, combined by `add_extents`), and the buckets'
    results are combined by `add`. Only the extent and the combined result reach the client:
    returned in that order. Cohorts are built so."""
    from dask import delayed

    from cx_cli.analysis import add_extents

    paths = _files(reader)
    buckets = _bucket_count(paths, compute.slots)
    seen = _seen_ids(reader, paths, buckets)
    if reader.folds_orders:
        rows, accounting = _whole_orders(reader, paths, seen, buckets)
    else:
        read = [delayed(_file_rows)(reader, p, ids) for p, ids in zip(paths, seen, strict=True)]
        accounting = _pairwise([delayed(_reader_of)(r) for r in read], _add_accounting)
        rows = [delayed(_rows_of)(r) for r in read]
    extent = delayed(add_extents)([delayed(extent_of)(r) for r in rows])
    splits = _splits(rows, unit, buckets)
    tallies = [delayed(_tally_joined)(split, tally, extent) for split in splits]
    with _as_listed(reader):
        found_extent, total, account = compute(extent, _pairwise(tallies, add), accounting)
    _absorb(reader, account)
    reader.finish()
    return found_extent, total


def _whole_orders(
    reader: SourceReader, paths: Sequence[str], seen: Sequence[Any], buckets: int
) -> tuple[list[Delayed], Delayed]:
    """A line-item export's orders, whole, in buckets by order id (Dask tasks), and the
    files' row accounting. Each file's lines are folded into orders on its worker; the
    folded files are hashed by order id, and each bucket's pieces are merged in file order
    (an order may straddle files): the pandas engine's folding, spread over the buckets.
    Each order carries its place in the source (`SEQUENCE`), which restores file order once
    the orders are regrouped by customer."""
    from dask import delayed

    files = [
        delayed(_file_orders)(reader, path, ids, number)
        for number, (path, ids) in enumerate(zip(paths, seen, strict=True))
    ]
    accounting = _pairwise([delayed(_reader_of)(f) for f in files], _add_accounting)
    folded = [delayed(_rows_of)(f) for f in files]
    total = reader.spec.order_total
    orders = [
        delayed(_merged_orders)(split, total) for split in _splits(folded, "order_id", buckets)
    ]
    return orders, accounting


def _bucket_count(paths: Sequence[str], slots: int) -> int:
    """How many buckets a source's rows are regrouped into: enough to keep every task slot
    busy twice over (at least 2, so that even one slot tallies split rows), no more than the
    files nor MAX_BUCKETS. Every file sends a piece to every bucket, so tasks grow as files x
    buckets, and a bucket per file made small files several times slower (review 12)."""
    return max(1, min(len(paths), max(2, 2 * slots), MAX_BUCKETS))


def _splits(rows: Sequence[Delayed], unit: str | None, count: int) -> list[list[Delayed]]:
    """Files' rows (Dask tasks) regrouped into splits of whole units, each a list of pieces in
    file order: `count` hash buckets of `unit`; one split of everything for None (rows that
    cannot be split)."""
    from dask import delayed

    if unit is None:
        return [list(rows)]
    pieces = [delayed(_buckets, nout=count)(r, unit, count) for r in rows]
    return [[piece[b] for piece in pieces] for b in range(count)]


def _files(reader: SourceReader) -> list[str]:
    """The source's files as the tasks open them; stdin cannot be handed to Dask tasks (a
    worker has its own).

    Local paths are made absolute here, where they were listed: a worker opens a relative
    path in its own folder, where it would not find what the client's glob found.
    """
    return [_absolute(p) for p in _no_stdin(reader.name, reader.paths())]


def _absolute(path: str) -> str:
    from cx_cli import files

    return path if files.is_url(path) else os.path.abspath(path)


def _absorb(reader: SourceReader, account: SourceReader) -> None:
    """Add the tasks' row accounting to the client's reader, its files named as listed (as
    the pandas engine names them), not by the absolute paths the tasks were given."""
    reader.absorb(account)
    listed = _listed(reader)
    for f in reader.quality.files:
        f["path"] = listed.get(f["path"], f["path"])
    guessed = reader.quality.guessed_encodings
    reader.quality.guessed_encodings = {listed.get(p, p): e for p, e in guessed.items()}


def _listed(reader: SourceReader) -> dict[str, str]:
    """Each file's absolute path (as the tasks were given it) -> its name as listed."""
    return {_absolute(p): p for p in reader.paths() if _absolute(p) != p}


@contextlib.contextmanager
def _as_listed(reader: SourceReader) -> Iterator[None]:
    """An error from the tasks names the source's files as listed, as the pandas engine's
    does, not by the absolute paths the tasks were given."""
    try:
        yield
    except CxError as exc:
        listed = sorted(_listed(reader).items(), key=lambda pair: -len(pair[0]))

        def renamed(text: str) -> str:
            for absolute, given in listed:
                text = text.replace(absolute, given)
            return text

        hint = renamed(exc.hint) if exc.hint else exc.hint
        raise type(exc)(renamed(exc.message), hint=hint) from None


def check_paths(source: str, path: str | Sequence[str]) -> list[str]:
    """The source's files, listed and checked before a scheduler is connected: a pattern
    matching nothing, or stdin, is an error at once, not after a cluster has started. The
    reader is given the list (`SourceReader.listed`), so a glob is listed once."""
    from cx_cli import files

    return _no_stdin(source, files.expand(path, source))


def _no_stdin(source: str, paths: list[str]) -> list[str]:
    if "-" in paths:
        raise UsageError(
            f"--engine dask cannot read source '{source}' from stdin: Dask workers "
            "open the files themselves",
            hint="write the data to a file (or a URL) the workers can read, or use --engine pandas",
        )
    return paths


def _seen_ids(reader: SourceReader, paths: Sequence[str], buckets: int) -> list[Any]:
    """Per file, the ids an earlier file already had (empty sets without `dedupe:`), as Dask
    tasks: each file's ids are hashed into `buckets`, and each bucket finds its repeats on a
    worker, so no task holds every id (and the client none)."""
    from dask import delayed

    if not reader.spec.dedupe:
        return [set() for _ in paths]
    files = len(paths)
    ids = [delayed(_file_ids)(reader, path) for path in paths]
    pieces = [delayed(_id_buckets, nout=buckets)(mine, buckets) for mine in ids]
    earlier = [
        delayed(_earlier_ids, nout=files)([piece[b] for piece in pieces]) for b in range(buckets)
    ]
    return [delayed(_union)([bucket[f] for bucket in earlier]) for f in range(files)]


def _id_buckets(ids: set[str], count: int) -> list[set[str]]:
    """A file's ids in `count` buckets by a hash that every worker computes alike (pandas'
    keyed hash, not Python's salted `hash`)."""
    import pandas as pd

    if count == 1:
        return [ids]
    values = pd.Series(list(ids), dtype="string")
    bucket = pd.util.hash_pandas_object(values, index=False).to_numpy() % count
    return [set(values[bucket == b]) for b in range(count)]


def _union(sets: Sequence[set[str]]) -> set[str]:
    """The ids of every bucket, as one set."""
    return set().union(*sets)


def _file_reader(reader: SourceReader, ids: set[str] | None = None) -> SourceReader:
    """A fresh reader of the same source, for one file (its own row accounting)."""
    fresh = dataclasses.replace(reader, progress=None, listed=None)  # tasks need no list
    fresh._seen_ids = set(ids or ())
    return fresh


def _lean(reader: SourceReader) -> SourceReader:
    """The reader without what a task need not send back (ids seen, the last batch's masks)."""
    reader._seen_ids = set()
    reader._pending = []
    for name in ("_time_blank", "_in_window"):
        reader.__dict__.pop(name, None)
    return reader


def _file_ids(reader: SourceReader, path: str) -> set[str]:
    """First pass for `dedupe`: the ids of the rows a file would keep, repeats aside."""
    mine = _file_reader(reader)
    for _ in mine.file_batches(path):
        pass
    return mine._seen_ids


def _earlier_ids(ids: Sequence[set[str]]) -> list[set[str]]:
    """For each file, its ids that an earlier file already had (those rows are repeats)."""
    before: set[str] = set()
    earlier = []
    for mine in ids:
        earlier.append(mine & before)
        before |= mine
    return earlier


def _file_scan(
    reader: SourceReader, path: str, choices: Sequence[KpiChoice], settings: Settings, ids: set[str]
) -> tuple[Scan, SourceReader]:
    from cx_cli.analysis import scan

    mine = _file_reader(reader, ids)
    found = scan(mine.file_batches(path), mine, choices, settings)
    return found, _lean(mine)


def _file_orders(
    reader: SourceReader, path: str, ids: set[str], number: int
) -> tuple[pd.DataFrame, SourceReader]:
    """The file's orders (its lines folded), each with its place in the source: the file's
    `number`, then the order's place in the file (`SEQUENCE`)."""
    import numpy as np

    from cx_cli.analysis import SEQUENCE
    from cx_cli.stages import merge_orders, reduce_orders

    mine = _file_reader(reader, ids)
    total = reader.spec.order_total
    folded = merge_orders([reduce_orders(f, total) for f in mine.file_batches(path)], total)
    if len(folded.columns):
        folded[SEQUENCE] = (number << FILE_SHIFT) + np.arange(len(folded), dtype="int64")
    return folded, _lean(mine)


def _merged_orders(split: Sequence[pd.DataFrame | None], total: str) -> pd.DataFrame | None:
    """A bucket's orders, whole: its pieces (in file order) merged by order id."""
    from cx_cli.stages import merge_orders

    pieces = [piece for piece in split if piece is not None and len(piece.columns)]
    return merge_orders(pieces, total) if pieces else None


def _file_rows(reader: SourceReader, path: str, ids: set[str]) -> tuple[pd.DataFrame, SourceReader]:
    import pandas as pd

    mine = _file_reader(reader, ids)
    frames = list(mine.file_batches(path))
    return (pd.concat(frames) if frames else pd.DataFrame()), _lean(mine)


def _pairwise(parts: list[Any], combine: Callable[[Any, Any], Any]) -> Any:
    """Add neighbouring files' results until one is left: a tree of Dask tasks, file order
    kept (first values and row order are those of one stream)."""
    from dask import delayed

    add = delayed(combine)
    while len(parts) > 1:
        pairs = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def _add_sums(a: pd.DataFrame | None, b: pd.DataFrame | None) -> pd.DataFrame | None:
    """Two scans' additive sums added up per group (`merge_sums`)."""
    from cx_cli.analysis import merge_sums

    levels = a.index.names if a is not None else (b.index.names if b is not None else [])
    return merge_sums([a, b], list(levels))


def _orders_scan(
    orders: pd.DataFrame | None,
    reader: SourceReader,
    choices: Sequence[KpiChoice],
    settings: Settings,
) -> Scan:
    """A bucket's whole orders, tallied (on a worker)."""
    from cx_cli.analysis import scan

    return scan([] if orders is None else [orders], reader, choices, settings)


def _scan_of(read: tuple[Scan, SourceReader]) -> Scan:
    """A file task's scan."""
    return read[0]


def _sums_of(found: Scan) -> pd.DataFrame | None:
    """A scan's additive sums, without its kept rows (they stay on the worker for the
    whole-rows KPIs)."""
    return found.sums


def _counts_of(found: Scan) -> dict[int, pd.DataFrame]:
    """A scan's value counts (by KPI position), for the medians of KPIs with observations."""
    return found.counts


def _add_count_maps(
    a: dict[int, pd.DataFrame], b: dict[int, pd.DataFrame]
) -> dict[int, pd.DataFrame | None]:
    """Two scans' value counts added up per KPI position, group and value."""
    from cx_cli.quantiles import add_counts

    return {i: add_counts([a.get(i), b.get(i)]) for i in a.keys() | b.keys()}


def _kept_rows(found: Scan) -> pd.DataFrame | None:
    """The rows a scan kept for the whole-rows KPIs, as one frame."""
    import pandas as pd

    kept = found.kept
    return pd.concat(kept) if kept else None


def _file_extents(
    rows: pd.DataFrame | None, whole: Sequence[tuple[int, KpiChoice]], kind: str
) -> dict[int, Any]:
    """Per KPI position, the extent of one file's kept rows (`extent_of`)."""
    from cx_cli.analysis import extent_of

    return {i: extent_of(rows, c, kind) for i, c in whole}


def _add_extent_maps(extents: Sequence[dict[int, Any]]) -> dict[int, Any]:
    """Per KPI position, the extent of all files (`add_extents`)."""
    from cx_cli.analysis import add_extents

    return {i: add_extents(e[i] for e in extents) for i in (extents[0] if extents else {})}


def _buckets(rows: pd.DataFrame | None, unit: str, count: int) -> list[pd.DataFrame | None]:
    """The rows in `count` buckets by a hash of their unit: a unit's rows all land in one
    bucket, whichever file they come from (rows without a unit, in one bucket too). Units
    are hashed as text, so that a file read with other column types cannot split one."""
    import pandas as pd

    if rows is None or count == 1:
        return [rows] * count
    units = rows[unit].astype("string")
    bucket = pd.util.hash_pandas_object(units, index=False).to_numpy() % count
    found = dict(tuple(rows.groupby(bucket, sort=False)))  # file order kept in each
    return [found.get(b, rows.iloc[:0]) for b in range(count)]


def _joined(split: Sequence[pd.DataFrame | None]) -> pd.DataFrame | None:
    """A split's pieces as one frame, in file order (None when every piece is): orders
    regrouped from buckets of order ids are put back in the source's order."""
    import pandas as pd

    from cx_cli.analysis import SEQUENCE

    frames = [f for f in split if f is not None]
    if not frames:
        return None
    rows = pd.concat(frames)
    if SEQUENCE not in rows:
        return rows
    return rows.sort_values(SEQUENCE, kind="stable").drop(columns=SEQUENCE)


def _tally_joined(
    split: Sequence[pd.DataFrame | None],
    tally: Callable[[pd.DataFrame | None, Any], T],
    extent: Any,
) -> T:
    """`tally` of a split's rows, given the extent of all rows."""
    return tally(_joined(split), extent)


def _reader_of(read: tuple[Any, SourceReader]) -> SourceReader:
    """A file task's reader: its row accounting."""
    return read[1]


def _rows_of(read: tuple[pd.DataFrame, SourceReader]) -> pd.DataFrame | None:
    """A file task's rows (None for a file without any)."""
    return read[0] if len(read[0].columns) else None


def _add_accounting(a: SourceReader, b: SourceReader) -> SourceReader:
    """Two readers' row accounting as a new reader: a task's inputs are left as they were,
    as Dask expects (a result may be read again, or a task run again)."""
    added = copy.deepcopy(a)
    added.absorb(b)
    return added


def _tally_split(
    split: Sequence[pd.DataFrame | None],
    kind: str,
    whole: Sequence[tuple[int, KpiChoice]],
    settings: Settings,
    extents: dict[int, Any],
) -> Tallies:
    """Whole-rows tallies of one split of the rows (its pieces in file order)."""
    from cx_cli.analysis import tally_whole_rows

    return tally_whole_rows(_joined(split), kind, whole, settings, extents)


def _add_tallies(
    a: Tallies, b: Tallies, whole: Sequence[tuple[int, KpiChoice]], settings: Settings
) -> Tallies:
    """Two splits' tallies as one (`add_tallies`)."""
    from cx_cli.analysis import add_tallies

    return add_tallies([a, b], whole, settings)
