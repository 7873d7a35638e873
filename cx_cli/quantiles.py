"""Exact medians and p90 from counted values: the one statistic that is not a plain sum, made one.

A KPI with `observations` (durations, historical CLV) reports the median and p90 beside its
mean. Those need the values themselves, but not one row per value: `count_values` keeps how
often each distinct value occurs per group, and counts add up across batches, files and Dask
workers like any other sum (`add_counts`). `quantiles` reads the exact median and p90 off the
sorted counts, as pandas would from the expanded values (the median of an even count is the
mean of the two middle values; p90 interpolates linearly between ranks).

Held in memory: one row per group and distinct value. Handle and response times come in whole
seconds and repeat a lot, so a million tickets hold some thousands of rows, not a million.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cx_cli.groups import Groups, group_numbers

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

VALUE = "_obs"
COUNT = "_n"
MEDIAN, P90 = "median", "p90"
# Rows a `ValueCounter` gathers before counting them, and the fewest rows of newer count
# tables it merges: counting and merging have a fixed cost per call, which tiny frames
# (a library caller's small `batch_bytes`) would otherwise pay per frame.
MERGE_ROWS = 1 << 16


class ValueCounter:
    """Counts of values per group, fed frame by frame (`add`), as one table at the end
    (`result`). Small frames are gathered and counted together; count tables are merged once
    the newer ones hold as many rows as the merged one, so a read holds at most about twice
    its distinct values, and each row is merged a few times, not once per frame."""

    def __init__(self) -> None:
        self._rows: list[pd.DataFrame] = []  # uncounted: the key columns, then VALUE
        self._gathered = 0
        self._tables: list[pd.DataFrame] = []  # counted; the first is the merged one
        self._newer = 0

    def add(self, keys: pd.DataFrame, values: pd.Series) -> None:
        """Take one frame's rows: its group key columns and the values to count."""
        self._rows.append(keys.assign(**{VALUE: values.astype("float64").to_numpy()}))  # by place
        self._gathered += len(keys)
        if self._gathered >= MERGE_ROWS:
            self._count()

    def result(self) -> pd.DataFrame | None:
        """Every value counted per group (None: no frame was added)."""
        self._count()
        return add_counts(self._tables)

    def _count(self) -> None:
        if not self._rows:
            return
        rows = self._rows[0] if len(self._rows) == 1 else _concat(self._rows)
        self._rows, self._gathered = [], 0
        table = count_values(rows.drop(columns=[VALUE]), rows[VALUE])
        self._tables.append(table)
        self._newer += len(table)
        if len(self._tables) > 1 and self._newer >= max(len(self._tables[0]), MERGE_ROWS):
            merged = add_counts(self._tables)
            self._tables, self._newer = ([merged] if merged is not None else []), 0


