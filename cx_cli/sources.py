"""Read a source: only its mapped columns, in batches, coerced to logical fields, drops counted.

The reader never loads a whole file: it streams record batches from pyarrow's CSV reader and
yields clean pandas frames of logical fields (and `seg:<name>` segment columns), so memory
follows the batch size. Every row it drops is counted by reason in `SourceQuality`.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import difflib
import hashlib
import io
import itertools
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from cx_cli.errors import ConfigError, InputError
from cx_cli.fields import DERIVED, SOURCE_KINDS, Field, time_field

if TYPE_CHECKING:
    import pandas as pd

    from cx_cli.config import FilterSpec, SourceSpec

BLANK_TOKENS = frozenset({"", "na", "n/a", "null", "none", "nan", "-"})
PRESET_HEADER_ROWS = {"qualtrics": 3, "surveymonkey": 2}
HEAD_BYTES = 1 << 20
DEFAULT_BATCH_BYTES = 8 << 20
SEGMENT_PREFIX = "seg:"
IN_WINDOW = "_in_window"


@dataclass
class SourceQuality:
    """Row accounting for one source: rows read, used, dropped by reason, and per-field counts."""

    source: str
    path: str
    rows_read: int = 0
    rows_dropped: Counter[str] = field(default_factory=Counter)
    rows_history_only: int = 0
    fields: dict[str, Counter[str]] = field(default_factory=dict)
    sha256: str | None = None
    size_bytes: int | None = None
    encoding: str = "utf-8"
    encoding_detected: bool = False
    delimiter: str = ","
    header_rows: int = 1
    columns: tuple[str, ...] = ()

    @property
    def rows_used(self) -> int:
        return self.rows_read - sum(self.rows_dropped.values())

    def count_field(self, name: str, reason: str, count: int) -> None:
        if count:
            self.fields.setdefault(name, Counter())[reason] += count


@dataclass(frozen=True)
class Window:
    """Inclusive date bounds on a source's time field (--since / --until)."""

    since: dt.date | None = None
    until: dt.date | None = None

    def __bool__(self) -> bool:
        return self.since is not None or self.until is not None


class _HashingStream(io.RawIOBase):
    """A readable stream that serves already-peeked bytes, then the rest, hashing everything."""

    def __init__(self, head: bytes, rest: IO[bytes], digest: Any) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self._digest = digest
        self.size = len(head)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        self._digest.update(data)
        self.size += len(data)
        buffer[: len(data)] = data
        return len(data)


def _open_bytes(path: str, source: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    where = f"source '{source}'"
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(
            f"{path}: file not found ({where})",
            hint="check the path; a relative path is relative to the config file, "
            f"or pass --input {source}=PATH",
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file ({where})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}) ({where})") from None


def detect_encoding(head: bytes) -> str:
    """UTF-16 by its byte-order mark, else UTF-8 when the bytes decode, else cp1252 (latin-1)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header into the most fields, consistently in the rows
    (quotes respected); comma when none splits the header."""

    def score(delimiter: str) -> tuple[bool, bool, int]:
        try:
            rows = list(itertools.islice(csv.reader(io.StringIO(text), delimiter=delimiter), 50))
        except csv.Error:  # e.g. a field over the csv module's size limit: judge the header
            rows = list(csv.reader(io.StringIO(text.split("\n", 1)[0]), delimiter=delimiter))
        width = len(rows[0]) if rows else 0
        body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
        steady = sum(len(r) == width for r in body) >= 0.9 * len(body)
        return width > 1, steady, width

    best = max(DELIMITERS, key=score)
    return best if score(best)[0] else ","


