"""Stages that turn rows that are not additive into rows that are: line items into orders.

A line-item export has several rows per order id, and an order may straddle two batches. Each
batch is reduced to one row per order (amount summed, earliest timestamp, first customer,
status and segments); the reduced batches are then merged the same way, which is exact because
sum, min and first compose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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
    """One row per order id in this batch; `lines` counts the rows folded into it."""
    extra = {"lines": 1}
    if "amount" in lines:  # an order whose lines all lack an amount has no amount, not 0
        extra["priced_lines"] = lines["amount"].notna().astype("int64")
    lines = lines.assign(**extra)
    grouped = lines.groupby("order_id", sort=False, observed=True)
    return _unpriced_as_blank(grouped.agg(_rules(lines.columns, order_total)).reset_index())


def _unpriced_as_blank(orders: pd.DataFrame) -> pd.DataFrame:
    if "priced_lines" in orders:
        orders["amount"] = orders["amount"].where(orders["priced_lines"] > 0)
    return orders


def merge_orders(partials: Sequence[pd.DataFrame], order_total: str = "sum") -> pd.DataFrame:
    """Merge per-batch orders into one row per order id."""
    import pandas as pd

    if not partials:
        return pd.DataFrame()
    if len(partials) == 1:
        return partials[0]
    merged = pd.concat(partials, ignore_index=True)
    grouped = merged.groupby("order_id", sort=False, observed=True)
    return _unpriced_as_blank(grouped.agg(_rules(merged.columns, order_total)).reset_index())
