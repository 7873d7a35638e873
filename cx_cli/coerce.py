"""Text cells to typed values: numbers, timestamps, ids and segment labels.

Each reader takes an Arrow column and returns a pandas Series. The common case, a column whose
cells are all plain numbers or ISO timestamps, is parsed by one vectorised Arrow cast; only the
cells that cast cannot read (currency, "N/A", "10 - Extremely likely", UTC offsets, Excel serial
days, ...) go through the slower pandas rules below, so the answers are those of the pandas rules
for every cell, at the speed of the cast for clean exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

BLANK_TOKENS = frozenset({"", "na", "n/a", "null", "none", "nan", "-"})
LEADING_NUMBER = r"^(\d{1,2})\s*(?:[-–—:=(]|$)"
MONEY_NOISE = r"[^\d.,()+\-]"  # currency symbols and codes, spaces
CLOCK = r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$"  # [HH:]MM:SS
PLAIN_NUMBER = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
# How a thousands separator groups digits: 1,234,567 or 12,34,567 (lakh), the last group of
# three, then the decimals. "12,50" is no grouping: a decimal comma, read with decimal: ".".
GROUPED = r"^[+-]?\d{{1,3}}(?:{sep}\d{{2,3}})*{sep}\d{{3}}(?:{decimal}\d*)?(?:[eE][+-]?\d+)?$"
# A value that reads as a number only with the other decimal separator (and its thousands).
OTHER_DECIMAL = {
    ".": r"^[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+$",
    ",": r"^[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)\.\d+$",
}
# A UTC offset ends a date-time: after a time of day, h:mm[:ss[.f]] or ISO 8601's basic Thh[mm[ss]]
# (so a date such as 03-04-2025 never reads as one), as Z, +hh:mm, +hhmm or +hh (PostgreSQL
# writes timestamptz as "2025-03-04 10:15:00+01"). A date_format with %z or %Z says it itself.
OFFSET_PATTERN = (
    r"(?:\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{2}(?:\d{2}){0,2}(?:[.,]\d+)?)"
    r"\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
)
EXCEL_EPOCH = "1899-12-30"
EXCEL_DAYS = (20000, 80000)  # serial day numbers of 1954 .. 2119: plausible export dates
BLANK_LABEL = "(blank)"


def as_array(column: Any) -> pa.Array:
    """One contiguous Arrow array from an array or a chunked array (Parquet gives chunks)."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def as_text(column: pa.Array) -> pa.Array:
    """The column as strings (Parquet may store numbers, dates or dictionaries)."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def _nulls(column: pa.Array) -> np.ndarray:
    return column.is_null().to_numpy(zero_copy_only=False)


# -- numbers -----------------------------------------------------------------------------------


def read_numbers(
    column: pa.Array,
    kind: str,
    decimal: str = ".",
    thousands: str | None = None,
    mapping: dict[str, float] | None = None,
    leading: bool = False,
) -> tuple[pd.Series, np.ndarray]:
    """Numbers from a column, and which cells were blank (NaN where not a number).

    `kind` is the field type (number, money, duration, count, score); `mapping` is the source's
    `values:` map for the field, which wins over the text; `leading` reads "10 - Extremely
    likely" as 10 (NPS answers exported with their labels).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)  # null -> NaN
        blank = np.isnan(values)  # a null cell, or NaN (Parquet): blank either way
        infinite = np.isinf(values)
        if infinite.any():  # a number, but not one a KPI can use
            values = np.where(infinite, np.nan, values)
        return pd.Series(values, copy=False), blank  # pandas 3 would copy it
    column = as_text(column)
    blank = _nulls(column)
    values = np.full(len(column), np.nan)
    pending = ~blank
    if not mapping and decimal == "." and thousands != ".":
        plain, parsed = _plain_numbers(column, pending)
        values[plain] = parsed[plain]
        pending &= ~plain
    if pending.any():
        text = column.filter(pa.array(pending)).to_pandas()
        slow, slow_blank = numbers_from_text(text, kind, decimal, thousands, mapping, leading)
        values[pending] = slow.to_numpy()
        blank[pending] = slow_blank.to_numpy()
    return pd.Series(values, copy=False), blank


