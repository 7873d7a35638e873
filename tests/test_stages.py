"""Folding line items into orders: by neighbours, per batch, then merged, equals one groupby."""

from __future__ import annotations

import itertools
import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cx_cli.stages import merge_orders, reduce_orders

LINE = st.tuples(
    st.sampled_from(["A", "B", "C", "D", "E"]),  # order id
    st.one_of(st.none(), st.sampled_from([0.5, 2.0, 10.25, -3.0])),  # amount (blank allowed)
    st.one_of(st.none(), st.integers(0, 5)),  # day of the order (blank allowed)
    st.one_of(st.none(), st.sampled_from(["c1", "c2"])),  # customer
    st.sampled_from(["web", "app"]),  # channel
)


def lines_frame(lines: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": pd.Series([line[0] for line in lines], dtype="str"),
            "amount": pd.Series([line[1] for line in lines], dtype="float64"),
            "ordered_at": pd.Series(
                [None if line[2] is None else pd.Timestamp(2025, 1, 1 + line[2]) for line in lines],
                dtype="datetime64[ns]",
            ),
            "customer_id": pd.Series([line[3] for line in lines], dtype="str"),
            "seg:channel": pd.Series([line[4] for line in lines], dtype="category"),
        }
    )


def reference(frame: pd.DataFrame, order_total: str) -> pd.DataFrame:
    """One pandas groupby over all lines: the definition the folding must equal."""
    frame = frame.assign(lines=1, priced_lines=frame["amount"].notna().astype("int64"))
    rules = {
        "amount": "sum" if order_total == "sum" else "first",
        "ordered_at": "min",
        "customer_id": "first",
        "seg:channel": "first",
        "lines": "sum",
        "priced_lines": "sum",
    }
    folded = frame.groupby("order_id", sort=False, observed=True).agg(rules).reset_index()
    folded["amount"] = folded["amount"].where(folded["priced_lines"] > 0)
    return folded


def same(got: pd.DataFrame, want: pd.DataFrame) -> bool:
    got, want = got.reset_index(drop=True), want.reset_index(drop=True)
    if list(got.columns) != list(want.columns) or len(got) != len(want):
        return False
    for column in want.columns:
        for a, b in zip(got[column].tolist(), want[column].tolist(), strict=True):
            if pd.isna(a) and pd.isna(b):
                continue
            if isinstance(a, float) and isinstance(b, float):
                if not math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12):
                    return False
            elif a != b:
                return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(LINE, min_size=1, max_size=40),
    cuts=st.lists(st.integers(0, 40), max_size=4),
    order=st.sampled_from(["sorted", "shuffled", "sorted, but for one earlier id"]),
    at=st.integers(0, 40),
    order_total=st.sampled_from(["sum", "first"]),
)
def test_folding_by_batches_equals_one_groupby(
    lines: list[tuple], cuts: list[int], order: str, at: int, order_total: str
) -> None:
    """Sorted ids take the no-hashing path in the merge; shuffled ones the groupby; sorted
    ones with one earlier id leave the first path for the second part-way (the id is put in
    just after a batch's first line, where an order may continue from the batch before)."""
    if order != "shuffled":
        lines = sorted(lines, key=lambda line: line[0])
    if order == "sorted, but for one earlier id":
        lines.insert(min(cuts[0] + 1 if cuts else at, len(lines)), lines[0])
    frame = lines_frame(lines)
    bounds = sorted({0, len(frame), *(c for c in cuts if c < len(frame))})
    batches = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    folded = merge_orders([reduce_orders(b, order_total) for b in batches], order_total)
    assert same(folded, reference(frame, order_total))


def test_neighbouring_lines_fold_by_hand() -> None:
    """A: 2 lines (10 + blank) and a later line 5 apart; B: only blank amounts -> no amount."""
    frame = lines_frame(
        [
            ("A", 10.0, 2, None, "web"),
            ("A", None, 1, "c1", "app"),
            ("B", None, 3, "c2", "app"),
            ("A", 5.0, 0, "c9", "web"),
        ]
    )
    folded = merge_orders([reduce_orders(frame)])
    a, b = folded.iloc[0], folded.iloc[1]
    assert (a["order_id"], a["amount"], a["lines"], a["customer_id"]) == ("A", 15.0, 3, "c1")
    assert a["ordered_at"] == pd.Timestamp(2025, 1, 1)
    assert a["seg:channel"] == "web"
    assert b["order_id"] == "B" and math.isnan(b["amount"]) and b["lines"] == 1


def test_an_order_that_continues_into_a_batch_whose_ids_then_go_back() -> None:
    """Batches A1 B1 | B2 A2: B continues across the boundary, then A comes back. Worked by
    hand: A = 1 + 2 = 3 (two lines), B = 10 + 20 = 30 (two lines), one row per order. (Found
    by the property test above: the merge kept two rows for A.)"""
    batches = [
        lines_frame([("A", 1.0, 0, "c1", "web"), ("B", 10.0, 1, "c2", "web")]),
        lines_frame([("B", 20.0, 2, "c2", "web"), ("A", 2.0, 3, "c1", "web")]),
    ]
    folded = merge_orders([reduce_orders(b, "sum") for b in batches], "sum")
    totals = dict(zip(folded["order_id"], folded["amount"], strict=True))
    assert totals == {"A": 3.0, "B": 30.0}
    assert folded.set_index("order_id")["lines"].to_dict() == {"A": 2, "B": 2}
