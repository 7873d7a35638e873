"""Group numbers and distinct members per group, against pandas' groupby on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cx_cli import groups as groups_module
from cx_cli.groups import distinct_per_group, group_numbers

rows = st.lists(
    st.tuples(
        st.sampled_from(["email", "chat", "(blank)"]),
        # period starts are midnights (codes by offset in days, `groups._offsets`); other
        # times and dates before 1970 check the fallback and the arithmetic
        st.sampled_from(
            ["2024-01-01", "2024-02-01", "2024-03-01", "1969-12-01", "2024-01-01 10:30"]
        ),
        st.integers(-1, 6),  # customer code, -1: no customer
    ),
    min_size=1,
    max_size=60,
)


def frame(data: list[tuple[str, str, int]]) -> pd.DataFrame:
    channel, period, who = zip(*data, strict=True)
    return pd.DataFrame(
        {
            "_all": 0,
            "channel": pd.Categorical(channel),
            "period": pd.to_datetime(list(period), format="ISO8601").astype("datetime64[ns]"),
            "who": list(who),
            "small": list(who),  # int64 over a small range: codes by offset
            "wide": [w * 10**12 for w in who],  # a range wider than the rows: factorized
        }
    )


def expected(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The same figures the slow way: pandas groupby, nunique and value counts."""
    named = table[table["who"] >= 0]
    per_member = named.groupby([*keys, "who"], observed=True).size()
    out = pd.DataFrame(
        {
            "rows": table.groupby(keys, observed=True).size(),
            "distinct": named.groupby(keys, observed=True)["who"].nunique(),
            "repeated": (per_member >= 2).groupby(level=keys, observed=True).sum(),
        }
    )
    out = out.fillna(0).astype("float64").reset_index()
    out["channel"] = out["channel"].astype(object)
    return out.sort_values(keys, ignore_index=True)


def found(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = group_numbers(table[keys])
    distinct, repeated = distinct_per_group(grouped, table["who"].to_numpy("int64"))
    out = grouped.table(table[keys], rows=grouped.count(), distinct=distinct, repeated=repeated)
    out["channel"] = out["channel"].astype(object)
    return out.sort_values(keys, ignore_index=True)


@pytest.mark.parametrize("dense_limit", [groups_module.MAX_DENSE_GROUPS, 1])
@pytest.mark.parametrize("pair_cells", [(groups_module.DENSE_PAIRS, 1), (0, 0)])
@given(
    data=rows,
    keys=st.sampled_from(
        [["_all"], ["_all", "period"], ["channel", "period"], ["small", "period"], ["wide"]]
    ),
)
@settings(max_examples=80, deadline=None)
def test_groups_and_distinct_members_equal_pandas_groupby(
    dense_limit: int,
    pair_cells: tuple[int, int],
    data: list[tuple[str, str, int]],
    keys: list[str],
) -> None:
    """Both ways of numbering groups, and both of counting members (table, sorting)."""
    table = frame(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(groups_module, "MAX_DENSE_GROUPS", dense_limit)
        patch.setattr(groups_module, "DENSE_PAIRS", pair_cells[0])
        patch.setattr(groups_module, "PAIR_CELLS_PER_ROW", pair_cells[1])
        result = found(table, [*keys, "channel"] if "channel" not in keys else keys)
    want = expected(table, [*keys, "channel"] if "channel" not in keys else keys)
    pd.testing.assert_frame_equal(result, want, check_dtype=False)


def test_more_key_combinations_than_an_integer_holds_are_numbered_by_hashing() -> None:
    rng = np.random.default_rng(7)
    table = pd.DataFrame({f"k{i}": rng.integers(0, 20, 40) for i in range(16)})  # 20**16 > 2**62
    table.iloc[1] = table.iloc[0]  # one group of two rows
    grouped = group_numbers(table)
    pandas_groups = table.groupby(list(table.columns), sort=False).ngroup().to_numpy()
    assert len(grouped) == pandas_groups.max() + 1
    assert grouped.numbers[0] == grouped.numbers[1]
    # rows share a number exactly when pandas puts them in one group
    same = grouped.numbers[:, None] == grouped.numbers[None, :]
    assert (same == (pandas_groups[:, None] == pandas_groups[None, :])).all()
    first = grouped.index.to_frame(index=False).iloc[grouped.numbers].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, table, check_dtype=False)


@pytest.mark.parametrize("keys", [["b"], ["a", "b"]])
def test_a_missing_category_is_a_group_of_its_own(keys: list[str]) -> None:
    """Rows p/x, q/missing, p/y (category z unused). By hand: one row in each of (p, x),
    (q, missing) and (p, y) with both keys; with b alone x 1, missing 1, y 1. Found by a
    review: code -1 was taken for a category's number (a crash alone, a wrong group beside
    another key)."""
    table = pd.DataFrame(
        {"a": ["p", "q", "p"], "b": pd.Categorical(["x", None, "y"], categories=["x", "y", "z"])}
    )
    grouped = group_numbers(table[keys])
    keys_of = map(tuple, grouped.index.to_frame().itertuples(index=False))
    counts = dict(zip(keys_of, grouped.count(), strict=True))
    cleaned = {tuple("-" if pd.isna(v) else v for v in k): n for k, n in counts.items()}
    want = {("x",): 1.0, ("-",): 1.0, ("y",): 1.0}
    if keys == ["a", "b"]:
        want = {("p", "x"): 1.0, ("q", "-"): 1.0, ("p", "y"): 1.0}
    assert cleaned == want