def _plain_numbers(column: pa.Array, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which cells are plain finite numbers ("12", " -3.5 ", "1e3"), and their values.

    One cast reads a clean column whole; otherwise a regular expression picks the plain cells
    and only those are cast, leaving the rest to `numbers_from_text`.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        if np.isfinite(values[candidates]).all():
            return candidates.copy(), values
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    plain = pc.fill_null(pc.match_substring_regex(column, PLAIN_NUMBER), False)
    picked = pc.utf8_trim_whitespace(pc.if_else(plain, column, pa.scalar(None, pa.string())))
    values = pc.cast(picked, pa.float64()).to_numpy(zero_copy_only=False)
    return plain.to_numpy(zero_copy_only=False) & np.isfinite(values), values


def numbers_from_text(
    text: pd.Series,
    kind: str,
    decimal: str = ".",
    thousands: str | None = None,
    mapping: dict[str, float] | None = None,
    leading: bool = False,
) -> tuple[pd.Series, pd.Series]:
    """The pandas rules for cells the Arrow cast cannot read: numbers (NaN if none) and blanks."""
    import pandas as pd

    stripped = text.str.strip()
    blank = stripped.isna() | stripped.str.lower().isin(BLANK_TOKENS)
    if kind == "count":
        stripped = truth_as_count(stripped)
    numeric = to_numbers(stripped, decimal, thousands, kind)
    if leading:
        first = stripped.str.extract(LEADING_NUMBER, expand=False)
        numeric = numeric.fillna(pd.to_numeric(first, errors="coerce"))
    if mapping:
        answers = {answer_key(text): value for text, value in mapping.items()}
        keys = stripped.str.split().str.join(" ").str.casefold()
        numeric = keys.map(answers).astype("float64").fillna(numeric)
    return numeric.astype("float64").where(~blank), blank


def answer_key(text: str) -> str:
    """How a text answer is matched against `values:`: case and runs of spaces do not count
    ("very  satisfied" is "Very satisfied"), since exports differ in both."""
    return " ".join(text.split()).casefold()


def to_numbers(
    text: pd.Series, decimal: str = ".", thousands: str | None = None, kind: str = "number"
) -> pd.Series:
    """Numbers from text with the source's separators; money sheds currency symbols and codes
    ("$1,234.50", "1.234,50 EUR", "(12.00)" = -12); durations accept [HH:]MM:SS as seconds."""
    import pandas as pd

    cleaned = text
    thousands_given = thousands is not None
    if kind == "money":
        cleaned = cleaned.str.replace(MONEY_NOISE, "", regex=True)
        negative = cleaned.str.startswith("(") & cleaned.str.endswith(")")
        cleaned = cleaned.str.strip("()").where(~negative, "-" + cleaned.str.strip("()"))
        thousands = thousands or ("," if decimal == "." else ".")
    if thousands:
        cleaned = _ungrouped(cleaned, thousands, decimal)
    if decimal != ".":
        cleaned = cleaned.str.replace(decimal, ".", regex=False)
    numbers = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    if kind == "money" and decimal == "." and not thousands_given:  # 1.5E+03 keeps its exponent
        numbers = pd.to_numeric(text, errors="coerce").astype("float64").fillna(numbers)
    numbers = numbers.where(numbers.abs() != float("inf"))  # 1e309, inf: not a number
    if kind == "duration":
        parts = text.str.extract(CLOCK)
        clock = (
            pd.to_numeric(parts[0], errors="coerce").fillna(0) * 3600
            + pd.to_numeric(parts[1], errors="coerce") * 60
            + pd.to_numeric(parts[2], errors="coerce")
        )
        numbers = numbers.fillna(clock)
    return numbers


def _ungrouped(text: pd.Series, thousands: str, decimal: str) -> pd.Series:
    """The text without thousands separators; a cell whose separators do not group digits
    ("12,50", "1.234,56" with decimal ".") is no number (NaN), never 1250 or 1.23456."""
    import re

    grouped = GROUPED.format(sep=re.escape(thousands), decimal=re.escape(decimal))
    separated = text.str.contains(thousands, regex=False, na=False)
    misgrouped = separated & ~text.str.fullmatch(grouped).fillna(False).astype(bool)
    return text.str.replace(thousands, "", regex=False).where(~misgrouped)


def other_decimal(text: pd.Series, decimal: str) -> pd.Series:
    """Which cells read as a number only with the other decimal separator ("12,50" or
    "1.234,50 EUR" when the source says decimal "."), currency and parentheses shed."""
    bare = text.str.replace(MONEY_NOISE, "", regex=True).str.strip("()")
    return bare.str.fullmatch(OTHER_DECIMAL[decimal]).fillna(False).astype(bool)


TRUTH = {
    "true": True,
    "yes": True,
    "y": True,
    "t": True,
    "1": True,
    "false": False,
    "no": False,
    "n": False,
    "f": False,
    "0": False,
}


def truth_as_count(text: pd.Series) -> pd.Series:
    """true/yes -> "1", false/no -> "0"; other text (numbers) unchanged."""
    words = text.str.strip().str.lower()
    truth = words.map({k: "1" if v else "0" for k, v in TRUTH.items() if not k.isdigit()})
    return truth.fillna(text)


def read_booleans(column: pa.Array) -> pd.Series:
    """true/yes/1 and false/no/0 as booleans; anything else NaN."""
    if not _is_text(column):
        column = as_text(column)
    return column.to_pandas().str.strip().str.lower().map(TRUTH)


def _is_text(column: pa.Array) -> bool:
    import pyarrow as pa

    return pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


# -- timestamps --------------------------------------------------------------------------------


@dataclass
class Timestamps:
    """A column read as local date-times (datetime64[ns], NaT where not a date), which cells
    were blank, and per row the shift (ns) that moved a value with a UTC offset onto
    `timezone`'s clock (`NO_SHIFT` for a value without an offset; None when no value moved):
    two date-times of one row moved by different shifts lie on both sides of a
    daylight-saving change (see `local_clock`)."""

    when: pd.Series
    blank: np.ndarray
    shift: np.ndarray | None = None


NO_SHIFT = -(1 << 63)


def read_timestamps(column: pa.Array, date_format: str | None, timezone: str | None) -> Timestamps:
    """A column's date-times on the local clock (`parse_timestamps`)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        values = pd.Series(column.to_pandas())
        if isinstance(values.dtype, pd.DatetimeTZDtype):  # aware Parquet timestamps
            when, shift = local_clock(values, timezone)
            return Timestamps(_nanoseconds(when), _nulls(column), shift)
        return Timestamps(_nanoseconds(pd.to_datetime(values)), _nulls(column))
    column = as_text(column)
    if date_format is None:
        try:
            cast = column.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False)
            return Timestamps(pd.Series(cast, dtype="datetime64[ns]"), _nulls(column))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    stripped = column.to_pandas().str.strip()
    blank = (stripped.isna() | (stripped == "")).to_numpy()
    when, shift = parse_timestamps(stripped.where(~blank), date_format, timezone)
    return Timestamps(when, np.asarray(blank), shift)


def local_clock(aware: pd.Series, timezone: str | None) -> tuple[pd.Series, np.ndarray | None]:
    """Aware date-times as naive ones on `timezone`'s clock (UTC when unset), and the shift
    (ns) that moved each there (`NO_SHIFT` where not a date; None without a `timezone`: UTC's
    clock never jumps).

    Periods, days and --since/--until are local, so this is the clock every date-time is kept
    on. Across a daylight-saving change the clock jumps; the shifts, kept beside the
    date-times durations are measured between (`fields.ELAPSED`), take the jump out of them.
    """
    local = aware.dt.tz_convert(timezone or "UTC").dt.tz_localize(None)
    if not timezone:
        return local, None
    shift = local - aware.dt.tz_convert("UTC").dt.tz_localize(None)
    ticks = shift.astype("timedelta64[ns]").to_numpy().view("int64").copy()
    ticks[shift.isna().to_numpy()] = NO_SHIFT
    return local, ticks


def _nanoseconds(when: pd.Series) -> pd.Series:
    """Naive date-times as datetime64[ns]; one outside its range (years 1677-2262, e.g. a typo
    like 0202-01-05) is not a date, as pandas parses it at a coarser unit that holds it."""
    import pandas as pd

    if when.dtype == "datetime64[ns]":
        return when
    inside = when.between(pd.Timestamp.min, pd.Timestamp.max) | when.isna()
    return when.where(inside).astype("datetime64[ns]")


def parse_timestamps(
    text: pd.Series, date_format: str | None, timezone: str | None
) -> tuple[pd.Series, np.ndarray | None]:
    """Parse date-times: ISO 8601 or `date_format` (or "excel" serial days), offsets to local.

    Values with a UTC offset are converted to `timezone` (UTC when unset) and made naive, so a
    file mixing offsets lands on one clock (`local_clock`, whose shifts are returned too); values
    without one are taken as given. Unparseable values become NaT. A format Python cannot use
    is a ConfigError.
    """
    import numpy as np
    import pandas as pd

    from cx_cli.errors import ConfigError

    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if date_format and date_format.lower() == "excel":
        return _excel_days(text, out), None
    fmt = date_format or "ISO8601"
    aware = text.str.contains(OFFSET_PATTERN, regex=True, na=False)
    if date_format and ("%z" in date_format or "%Z" in date_format):
        aware[:] = True  # every value has an offset, whatever its form, and they may differ
    shift: np.ndarray | None = None
    try:
        if (~aware).any():
            naive = pd.to_datetime(text[~aware], format=fmt, errors="coerce")
            if isinstance(naive.dtype, pd.DatetimeTZDtype):  # offsets the pattern missed
                aware[:] = True
            else:
                out[~aware] = _nanoseconds(naive)
        if aware.any():
            utc = pd.to_datetime(text[aware], format=fmt, errors="coerce", utc=True)
            local, moved = local_clock(utc, timezone)
            out[aware] = _nanoseconds(local)
            if moved is not None:
                shift = np.full(len(text), NO_SHIFT, dtype="int64")
                shift[aware.to_numpy()] = moved
    except ValueError as exc:
        said = f"date_format {fmt!r} cannot be used" if date_format else "ISO 8601 dates failed"
        raise ConfigError(
            f"{said}: {exc}",
            hint='set date_format to strftime codes, e.g. "%d/%m/%Y %H:%M", or "excel"',
        ) from None
    if date_format is None and out.isna().any():  # Excel serial day numbers among ISO dates
        out = out.where(out.notna(), _excel_days(text.where(out.isna()), out.copy()))
    return out, shift


def _excel_days(text: pd.Series, out: pd.Series) -> pd.Series:
    import pandas as pd

    days = pd.to_numeric(text, errors="coerce")
    plausible = days.between(*EXCEL_DAYS)
    if plausible.any():
        stamps = pd.Timestamp(EXCEL_EPOCH) + pd.to_timedelta(days[plausible], unit="D")
        out[plausible] = stamps.dt.round("s")
    return out


# -- ids and labels ----------------------------------------------------------------------------


def read_ids(column: pa.Array) -> pd.Series:
    """Ids as text, trimmed; a blank or all-space cell is no id (" 42" and "42" are one id)."""
    return clean_ids(column).to_pandas()


def clean_ids(column: pa.Array) -> pa.Array:
    """`read_ids` in Arrow (the reader's parse thread runs it on columns that are only ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(as_text(column))
    shortest = pc.min(pc.binary_length(trimmed)).as_py()
    if shortest is None or shortest > 0:  # no blank ids: skip the blanking pass (most exports)
        return trimmed
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def read_labels(column: pa.Array) -> pd.Series:
    """Segment labels, trimmed, blanks as "(blank)", as a categorical (cheap to group by).

    The column is dictionary-encoded first, so trimming touches each distinct label once.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    labels = [
        (text or "").strip() or BLANK_LABEL for text in as_text(encoded.dictionary).to_pylist()
    ]
    label_codes, uniques = pd.factorize(pd.Index([*labels, BLANK_LABEL], dtype=object))
    indices = encoded.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)
    codes = label_codes[indices] if len(indices) else np.zeros(0, dtype="int64")
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniques)))


def read_text(column: pa.Array) -> pd.Series:
    """Free text as it is (blank cells are missing)."""
    return as_text(column).to_pandas()
