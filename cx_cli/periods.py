"""Calendar periods: a timestamp's period start, its label, and the period before it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}
NS_PER_DAY = 86_400 * 10**9


def period_start(when: pd.Series, unit: str) -> pd.Series:
    """The start of each timestamp's day, ISO week (Monday), month, quarter or year (NaT stays
    NaT).

    Every such start is a midnight, so each row's day is found by integer division and only
    the days between the first and the last (a few thousand at most in an export) go through
    Arrow's calendar flooring: a third of the time of flooring every row on big exports. Rows
    spread over more days than there are rows get the distinct days by hashing instead.
    """
    import numpy as np
    import pandas as pd

    stamps = when.to_numpy(dtype="datetime64[ns]")
    missing = np.isnat(stamps)
    days = stamps.view("int64") // NS_PER_DAY
    known = days[~missing] if missing.any() else days
    low, high = (int(known.min()), int(known.max())) if len(known) else (0, 0)
    if high - low < len(days):  # index a table of every day from the first to the last
        table = _floored(np.arange(low, high + 1, dtype="int64") * NS_PER_DAY, unit)
        values = table[np.clip(days - low, 0, high - low)]
    else:
        codes, distinct_days = pd.factorize(days)
        values = _floored(distinct_days * NS_PER_DAY, unit)[codes]
    values[missing] = np.datetime64("NaT")
    return pd.Series(values, index=when.index, name=when.name, copy=False)


def _floored(midnights: np.ndarray, unit: str) -> np.ndarray:
    """Period starts of days given as nanoseconds since the epoch, as datetime64[ns]."""
    import pyarrow as pa
    import pyarrow.compute as pc

    stamps = midnights.view("datetime64[ns]")
    if unit == "day":
        return stamps
    options = {"week_starts_monday": True} if unit == "week" else {}
    starts = pc.floor_temporal(pa.array(stamps), unit=unit, **options)
    return starts.to_numpy(zero_copy_only=False).astype("datetime64[ns]")


def period_label(start: pd.Timestamp, unit: str) -> str:
    """2024-03-04, 2024-W09, 2024-03, 2024-Q1 or 2024."""
    if unit == "day":
        return start.strftime("%Y-%m-%d")
    if unit == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return start.strftime("%Y-%m")
    if unit == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def previous_start(start: pd.Timestamp, unit: str) -> pd.Timestamp:
    """The start of the calendar period just before the one starting at `start`."""
    return _shifted(start, unit, -1)


def next_start(start: pd.Timestamp, unit: str) -> pd.Timestamp:
    """The start of the calendar period just after the one starting at `start`."""
    return _shifted(start, unit, 1)


def _shifted(start: pd.Timestamp, unit: str, periods: int) -> pd.Timestamp:
    """The period start `periods` periods after `start` (a period start, so months begin on the
    1st: month arithmetic is exact, and far cheaper than a pandas DateOffset per result)."""
    import pandas as pd

    if unit in ("day", "week"):
        return start + pd.Timedelta(days=periods * (7 if unit == "week" else 1))
    month = start.year * 12 + start.month - 1 + periods * MONTHS_PER[unit]
    return start.replace(year=month // 12, month=month % 12 + 1, day=1)


def period_starts(first: pd.Timestamp, last: pd.Timestamp, unit: str) -> list[pd.Timestamp]:
    """Starts of every calendar period from the one holding `first` to the one holding `last`."""
    import pandas as pd

    start = period_start(pd.Series([first]), unit).iloc[0]
    starts = []
    while start <= last:
        starts.append(start)
        start = next_start(start, unit)
    return starts