def count_values(keys: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """How many rows hold each value, per group of `keys` (the group key columns, then VALUE
    and COUNT). Rows without a value are left out; a missing key is a group of its own, as in
    the sums."""
    present = values.notna().to_numpy()
    if not present.all():
        keys, values = keys[present], values[present]
    return _table(keys, values.to_numpy("float64"), None)


def add_counts(parts: Sequence[pd.DataFrame | None]) -> pd.DataFrame | None:
    """Several count tables (same key columns) as one: counts of the same group and value added."""
    present = [p for p in parts if p is not None]
    if len(present) <= 1:
        return present[0] if present else None
    joined = _concat(present)
    weights = joined[COUNT].to_numpy("int64")
    return _table(joined.drop(columns=[VALUE, COUNT]), joined[VALUE].to_numpy("float64"), weights)


def _table(keys: pd.DataFrame, values: np.ndarray, weights: np.ndarray | None) -> pd.DataFrame:
    """One row per (group, value) pair present, sorted by group, then value: the group's keys
    (in their own dtypes: a segment stays categorical), the value, and how many rows hold it
    (or the sum of their `weights`). Two sorts of numbers, no hashing and no pandas groupby:
    on a million rows, several times faster than factorizing the values."""
    import numpy as np

    groups = group_numbers(keys)
    order = _by_group_then_value(groups, values)
    numbers, ordered = groups.numbers[order], values[order]
    change = (numbers[1:] != numbers[:-1]) | (ordered[1:] != ordered[:-1])
    starts = np.flatnonzero(np.concatenate(([True], change))) if len(order) else order
    if weights is None:
        counts = np.diff(np.append(starts, len(order)))
    else:
        counts = np.add.reduceat(weights[order], starts) if len(order) else weights
    table = keys.iloc[order[starts]].reset_index(drop=True)
    table[VALUE] = ordered[starts]
    table[COUNT] = counts.astype("int64")
    return table


def _by_group_then_value(groups: Groups, values: np.ndarray) -> np.ndarray:
    """The row order that sorts by group number, then by value: the values sorted once, then
    a stable sort by group (a radix sort when there are fewer than 65,536 groups)."""
    import numpy as np

    order = np.argsort(values)
    if len(groups) <= 1:
        return order
    numbers = groups.numbers[order]
    if len(groups) < 1 << 16:
        numbers = numbers.astype("uint16")
    return order[np.argsort(numbers, kind="stable")]


def _concat(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Count tables one under the other; a categorical column stays one, over the union of
    the tables' categories (pandas would fall back to text)."""
    import pandas as pd

    columns = {}
    for name in tables[0].columns:
        parts = [t[name] for t in tables]
        columns[name] = _categorical_union(parts)
        if columns[name] is None:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)


def _categorical_union(parts: Sequence[pd.Series]) -> pd.Series | None:
    """Categorical columns one under the other, over the union of their categories; None when
    one is not categorical, or their categories are of other dtypes."""
    import pandas as pd
    from pandas.api.types import union_categoricals

    if not all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
        return None
    try:
        return pd.Series(union_categoricals(parts), name=parts[0].name)
    except TypeError:
        return None


def quantiles(counts: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame:
    """The median and p90 per group of `keys` (any subset of the table's key columns), indexed
    by those keys as plain values; groups without values are absent."""
    return quantile_tables(counts, [keys])[0]


def quantile_tables(
    counts: pd.DataFrame | None, key_sets: Sequence[list[str]]
) -> list[pd.DataFrame]:
    """`quantiles` for several groupings of one table."""
    import pandas as pd

    if counts is None or not len(counts):
        empty = [pd.MultiIndex.from_arrays([[] for _ in keys], names=keys) for keys in key_sets]
        return [pd.DataFrame({MEDIAN: [], P90: []}, index=_flat(e), dtype="float64") for e in empty]
    values = counts[VALUE].to_numpy("float64")
    weights = counts[COUNT].to_numpy("int64")
    tables = []
    for keys in key_sets:
        groups = group_numbers(counts[keys])
        order = _by_group_then_value(groups, values)
        median, p90 = _median_p90(values[order], weights[order], groups.numbers[order], len(groups))
        tables.append(pd.DataFrame({MEDIAN: median, P90: p90}, index=_flat(groups.index)))
    return tables


def _median_p90(
    values: np.ndarray, weights: np.ndarray, numbers: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each group's median and p90, from its (value, count) rows sorted by group, then value."""
    import numpy as np

    ends = np.cumsum(weights)  # rank (from 1) of each row's last observation, over all groups
    sizes = np.bincount(numbers, weights=weights, minlength=count).astype("int64")
    offsets = np.cumsum(sizes) - sizes  # rank (from 0) of each group's first observation

    def at(rank: np.ndarray) -> np.ndarray:
        """The value of each group's observation of this rank (from 0), in sorted order."""
        return values[np.searchsorted(ends, offsets + rank, side="right")]

    middle, upper = at((sizes - 1) // 2), at(sizes // 2)
    position = (sizes - 1) * 0.9
    low = np.floor(position).astype("int64")
    fraction = position - low
    below, above = at(low), at(np.minimum(low + 1, sizes - 1))
    # A rank that falls on a value gives that value itself, so that no sum of two values near
    # the float maximum overflows where pandas gives the value (review 16).
    with np.errstate(over="ignore", invalid="ignore"):
        median = np.where(sizes % 2 == 1, middle, (middle + upper) / 2.0)
        p90 = np.where(fraction == 0, below, below + (above - below) * fraction)
    return median, p90


def _flat(index: pd.MultiIndex) -> pd.Index:
    """Group keys shaped like a groupby's index: flat for one key."""
    return index.get_level_values(0) if index.nlevels == 1 else index
