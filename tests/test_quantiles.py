"""Medians and p90 from counted values (`cx_cli.quantiles`): by hand, against pandas on the
expanded values, over any split of the rows, and through the reader in tiny batches."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cx_cli.quantiles
from cx_cli.analysis import run
from cx_cli.config import load_config
from cx_cli.quantiles import COUNT, add_counts, count_values, quantiles

ROOT = Path(__file__).resolve().parent.parent


def frame(
    groups: list[Any], values: list[float | None], months: list[int] | None = None
) -> pd.DataFrame:
    table = pd.DataFrame({"_all": 0, "g": groups, "v": pd.Series(values, dtype="float64")})
    table["m"] = months if months is not None else 1
    return table


def test_median_and_p90_by_hand() -> None:
    # a: 1 2 2 10 (blank left out) -> median (2 + 2) / 2 = 2; p90 at 3 * 0.9 = 2.7 ->
    #    2 + 0.7 * (10 - 2) = 7.6.  b: 5 -> 5 and 5.  c: only a blank -> no group.
    rows = frame(["a", "b", "a", "a", "a", "a", "c"], [2, 5, 1, 10, None, 2, None])
    counts = count_values(rows[["_all", "g"]], rows["v"])
    assert sorted(counts.itertuples(index=False, name=None)) == [
        (0, "a", 1.0, 1),
        (0, "a", 2.0, 2),
        (0, "a", 10.0, 1),
        (0, "b", 5.0, 1),
    ]
    got = quantiles(counts, ["_all", "g"])
    assert got.loc[(0, "a")].tolist() == [2.0, pytest.approx(7.6)]
    assert got.loc[(0, "b")].tolist() == [5.0, 5.0]
    assert (0, "c") not in got.index
    # overall: 1 2 2 5 10 -> median 2; p90 at 4 * 0.9 = 3.6 -> 5 + 0.6 * 5 = 8
    overall = quantiles(counts, ["_all"])
    assert overall.loc[0].tolist() == [2.0, pytest.approx(8.0)]


def test_an_even_count_takes_the_mean_of_the_middle_values() -> None:
    rows = frame(["a"] * 4, [4, 1, 3, 100])
    got = quantiles(count_values(rows[["_all", "g"]], rows["v"]), ["_all", "g"])
    assert got.loc[(0, "a"), "median"] == 3.5  # (3 + 4) / 2


def test_values_near_the_float_maximum_do_not_overflow() -> None:
    """An odd count's median is its middle value, not (x + x) / 2 (inf for x = 1e308), and a
    p90 rank on a value is that value (review 16: a ticket of 1e308 seconds gave null)."""
    rows = frame(["a", "b", "b", "b"], [1e308, 1.0, 2.0, 1.7e308])
    got = quantiles(count_values(rows[["_all", "g"]], rows["v"]), ["_all", "g"])
    assert got.loc[(0, "a")].tolist() == [1e308, 1e308]
    assert got.loc[(0, "b"), "median"] == 2.0


def test_no_values_gives_an_empty_table_with_both_columns() -> None:
    rows = frame(["a", "b"], [None, None])
    got = quantiles(count_values(rows[["_all", "g"]], rows["v"]), ["_all", "g"])
    assert got.empty and list(got.columns) == ["median", "p90"]
    assert quantiles(None, ["_all"]).empty


def test_repeated_values_are_held_once_per_group() -> None:
    """The memory claim: a table row per group and distinct value, however many rows."""
    batches = [frame(["a", "b"] * 500, [i % 7 for i in range(1000)]) for _ in range(5)]
    counts = add_counts([count_values(b[["_all", "g"]], b["v"]) for b in batches])
    assert counts is not None
    assert len(counts) == 14  # 2 groups x 7 values
    assert counts[COUNT].sum() == 5000


values = st.one_of(
    st.none(),
    st.integers(-5, 40).map(float),  # repeats, as with whole seconds
    st.floats(-1e6, 1e6, allow_nan=False),
)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["x", "y", "z", None]), values, st.integers(1, 3)), max_size=60
    ),
    cuts=st.lists(st.integers(0, 60), max_size=4),
)
def test_any_split_of_the_rows_gives_pandas_figures(
    rows: list[tuple[str | None, float | None, int]], cuts: list[int]
) -> None:
    """Count each part at the finest grain (month and segment), add the counts: every coarser
    grouping's median and p90 are those of pandas on all the values."""
    whole = frame([g for g, _, _ in rows], [v for _, v, _ in rows], [m for _, _, m in rows])
    whole["g"] = whole["g"].astype("category")  # segments arrive as categoricals
    bounds = [0, *sorted(min(c, len(rows)) for c in cuts), len(rows)]
    parts = [whole.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    counts = add_counts([count_values(p[["_all", "m", "g"]], p["v"]) for p in parts])
    for keys in (["_all"], ["_all", "g"], ["_all", "m"], ["_all", "m", "g"]):
        got = quantiles(counts, keys)
        grouped = whole.dropna(subset=["v"]).groupby(keys, observed=True, dropna=False)["v"]
        want = pd.DataFrame({"median": grouped.median(), "p90": grouped.quantile(0.9)})
        assert len(got) == len(want)
        for key, expected in want.iterrows():
            found = got.loc[key]
            for column in ("median", "p90"):
                assert math.isclose(found[column], expected[column], rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize(("batch_bytes", "merge_rows"), [(64, 7), (4096, 50), (4096, 1 << 16)])
def test_duration_medians_stream_in_tiny_batches(
    batch_bytes: int, merge_rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AHT, first response and resolution time, by month and channel, on every 6th sample
    ticket: read in batches of a few rows, counted every few rows and merged many times
    (`MERGE_ROWS` made small), the figures (medians and p90 included) equal one read."""
    lines = (ROOT / "sample_data" / "tickets.csv").read_text().splitlines(keepends=True)
    sample = tmp_path / "tickets.csv"
    sample.write_text("".join([lines[0], *lines[1::6]]))
    config = load_config(ROOT / "config.example.yaml")
    kpis = ["aht", "first_response_time", "resolution_time"]
    options: dict[str, Any] = {
        "kpis": kpis,
        "period": "month",
        "by": ["channel"],
        "inputs": {"tickets": str(sample)},
    }
    whole = run(config, **options)
    monkeypatch.setattr(cx_cli.quantiles, "MERGE_ROWS", merge_rows)
    batched = run(config, batch_bytes=batch_bytes, **options)
    assert len(whole.results) > 30
    medians = [r.detail.get("median") for r in whole.results]
    assert sum(m is not None for m in medians) > 30
    for got, want in zip(batched.results, whole.results, strict=True):
        assert (got.kpi, got.period, got.segment, got.n) == (
            want.kpi,
            want.period,
            want.segment,
            want.n,
        )
        for key in ("median", "p90"):
            assert got.detail[key] == pytest.approx(want.detail[key], rel=1e-12)
        assert got.value == pytest.approx(want.value, rel=1e-9)
