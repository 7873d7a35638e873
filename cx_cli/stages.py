"""Stages that turn rows that are not additive into rows that are: line items into orders.

A line-item export has several rows per order id, and an order may straddle two batches. Each
batch is reduced to one row per order (amount summed, earliest timestamp, first customer,
status and segments); the reduced batches are then merged the same way, which is exact because
sum, min and first compose. Neighbouring lines of one order are folded without hashing ids;
the merge hashes only when the ids are not in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def _rules(columns: pd.Index, order_total: str) -> dict[str, str]:
    rules = {}
    for column in columns:
        if column == "order_id":
            continue
        if column == "amount":
            rules[column] = "sum" if order_total == "sum" else "first"
        elif column in ("ordered_at",):
            rules[column] = "min"
        elif column in ("lines", "priced_lines"):
            rules[column] = "sum"
        else:
            rules[column] = "first"
    return rules


def reduce_orders(lines: pd.DataFrame, order_total: str = "sum") -> pd.DataFrame:
    """One row per run of lines with the same order id in this batch (an order's lines are
    usually together; an order whose lines are apart is joined by `merge_orders`); `lines`
    counts the rows folded into it."""
    extra = {"lines": 1}
    if "amount" in lines:  # an order whose lines all lack an amount has no amount, not 0
        extra["priced_lines"] = lines["amount"].notna().astype("int64")
    lines = lines.assign(**extra)
    return _unpriced_as_blank(_fold_runs(lines, _rules(lines.columns, order_total)))


def _fold_runs(rows: pd.DataFrame, rules: dict[str, str]) -> pd.DataFrame:
    """Neighbouring rows with the same order id folded by `rules`, as groupby would fold them
    (sums skip blanks, min skips NaT, first takes the first non-blank), without hashing ids."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    count = len(rows)
    if count == 0 or any(rules[c] == "min" and rows[c].dtype.kind != "M" for c in rules):
        grouped = rows.groupby("order_id", sort=False, observed=True)
        return grouped.agg(rules).reset_index()
    ids = pa.array(rows["order_id"])
    change = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.concatenate([[True], change]))
    if len(starts) == count:  # every row its own order already: nothing to fold
        return rows[["order_id", *rules]].reset_index(drop=True)
    folded = {"order_id": rows["order_id"].iloc[starts].reset_index(drop=True)}
    for column, rule in rules.items():
        folded[column] = _fold(rows[column], rule, starts)
    return pd.DataFrame(folded)


def _fold(values: pd.Series, rule: str, starts: Any) -> pd.Series:
    import numpy as np
    import pandas as pd

    if rule == "sum":
        numbers = values.to_numpy()
        if numbers.dtype.kind == "f":
            numbers = np.nan_to_num(numbers, nan=0.0)
        return pd.Series(np.add.reduceat(numbers, starts))
    if rule == "min":  # timestamps: NaT never wins
        ticks = values.to_numpy("datetime64[ns]").view("int64")
        last = np.iinfo("int64").max
        least = np.minimum.reduceat(np.where(ticks == np.iinfo("int64").min, last, ticks), starts)
        return pd.Series(np.where(least == last, np.iinfo("int64").min, least).view("M8[ns]"))
    present = values.notna().to_numpy()
    if present.all():  # the first row of each run
        return values.iloc[starts].reset_index(drop=True)
    where = np.minimum.reduceat(np.where(present, np.arange(len(values)), len(values)), starts)
    found = where < len(values)
    first = values.iloc[np.where(found, where, 0)].reset_index(drop=True)
    return first if found.all() else first.where(found)


def _sorted(ids: pd.Series) -> bool:
    """Whether order ids never decrease (then an order's rows are neighbours)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pa.array(ids)
    return len(values) < 2 or not pc.any(pc.less(values[1:], values[:-1])).as_py()


def _unpriced_as_blank(orders: pd.DataFrame) -> pd.DataFrame:
    if "priced_lines" in orders:
        orders["amount"] = orders["amount"].where(orders["priced_lines"] > 0)
    return orders


def merge_orders(partials: list[pd.DataFrame], order_total: str = "sum") -> pd.DataFrame:
    """Merge per-batch orders into one row per order id. The list is emptied as the batches
    are joined, so they are not held while the merged orders are folded."""
    import pandas as pd

    if not partials:
        return pd.DataFrame()
    merged = partials[0] if len(partials) == 1 else pd.concat(partials, ignore_index=True)
    partials.clear()
    rules = _rules(merged.columns, order_total)
    if _sorted(merged["order_id"]):  # exports sorted by order id: fold neighbours, no hashing
        return _unpriced_as_blank(_fold_runs(merged, rules))
    grouped = merged.groupby("order_id", sort=False, observed=True)
    return _unpriced_as_blank(grouped.agg(rules).reset_index())
