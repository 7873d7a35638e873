"""Period starts against the calendar worked out with Python's datetime, one value at a time."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cx_cli.periods import next_start, period_start, previous_start


def by_hand(when: dt.datetime, unit: str) -> dt.datetime:
    day = when.date()
    if unit == "week":
        day -= dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    elif unit == "month":
        day = day.replace(day=1)
    elif unit == "quarter":
        day = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    elif unit == "year":
        day = day.replace(month=1, day=1)
    return dt.datetime.combine(day, dt.time())


moments = st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2261, 12, 31))
# Fewer days than rows: the days are looked up in a table from the first to the last.
close_moments = st.datetimes(min_value=dt.datetime(2024, 2, 20), max_value=dt.datetime(2024, 3, 5))


@given(
    values=st.lists(st.none() | moments, min_size=1, max_size=30)
    | st.lists(st.none() | close_moments, min_size=20, max_size=40),
    unit=st.sampled_from(["day", "week", "month", "quarter", "year"]),
)
@settings(max_examples=100, deadline=None)
def test_period_start_is_the_calendar_start_and_keeps_missing_values(
    values: list[dt.datetime | None], unit: str
) -> None:
    when = pd.Series(pd.to_datetime(values), index=range(10, 10 + len(values)), name="at")
    starts = period_start(when, unit)
    assert list(starts.index) == list(when.index) and starts.name == "at"
    for value, start in zip(values, starts, strict=True):
        if value is None:
            assert pd.isna(start)
        else:
            assert start == by_hand(value, unit)


# Days after a period's start that land inside the next period (months are 28-31 days,
# quarters 90-92, years 365-366).
INTO_NEXT = {"day": 1, "week": 7, "month": 32, "quarter": 93, "year": 367}


@given(
    when=st.datetimes(min_value=dt.datetime(1700, 1, 2), max_value=dt.datetime(2260, 12, 1)),
    unit=st.sampled_from(["day", "week", "month", "quarter", "year"]),
)
@settings(max_examples=200, deadline=None)
def test_previous_and_next_start_are_the_neighbouring_calendar_periods(
    when: dt.datetime, unit: str
) -> None:
    start = by_hand(when, unit)
    assert previous_start(pd.Timestamp(start), unit) == by_hand(start - dt.timedelta(days=1), unit)
    after = start + dt.timedelta(days=INTO_NEXT[unit])
    assert next_start(pd.Timestamp(start), unit) == by_hand(after, unit)