@dataclass
class SourceReader:
    """Streams one source as clean frames of logical fields; fills `quality` as it goes."""

    name: str
    spec: SourceSpec
    path: str
    fields: tuple[str, ...]
    segments: tuple[str, ...] = ()
    window: Window = dataclasses.field(default_factory=Window)
    batch_bytes: int = DEFAULT_BATCH_BYTES
    keep_history: bool = False
    quality: SourceQuality = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.quality = SourceQuality(self.name, self.path)
        self.time_field = time_field(self.spec.kind, self.spec.columns)
        wanted = {*self.fields, *(f.field for f in self.spec.filters if f.field)}
        if self.time_field:
            wanted.add(self.time_field)
        if self.spec.dedupe:
            wanted.add(self.spec.dedupe)
        if self.spec.kind == "orders" and "order_id" in self.spec.columns:
            wanted.add("order_id")  # line items are always folded into orders
        self.derived = {
            name: inputs
            for name, inputs in DERIVED.get(self.spec.kind, {}).items()
            if name in wanted and name not in self.spec.columns
        }
        wanted.update(name for inputs in self.derived.values() for name in inputs)
        self.wanted = tuple(f for f in self.spec.columns if f in wanted)
        self._seen_ids: set[str] = set()
        self._bad_example: dict[str, str] = {}
        self._first_bad_row: tuple[int, int, str] | None = None
        self._skipped_rows = 0
        self._all_counts: dict[str, Counter[str]] = {}
        self._pending: list[tuple[str, str, pd.Series]] = []

    # -- opening -----------------------------------------------------------------------------

    def _header_rows(self) -> int:
        return PRESET_HEADER_ROWS.get(self.spec.preset or "", self.spec.header_rows)

    def _open(self) -> tuple[_HashingStream, list[str]]:
        raw = _open_bytes(self.path, self.name)
        digest = hashlib.sha256()
        head = raw.read(HEAD_BYTES)
        digest.update(head)
        if not head.strip():
            raw.close()
            raise InputError(
                f"{self.path}: the file is empty (source '{self.name}')",
                hint="export the data again; a CSV needs a header row and data rows",
            )
        encoding = self.spec.encoding or detect_encoding(head)
        self.quality.encoding = encoding
        self.quality.encoding_detected = self.spec.encoding is None
        size = len(head)
        if head.startswith(codecs.BOM_UTF8) and codecs.lookup(encoding).name == "utf-8":
            head = head[len(codecs.BOM_UTF8) :]
        if b"\x00" in head and not codecs.lookup(encoding).name.startswith("utf-16"):
            raw.close()
            raise InputError(
                f"{self.path}: the file contains NUL bytes: not a text CSV (source '{self.name}')",
                hint="export it again as CSV; if it is UTF-16 text, set encoding: utf-16",
            )
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and codecs.lookup(
            encoding
        ).name.startswith("utf-16"):
            encoding = self.quality.encoding = "utf-16"  # the BOM says which byte order
        text = head.decode(encoding, errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        delimiter = self.spec.delimiter or sniff_delimiter(text)
        self.quality.delimiter = delimiter
        self.quality.header_rows = self._header_rows()
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        self.quality.columns = tuple(header)
        self._raw = raw
        stream = _HashingStream(head, raw, digest)
        stream.size = size
        return stream, header

    def _check_header(self, header: list[str]) -> None:
        needed = {self.spec.columns[f] for f in self.wanted}
        needed |= {self.spec.segments[s] for s in self.segments}
        needed |= {f.column for f in self.spec.filters if f.column}
        for column in sorted(needed):
            if column not in header:
                close = (
                    difflib.get_close_matches(column, header, n=1)
                    or [
                        h
                        for h in header
                        if h and (h.lower() in column.lower() or column.lower() in h.lower())
                    ][:1]
                )
                suggestion = f"did you mean {close[0]!r}? " if close else ""
                raise InputError(
                    f"{self.path}: column {column!r} is not in the file (source '{self.name}')",
                    hint=f"{suggestion}columns in the file (read with delimiter "
                    f"{self.quality.delimiter!r}; set delimiter: if that is wrong): "
                    f"{', '.join(header)}",
                )
            if header.count(column) > 1:
                raise InputError(
                    f"{self.path}: column {column!r} appears "
                    f"{header.count(column)} times in the header",
                    hint="rename the duplicate columns in the export",
                )

    # -- reading -----------------------------------------------------------------------------

    def batches(self) -> Iterator[pd.DataFrame]:
        """Clean frames of logical fields, one per block of the file."""
        import pyarrow as pa
        from pyarrow import csv as pacsv

        stream, header = self._open()
        try:
            self._check_header(header)
        except InputError:
            self._close()
            raise
        raw_columns = sorted(
            {self.spec.columns[f] for f in self.wanted}
            | {self.spec.segments[s] for s in self.segments}
            | {f.column for f in self.spec.filters if f.column}
        )
        read = pacsv.ReadOptions(
            block_size=self.batch_bytes,
            skip_rows_after_names=self._header_rows() - 1,
            encoding=self.quality.encoding,
        )
        parse = pacsv.ParseOptions(
            delimiter=self.quality.delimiter,
            newlines_in_values=True,
            invalid_row_handler=self._bad_row,
        )
        convert = pacsv.ConvertOptions(
            include_columns=raw_columns,
            column_types={c: pa.string() for c in raw_columns},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        )
        try:
            reader = pacsv.open_csv(
                stream, read_options=read, parse_options=parse, convert_options=convert
            )
            for batch in reader:
                if batch.num_rows:
                    yield self._clean(batch.to_pandas())
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{self.path}: byte {exc.object[exc.start : exc.start + 1]!r} is not valid "
                f"{self.quality.encoding} (source '{self.name}')",
                hint=f"set encoding under sources.{self.name} to the export's encoding "
                "(e.g. utf-8, cp1252, latin-1, utf-16)",
            ) from None
        except pa.ArrowInvalid as exc:
            if self._first_bad_row is not None:
                raise self._ragged_error() from None
            message = str(exc).replace("\x00", "").splitlines()[0]
            hint = (
                "a field is larger than the reader's block: check for an unclosed quote"
                if "straddling" in message
                else f"the file is not valid {self.quality.encoding} throughout: set encoding "
                f"under sources.{self.name} (e.g. cp1252 or utf-16)"
                if "UTF8" in message or "decode" in message.lower()
                else "check the delimiter, quoting and that every row has as many fields as "
                "the header"
            )
            raise InputError(
                f"{self.path}: cannot parse the CSV (source '{self.name}'): {message}",
                hint=hint,
            ) from None
        finally:
            self._close()
        if self._skipped_rows and self.quality.rows_read == 0:
            raise InputError(
                f"{self.path}: all {self._skipped_rows} data rows have a different number of "
                f"fields than the header (source '{self.name}')",
                hint="check the delimiter (delimiter: under the source) and the header rows",
            )
        if self._skipped_rows:
            self.quality.rows_read += self._skipped_rows
            self.quality.rows_dropped["wrong number of fields"] += self._skipped_rows
        self.quality.sha256 = stream._digest.hexdigest()
        self.quality.size_bytes = stream.size
        if self.quality.rows_read == 0:
            raise InputError(
                f"{self.path}: the file has a header but no data rows (source '{self.name}')",
                hint="check that the export is not empty for the chosen dates",
            )
        self._check_scales()
        self._check_dates()

    def _note(self, name: str, reason: str, mask: pd.Series) -> None:
        """Count a field's values by reason: over all rows read (for the sanity checks), and
        later over the rows kept (what the report shows, so counts add up to the rows used)."""
        self._all_counts.setdefault(name, Counter())[reason] += int(mask.sum())
        self._pending.append((name, reason, mask))

    def _flush_notes(self, keep: pd.Series) -> None:
        for name, reason, mask in self._pending:
            self.quality.count_field(name, reason, int((mask & keep).sum()))
        self._pending = []

    def _close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()

    def _bad_row(self, row: Any) -> str:
        """pyarrow's callback for a row with too many or too few fields: skip it or stop."""
        if self.spec.bad_rows == "skip":
            self._skipped_rows += 1
            return "skip"
        self._first_bad_row = (row.actual_columns, row.expected_columns, row.text)
        return "error"

    def _ragged_error(self) -> InputError:
        actual, expected, text = self._first_bad_row  # type: ignore[misc]
        shown = text if len(text) <= 120 else text[:117] + "..."
        line = self._line_of(text)
        where = f"line {line}" if line else "a row"
        return InputError(
            f"{self.path}: {where} has {actual} fields where the header has {expected} "
            f"(source '{self.name}'): {shown!r}",
            hint=f"fix the export (an unquoted {self.quality.delimiter!r} inside a value?), "
            f"or set bad_rows: skip under sources.{self.name} to skip and count such rows",
        )

    def _line_of(self, text: str) -> int | None:
        """The 1-based line of the file holding `text` (only on this error path; not stdin)."""
        if self.path == "-":
            return None
        try:
            with open(self.path, encoding=self.quality.encoding, errors="replace") as lines:
                for number, line in enumerate(lines, start=1):
                    if line.rstrip("\r\n") == text:
                        return number
        except OSError:
            return None
        return None

    def _clean(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Rename to logical fields, coerce types, apply filters, window and dedupe."""
        import pandas as pd

        self.quality.rows_read += len(raw)
        out = pd.DataFrame(index=raw.index)
        for name in self.wanted:
            out[name] = self._coerce(name, raw[self.spec.columns[name]])
        for name, (left, right) in self.derived.items():
            out[name] = out[left] * out[right]
        for name in self.segments:
            labels = raw[self.spec.segments[name]].str.strip()
            out[SEGMENT_PREFIX + name] = labels.fillna("(blank)").replace("", "(blank)")
        keep = pd.Series(True, index=raw.index)
        if "order_id" in out:  # a line without an order id belongs to no order
            keep = self._drop(keep, out["order_id"].notna(), "order_id blank")
        for spec in self.spec.filters:
            values = out[spec.field] if spec.field else raw[spec.column]
            keep = self._drop(keep, _evaluate(spec, values), spec.describe())
        if self.time_field:
            keep = self._keep_dated(
                keep, raw[self.spec.columns[self.time_field]], out[self.time_field]
            )
        if self.keep_history and self.time_field:
            out[IN_WINDOW] = self._in_window
        if self.spec.dedupe:
            keep = self._drop(
                keep, self._first_seen(out[self.spec.dedupe], keep), f"duplicate {self.spec.dedupe}"
            )
        self._flush_notes(keep)
        return out[keep]

    def _drop(self, keep: pd.Series, passes: pd.Series, reason: str) -> pd.Series:
        dropped = int((keep & ~passes).sum())
        if dropped:
            self.quality.rows_dropped[reason] += dropped
        return keep & passes

    def _keep_dated(self, keep: pd.Series, text: pd.Series, when: pd.Series) -> pd.Series:
        import pandas as pd

        name = self.time_field
        keep = self._drop(keep, text.notna(), f"{name} blank")
        keep = self._drop(keep, when.notna() | text.isna(), f"{name} not a date")
        inside = pd.Series(True, index=when.index)
        if self.window.since:
            inside &= when >= _midnight(self.window.since)
        if self.window.until:
            inside &= when < _midnight(self.window.until + dt.timedelta(days=1))
        if self.keep_history:
            self.quality.rows_history_only += int((keep & ~inside).sum())
            self._in_window = inside
            return keep
        if self.window.since:
            keep = self._drop(keep, when >= _midnight(self.window.since), "before --since")
        if self.window.until:
            end = _midnight(self.window.until + dt.timedelta(days=1))
            keep = self._drop(keep, when < end, "after --until")
        return keep

    def _first_seen(self, ids: pd.Series, keep: pd.Series) -> pd.Series:
        candidates = ids.where(keep)
        repeat = (candidates.duplicated() & candidates.notna()) | candidates.isin(self._seen_ids)
        self._seen_ids.update(candidates.dropna().tolist())
        return ~repeat

    def _coerce(self, name: str, text: pd.Series) -> pd.Series:
        kind = SOURCE_KINDS[self.spec.kind][name]
        if kind.type == "score":
            return self._score(name, kind, text)
        if kind.type == "timestamp":
            return self._timestamp(name, text)
        if kind.type in ("number", "money", "duration"):
            return self._number(name, text)
        if kind.type == "count":
            return self._number(name, _truth_as_count(text))
        if kind.type == "bool":
            return self._boolean(name, text)
        if kind.type == "id":  # " " is no id; " 42" and "42" are the same one
            stripped = text.str.strip()
            return stripped.where(stripped != "")
        return text

    def _number_or_blank(self, name: str, text: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Numbers from text (after the field's `values:` map), and which cells were blank."""
        import pandas as pd

        stripped = text.str.strip()
        blank = stripped.isna() | stripped.str.lower().isin(BLANK_TOKENS)
        kind = SOURCE_KINDS[self.spec.kind][name].type
        numeric = to_numbers(stripped, self.spec.decimal, self.spec.thousands, kind)
        if kind == "score" and name == "nps":  # "10 - Extremely likely" -> 10
            leading = stripped.str.extract(LEADING_NUMBER, expand=False)
            numeric = numeric.fillna(pd.to_numeric(leading, errors="coerce"))
        mapping = self.spec.values.get(name)
        if mapping:
            numeric = stripped.map(mapping).astype("float64").fillna(numeric)
        numbers = numeric.astype("float64").where(~blank)
        self._note(name, "blank", blank)
        self._note(name, "not a number", numbers.isna() & ~blank)
        return numbers, blank

    def _score(self, name: str, kind: Field, text: pd.Series) -> pd.Series:
        numbers, _ = self._number_or_blank(name, text)
        low, high = self.spec.scales.get(name, kind.scale)  # type: ignore[misc]
        on_scale = numbers.between(low, high) & (numbers == numbers.round())
        self._note(name, f"outside the {low}-{high} scale", numbers.notna() & ~on_scale)
        valid = numbers.where(on_scale)
        self._note(name, "valid", valid.notna())
        return valid

    def _number(self, name: str, text: pd.Series) -> pd.Series:
        numbers, _ = self._number_or_blank(name, text)
        self._note(name, "valid", numbers.notna())
        return numbers

    def _boolean(self, name: str, text: pd.Series) -> pd.Series:
        values = text.str.strip().str.lower().map(TRUTH)
        self._note(name, "blank", text.isna())
        self._note(name, "not true/false", values.isna() & text.notna())
        return values

    def _timestamp(self, name: str, text: pd.Series) -> pd.Series:
        """Local date-times: offsets converted to `timezone` (default UTC), naive ones kept."""
        stripped = text.str.strip()
        blank = stripped.isna() | (stripped == "")
        when = parse_timestamps(stripped.where(~blank), self.spec.date_format, self.spec.timezone)
        bad = when.isna() & ~blank
        self._note(name, "blank", blank)
        self._note(name, "not a date", bad)
        self._note(name, "valid", when.notna())
        if bad.any() and name not in self._bad_example:
            self._bad_example[name] = str(text[bad].iloc[0])
        return when

    def _check_dates(self) -> None:
        """A date column whose values mostly fail to parse has the wrong format: refuse it."""
        for name, example in self._bad_example.items():
            counts = self._all_counts[name]
            bad, good = counts.get("not a date", 0), counts.get("valid", 0)
            if bad > good:
                fmt = self.spec.date_format or "ISO 8601"
                raise InputError(
                    f"{self.path}: column {self.spec.columns[name]!r} ({name}): {bad} of "
                    f"{bad + good} values are not dates in format {fmt} (e.g. {example!r})",
                    hint=f'set date_format under sources.{self.name} (e.g. "%d/%m/%Y %H:%M", '
                    'or "excel" for serial day numbers)',
                )

    def _check_scales(self) -> None:
        """A score column whose answers are mostly off the scale is mapped wrongly: refuse it."""
        for name, counts in self._all_counts.items():
            if SOURCE_KINDS[self.spec.kind][name].type != "score":
                continue
            off = sum(c for reason, c in counts.items() if reason.startswith(("outside", "not")))
            if off >= 5 and off > counts.get("valid", 0):
                raise InputError(
                    f"{self.path}: column {self.spec.columns[name]!r} ({name}): {off} of "
                    f"{off + counts.get('valid', 0)} answers are not numbers on the scale",
                    hint=f"map the column to the right field, or declare the scale "
                    f"(scales: {{{name}: [LOW, HIGH]}}) or text answers (values: {{{name}: "
                    "{...}}) under sources." + self.name,
                )


LEADING_NUMBER = r"^(\d{1,2})\s*(?:[-–—:=(]|$)"
MONEY_NOISE = r"[^\d.,()+\-]"  # currency symbols and codes, spaces
CLOCK = r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$"  # [HH:]MM:SS


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
        cleaned = cleaned.str.replace(thousands, "", regex=False)
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


OFFSET_PATTERN = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
EXCEL_EPOCH = "1899-12-30"
EXCEL_DAYS = (20000, 80000)  # serial day numbers of 1954 .. 2119: plausible export dates


def parse_timestamps(text: pd.Series, date_format: str | None, timezone: str | None) -> pd.Series:
    """Parse date-times: ISO 8601 or `date_format` (or "excel" serial days), offsets to local.

    Values with a UTC offset are converted to `timezone` (UTC when unset) and made naive, so a
    file mixing offsets lands on one clock; values without one are taken as given. Unparseable
    values become NaT. A format Python cannot use is a ConfigError.
    """
    import pandas as pd

    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if date_format and date_format.lower() == "excel":
        return _excel_days(text, out)
    fmt = date_format or "ISO8601"
    aware = text.str.contains(OFFSET_PATTERN, regex=True, na=False)
    try:
        if (~aware).any():
            out[~aware] = pd.to_datetime(text[~aware], format=fmt, errors="coerce")
        if aware.any():
            local = pd.to_datetime(text[aware], format=fmt, errors="coerce", utc=True)
            out[aware] = local.dt.tz_convert(timezone or "UTC").dt.tz_localize(None)
    except ValueError as exc:
        raise ConfigError(
            f"date_format {fmt!r} cannot be used: {exc}",
            hint='use strftime codes, e.g. "%d/%m/%Y %H:%M", or "excel"',
        ) from None
    if date_format is None and out.isna().any():  # Excel serial day numbers among ISO dates
        out = out.where(out.notna(), _excel_days(text.where(out.isna()), out.copy()))
    return out


def _excel_days(text: pd.Series, out: pd.Series) -> pd.Series:
    import pandas as pd

    days = pd.to_numeric(text, errors="coerce")
    plausible = days.between(*EXCEL_DAYS)
    if plausible.any():
        stamps = pd.Timestamp(EXCEL_EPOCH) + pd.to_timedelta(days[plausible], unit="D")
        out[plausible] = stamps.dt.round("s")
    return out


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


def _truth_as_count(text: pd.Series) -> pd.Series:
    """true/yes -> "1", false/no -> "0"; other text (numbers) unchanged."""
    words = text.str.strip().str.lower()
    truth = words.map({k: "1" if v else "0" for k, v in TRUTH.items() if not k.isdigit()})
    return truth.fillna(text)


def _midnight(day: dt.date) -> Any:
    import pandas as pd

    return pd.Timestamp(day)


def _evaluate(spec: FilterSpec, values: pd.Series) -> pd.Series:
    """Which rows pass one filter condition (a blank never passes a comparison)."""
    import pandas as pd

    ((op, arg),) = spec.operators().items()
    if op in ("is_null", "not_null"):
        blank = values.isna() if values.dtype != object else values.isna() | (values == "")
        return blank == arg if op == "is_null" else (~blank) == arg
    if op in ("gt", "ge", "lt", "le"):
        numbers = pd.to_numeric(values, errors="coerce")
        return getattr(numbers, op)(arg).fillna(False).astype(bool)
    if op in ("startswith", "not_startswith", "contains"):
        text = values.astype("string")
        hit = (
            (text.str.contains(arg, regex=False) if op == "contains" else text.str.startswith(arg))
            .fillna(False)
            .astype(bool)
        )
        return ~hit if op == "not_startswith" else hit
    choices = [arg] if op in ("eq", "ne") else list(arg)
    if values.dtype.kind in "fiub":
        hit = values.isin([float(c) for c in choices])
    else:
        hit = values.astype("string").isin([str(c) for c in choices]).fillna(False).astype(bool)
    return ~hit if op in ("ne", "not_in") else hit


def read_header(path: str, spec: SourceSpec) -> list[str]:
    """The header of a source's file, for hints; empty when it cannot be read."""
    try:
        reader = SourceReader("?", spec, path, ())
        _, header = reader._open()
        reader._raw.close()
        return header
    except (InputError, OSError):
        return []


__all__ = ["SEGMENT_PREFIX", "SourceQuality", "SourceReader", "Window", "read_header"]
