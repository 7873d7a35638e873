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
    """Merge per-batch orders into one row per order id. The list is emptied as it is read."""
    merger = OrderMerger(order_total)
    while partials:
        merger.add(partials.pop(0))
    return merger.result()


class OrderMerger:
    """Per-batch orders (from `reduce_orders`) merged into one row per order id as they come.

    While order ids never decrease, an order can only continue across a batch boundary, so
    only the last order seen and the next batch's first one are ever folded together: the
    batches are not folded again. Once ids go backwards, the batches are kept as they are and
    folded at the end by one groupby over all of them (sum, min and first compose).
    """

    def __init__(self, order_total: str = "sum") -> None:
        self.order_total = order_total
        self.parts: list[pd.DataFrame] = []
        self.last: pd.DataFrame | None = None  # the latest order, which the next may continue
        self.in_order = True
        self.empty: pd.DataFrame | None = None  # a batch without orders: the columns, if none

    def add(self, orders: pd.DataFrame) -> None:
        """Take one batch's orders (one row per run of an order id in that batch)."""
        import pandas as pd

        if orders.empty:
            self.empty = orders if self.empty is None else self.empty
            return
        if not self.in_order:
            self.parts.append(orders)
            return
        ids = orders["order_id"]
        if self.last is not None:
            previous = self.last["order_id"].iloc[0]
            if ids.iloc[0] == previous:  # the last order continues in this batch
                pair = pd.concat([self.last, orders.iloc[:1]], ignore_index=True)
                self.last = self._fold(pair)
                orders = orders.iloc[1:]
                ids = ids.iloc[1:]
            if len(ids) and ids.iloc[0] <= previous:  # checked after the fold, too
                self._give_up(orders)
                return
        if orders.empty:
            return
        if not _sorted(ids):
            self._give_up(orders)
            return
        if self.last is not None:
            self.parts.append(self.last)
        self.parts.append(orders.iloc[:-1])
        self.last = orders.iloc[-1:]

    def result(self) -> pd.DataFrame:
        """All orders, one row per order id (in order of ids when they came in order)."""
        import pandas as pd

        if self.last is not None:
            self.parts.append(self.last)
            self.last = None
        parts, self.parts = [p for p in self.parts if len(p)], []
        if not parts:
            return pd.DataFrame() if self.empty is None else self.empty.reset_index(drop=True)
        merged = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        del parts
        if self.in_order:
            return merged.reset_index(drop=True)
        grouped = merged.groupby("order_id", sort=False, observed=True)
        return _unpriced_as_blank(
            grouped.agg(_rules(merged.columns, self.order_total))
        ).reset_index()

    def _fold(self, rows: pd.DataFrame) -> pd.DataFrame:
        return _unpriced_as_blank(_fold_runs(rows, _rules(rows.columns, self.order_total)))

    def _give_up(self, orders: pd.DataFrame) -> None:
        """Ids went backwards: keep every batch whole, to be grouped at the end."""
        self.in_order = False
        if self.last is not None:
            self.parts.append(self.last)
            self.last = None
        self.parts.append(orders)
