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
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cx_cli import coerce, files, startup
from cx_cli.errors import ConfigError, InputError
from cx_cli.fields import DERIVED, ELAPSED, SOURCE_KINDS, Field, shift_column, time_field

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from cx_cli.config import FilterSpec, SourceSpec

PRESET_HEADER_ROWS = {"qualtrics": 3, "surveymonkey": 2}
HEAD_BYTES = 1 << 20
DEFAULT_BATCH_BYTES = 8 << 20  # of parsed columns per frame cleaned and tallied
# Arrow reads ahead a few dozen blocks while we work, so its block size bounds memory; small
# blocks are joined into frames of DEFAULT_BATCH_BYTES to keep per-frame costs low.
ARROW_BLOCK_BYTES = 2 << 20
MAX_ARROW_BLOCK_BYTES = 256 << 20
# Parsed bytes that may wait for the main thread, as frames. Deep enough that parsing runs on
# while the main thread imports pandas (~0.4 s) at the first frame; parsed columns are far
# smaller than their CSV text, so this is a fixed amount, whatever the file's size.
PREFETCH_BYTES = 32 << 20
# CSV blocks Arrow may read ahead of those parsed (`files.Paced`): 8 keeps the parse fed
# (4 slowed the survey job by 7 %) and peak memory 50 MB lower than Arrow's 32.
READ_AHEAD_BLOCKS = 8
MAX_PREFETCH_FRAMES = 64
GIL_SWITCH_SECONDS = 0.0002
SEGMENT_PREFIX = "seg:"
OTHER_DECIMAL = "number with the other decimal separator"  # an internal count, not a reason
EXCEL_SEPARATOR = re.compile(r"sep=(.)\n")
PARQUET_MAGIC = b"PAR1"  # a Parquet file's first (and last) four bytes
IN_WINDOW = "_in_window"
NUMBER_TYPES = frozenset({"score", "number", "money", "duration", "count"})
T = TypeVar("T")


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
    files: list[dict[str, Any]] = field(default_factory=list)
    # file -> the encoding guessed for it, when not UTF-8 (each such file gets a warning)
    guessed_encodings: dict[str, str] = field(default_factory=dict)

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
        lines = io.StringIO(text, newline="")  # any line ending; quoted ones kept as written
        try:
            rows = list(itertools.islice(csv.reader(lines, delimiter=delimiter), 50))
        except csv.Error:  # e.g. a field over the csv module's size limit: judge the header
            first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
            rows = list(csv.reader([first], delimiter=delimiter))
        width = len(rows[0]) if rows else 0
        body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
        steady = sum(len(r) == width for r in body) >= 0.9 * len(body)
        return width > 1, steady, width

    best = max(DELIMITERS, key=score)
    return best if score(best)[0] else ","


@dataclass
class SourceReader:
    """Streams one source (one or many files) as clean frames of logical fields.

    `quality` is filled as it goes. `progress`, when given, is called after each batch, and
    for CSV as bytes arrive, with the rows and bytes read so far and the bytes to read (None
    when unknown: stdin, URLs).
    """

    name: str
    spec: SourceSpec
    path: str | Sequence[str]
    fields: tuple[str, ...]
    segments: tuple[str, ...] = ()
    window: Window = dataclasses.field(default_factory=Window)
    batch_bytes: int = DEFAULT_BATCH_BYTES
    keep_history: bool = False
    progress: Callable[[int, int, int | None], None] | None = None
    # The files `path` names, when listed already (the Dask engine lists them before it
    # connects to a cluster): a glob over object storage is then listed once, not twice.
    listed: Sequence[str] | None = None
    quality: SourceQuality = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.quality = SourceQuality(self.name, files.display(self.path))
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
        # Fields only filters or dedupe read are not handed on (less memory, cheaper folding).
        handed_on = {*self.fields, *self.derived, self.time_field}
        if "order_id" in wanted and self.spec.kind == "orders":
            handed_on.add("order_id")
        self.unused = tuple(f for f in self.wanted if f not in handed_on)
        # Only a `timezone` moves date-times by varying shifts (UTC's clock never jumps).
        self.elapsed = tuple(
            f for f in ELAPSED.get(self.spec.kind, ()) if f in handed_on and self.spec.timezone
        )
        self.raw_columns = sorted(
            {self.spec.columns[f] for f in self.wanted}
            | {self.spec.segments[s] for s in self.segments}
            | {f.column for f in self.spec.filters if f.column}
        )
        self._file = files.display(self.path)  # the file being read, for messages
        self._seen_ids: set[str] = set()
        self._bad_example: dict[str, str] = {}  # per date field, a value that is no date
        self._separator_line = False  # the file starts with Excel's "sep=X" line
        self._other_decimal: dict[str, str] = {}  # per number field, one read as "12,50"
        self._first_bad_row: tuple[int, int, str] | None = None
        self._undecodable_row: UnicodeDecodeError | None = None  # a ragged row never handled
        self._paced: files.Paced | None = None  # the CSV file being read, for `_bad_row`
        self._skipped_rows = 0
        self._rows_before_file = 0  # rows read (skipped ones too) before the current file
        self._text_columns: set[str] = set()  # columns a typed read failed on: read as text
        self._cleaned_ids: set[str] = set()  # id columns the parse thread cleaned (this file)
        self._bytes_done = 0
        self._total_bytes: int | None = None
        self._all_counts: dict[str, Counter[str]] = {}
        self._pending: list[tuple[str, str, np.ndarray, int]] = []
        self._shifts: dict[str, np.ndarray] = {}  # this frame's, per date-time field moved

    @property
    def folds_orders(self) -> bool:
        """Whether the rows are order lines, folded into orders after reading (`stages`)."""
        return self.spec.kind == "orders" and "order_id" in self.wanted

    # -- opening -----------------------------------------------------------------------------

    def _bytes_read(
        self, progress: Callable[[int, int, int | None], None], done: int
    ) -> Callable[[int], None]:
        """The progress callback for bytes as they arrive (Arrow's reading thread calls it):
        rows stay those of the last frame, bytes count up to the file's `size` so far."""
        return lambda size: progress(self.quality.rows_read, done + size, self._total_bytes)

    def _read_error(self, path: str, opened: files.Opened, exc: OSError) -> InputError:
        """A file that failed while being read: unreadable, or damaged when compressed."""
        if opened.compression is None:
            return InputError(f"{path}: cannot be read ({exc}) (source '{self.name}')")
        return files.decompression_error(path, self.name, opened.compression, exc)

    def _header_rows(self) -> int:
        return PRESET_HEADER_ROWS.get(self.spec.preset or "", self.spec.header_rows)

    def _open(self, path: str) -> tuple[files.Opened, files.Replay, list[str]]:
        """Open one CSV file: encoding, delimiter and header from its first megabyte."""
        self._file = path
        opened = files.open_decompressed(path, self.name)
        if self.progress:
            opened.hashing.on_read = self._bytes_read(self.progress, self._bytes_done)
        try:
            head = files.read_head(opened.stream, HEAD_BYTES)
        except OSError as exc:
            opened.close()
            raise self._read_error(path, opened, exc) from None
        if not head.strip():
            opened.close()
            raise InputError(
                f"{path}: the file is empty (source '{self.name}')",
                hint="export it again (a CSV has at least its header row); among several "
                "files, move it aside to read the others",
            )
        if _looks_like_parquet(head):
            opened.close()
            raise self._parquet_as_csv(path)
        encoding = self.spec.encoding or detect_encoding(head)
        self.quality.encoding = encoding
        self.quality.encoding_detected = self.spec.encoding is None
        replay = files.Replay(head, opened.stream)
        if head.startswith(codecs.BOM_UTF8) and codecs.lookup(encoding).name == "utf-8":
            head = head[len(codecs.BOM_UTF8) :]
            replay = files.Replay(head, opened.stream)
        if b"\x00" in head and not codecs.lookup(encoding).name.startswith("utf-16"):
            opened.close()
            raise InputError(
                f"{path}: the file contains NUL bytes: not a text CSV (source '{self.name}')",
                hint="export it again as CSV; if it is UTF-16 text, set encoding: utf-16",
            )
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and codecs.lookup(
            encoding
        ).name.startswith("utf-16"):
            encoding = self.quality.encoding = "utf-16"  # the BOM says which byte order
            self.quality.encoding_detected = False  # and that it is UTF-16: no guess to warn of
        if self.quality.encoding_detected and codecs.lookup(encoding).name != "utf-8":
            self.quality.guessed_encodings["<stdin>" if path == "-" else path] = encoding
        raw = head.decode(encoding, errors="replace")
        text = raw.replace("\r\n", "\n").replace("\r", "\n")  # for the sniffing only
        excel = EXCEL_SEPARATOR.match(text)  # Excel's "sep=;" line above the header
        self._separator_line = excel is not None
        text = text[excel.end() :] if excel else text
        raw = re.split(r"\r\n|\r|\n", raw, maxsplit=1)[-1] if excel else raw
        delimiter = self.spec.delimiter or (excel.group(1) if excel else sniff_delimiter(text))
        self.quality.delimiter = delimiter
        self.quality.header_rows = self._header_rows()
        try:  # a quoted header cell keeps its line break as written ("\r\n"), as Arrow's does
            header = next(csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter), [])
        except csv.Error as exc:
            opened.close()
            raise InputError(
                f"{path}: the header row cannot be read (source '{self.name}'): {exc}",
                hint="the first line should name the columns; check for an unclosed quote",
            ) from None
        self.quality.columns = tuple(header)
        return opened, replay, header

    def _parquet_as_csv(self, path: str) -> InputError:
        """The error for Parquet bytes where a CSV was expected (stdin, or another suffix)."""
        if path == "-":
            return InputError(
                f"-: stdin holds a Parquet file, which cannot be read from a stream (source "
                f"'{self.name}')",
                hint=f"pass its path instead: --input {self.name}=FILE.parquet",
            )
        return InputError(
            f"{path}: is a Parquet file, but its name does not end in .parquet (source "
            f"'{self.name}')",
            hint="rename it to end in .parquet (.parq and .pq work too): other files are "
            "read as CSV",
        )

    def _check_header(self, header: Sequence[str]) -> None:
        needed = set(self.raw_columns)
        for column in sorted(needed):
            if column not in header:
                self._check_delimiter(header, column)
                close = (
                    difflib.get_close_matches(column, header, n=1)
                    or [
                        h
                        for h in header
                        if len(h) >= 3  # "y" is in most names: no hint at all beats that one
                        and (h.lower() in column.lower() or column.lower() in h.lower())
                    ][:1]
                )
                suggestion = f"did you mean {close[0]!r}? " if close else ""
                how = (
                    f"read with delimiter {self.quality.delimiter!r}; set delimiter: if that is "
                    "wrong"
                    if not files.is_parquet(self._file)
                    else "Parquet"
                )
                raise InputError(
                    f"{self._file}: column {column!r} is not in the file (source '{self.name}')",
                    hint=f"{suggestion}columns in the file ({how}): {', '.join(header)}",
                )
            if list(header).count(column) > 1:
                raise InputError(
                    f"{self._file}: column {column!r} appears "
                    f"{list(header).count(column)} times in the header",
                    hint="rename the duplicate columns in the export",
                )

    def _check_delimiter(self, header: Sequence[str], column: str) -> None:
        """A missing column that another delimiter would have split out of the header: the
        source reads with the wrong delimiter (one given in the config, or a sniff fooled)."""
        if files.is_parquet(self._file):
            return
        for delimiter in DELIMITERS:
            if delimiter == self.quality.delimiter:
                continue
            names = [n.strip().strip('"') for h in header for n in h.split(delimiter)]
            if len(names) > len(header) and column in names:
                raise InputError(
                    f"{self._file}: column {column!r} is not in the file as read with "
                    f"delimiter {self.quality.delimiter!r} (source '{self.name}')",
                    hint=f"the header splits on {delimiter!r} into {len(names)} columns, "
                    f"{column!r} among them: set delimiter: {delimiter!r} under "
                    f"sources.{self.name}",
                )

    # -- reading -----------------------------------------------------------------------------

    def batches(self) -> Iterator[pd.DataFrame]:
        """Clean frames of logical fields, one per block of each file, files in order."""
        paths = self.paths()
        self._total_bytes = files.total_size(paths)
        for path in paths:
            yield from self.file_batches(path)
        self.finish()

    def paths(self) -> list[str]:
        """The files this source's path names, in reading order."""
        if self.listed is not None:
            return list(self.listed)
        return files.expand(self.path, self.name)

    def file_batches(self, path: str) -> Iterator[pd.DataFrame]:
        """Clean frames of one of the source's files (`finish` checks the whole source)."""
        raw = self._parquet_batches(path) if files.is_parquet(path) else self._csv_batches(path)
        self._rows_before_file = self.quality.rows_read + self._skipped_rows
        for batch in raw:
            frame = self._clean(batch)
            startup.modules_loaded()  # pandas and pyarrow are in: collect garbage again
            yield frame
            if self.progress:
                self.progress(self.quality.rows_read, self._bytes_done, self._total_bytes)

    def absorb(self, other: SourceReader) -> None:
        """Add the row accounting of a reader of one of this source's files (the Dask engine
        reads files apart, then checks the whole source once, as the pandas engine does)."""
        q, o = self.quality, other.quality
        q.rows_read += o.rows_read
        q.rows_dropped.update(o.rows_dropped)
        q.rows_history_only += o.rows_history_only
        for name, counts in o.fields.items():
            q.fields.setdefault(name, Counter()).update(counts)
        q.files.extend(o.files)
        q.guessed_encodings.update(o.guessed_encodings)
        if o.files:  # the last file read says how the source was read, as in one stream
            q.encoding, q.encoding_detected = o.encoding, o.encoding_detected
            q.delimiter, q.header_rows, q.columns = o.delimiter, o.header_rows, o.columns
        for name, counts in other._all_counts.items():
            self._all_counts.setdefault(name, Counter()).update(counts)
        for name, example in other._bad_example.items():
            self._bad_example.setdefault(name, example)
        for name, example in other._other_decimal.items():
            self._other_decimal.setdefault(name, example)
        self._skipped_rows += other._skipped_rows

    def finish(self) -> None:
        """Checks over the whole source, once every file is read: rows, scales, dates, numbers."""
        self._file = files.display(self.path)
        if self._skipped_rows and self.quality.rows_read == 0:
            raise InputError(
                f"{self._file}: all {self._skipped_rows} data rows have a different number of "
                f"fields than the header (source '{self.name}')",
                hint="check the delimiter (delimiter: under the source) and the header rows",
            )
        if self._skipped_rows:
            self.quality.rows_read += self._skipped_rows
            self.quality.rows_dropped["wrong number of fields"] += self._skipped_rows
        self._sum_files()
        self._check_copies()
        if self.quality.rows_read == 0:
            count = len(self.quality.files)
            what = (
                f"none of its {count} files has data rows, only headers"
                if count > 1
                else "the file has a header but no data rows"
            )
            raise InputError(
                f"{self._file}: {what} (source '{self.name}')",
                hint="check that the export is not empty for the dates it was made for",
            )
        self._check_scales()
        self._check_dates()
        self._check_numbers()

    def _sum_files(self) -> None:
        """One sha256 and size for the source: those of its file, or for several files the
        sha256 of their sha256 digests, one per line in reading order (`files` lists each)."""
        read = self.quality.files
        if len(read) == 1:
            self.quality.sha256, self.quality.size_bytes = read[0]["sha256"], read[0]["size_bytes"]
            return
        lines = "".join(f"{f['sha256']}\n" for f in read)
        self.quality.sha256 = hashlib.sha256(lines.encode()).hexdigest()
        self.quality.size_bytes = sum(int(f["size_bytes"]) for f in read)

    def _check_copies(self) -> None:
        """Stop when two files of the source hold the same bytes and some rows: a copy (a
        re-downloaded export, `orders (1).csv`) would count every row twice, and nothing in
        the figures would show it. Identical header-only files (months without data) are fine,
        and so is a copy when the source has `dedupe:`: its rows were all dropped as repeats,
        and `rows_dropped` says so.
        """
        if self.spec.dedupe:
            return
        first: dict[tuple[str, int], str] = {}
        for f in self.quality.files:
            if not f["rows_read"]:
                continue
            key = (f["sha256"], f["size_bytes"])
            if key in first:
                raise InputError(
                    f"{first[key]} and {f['path']} hold the same bytes (sha256 "
                    f"{f['sha256'][:12]}...) (source '{self.name}'): their rows would count "
                    "twice",
                    hint="move the copy aside (a second download of one export?); the files "
                    "of a source must hold different rows",
                )
            first[key] = f["path"]

    def _record_file(self, path: str, sha256: str, size: int) -> None:
        """List a file as read, with its sha256, size and rows (data rows, skipped ones too)."""
        shown = "<stdin>" if path == "-" else path
        rows = self.quality.rows_read + self._skipped_rows - self._rows_before_file
        self.quality.files.append(
            {"path": shown, "sha256": sha256, "size_bytes": size, "rows_read": rows}
        )

    def _csv_batches(self, path: str) -> Iterator[pa.RecordBatch]:
        """Record batches of the mapped columns of one CSV file.

        The file is read again, skipping the rows already handed on, when a row is longer than
        Arrow's block (with a 4x block) or a column's cells are not all clean numbers or ISO
        timestamps (that column as text, see `_arrow_types`). Rows are records, the same
        whatever the block or the types, so the rows handed on are those of one read.
        """
        block, skip = min(self.batch_bytes, ARROW_BLOCK_BYTES), 0
        while True:
            skipped, done = self._skipped_rows, self._bytes_done
            try:
                yield from self._csv_file(path, block, skip)
                return
            except _ReadAgain as again:
                self._skipped_rows, self._bytes_done = skipped, done
                skip += again.rows
                self._text_columns |= again.as_text
                block *= 4 if again.bigger_block else 1

    def _csv_file(self, path: str, block: int, skip: int = 0) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        from pyarrow import csv as pacsv

        opened, replay, header = self._open(path)
        try:
            self._check_header(header)
        except InputError:
            opened.close()
            raise
        types = self._arrow_types(path)
        read = pacsv.ReadOptions(
            block_size=block,
            skip_rows=int(self._separator_line),
            skip_rows_after_names=self._header_rows() - 1,
            encoding=self.quality.encoding,
        )
        parse = pacsv.ParseOptions(
            delimiter=self.quality.delimiter,
            newlines_in_values=True,
            invalid_row_handler=self._bad_row,
        )
        convert = pacsv.ConvertOptions(
            include_columns=self.raw_columns,
            column_types=types,
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        )
        floats = [c for c, t in types.items() if pa.types.is_floating(t)]
        done, handed_on = self._bytes_done, 0
        reader: pacsv.CSVStreamingReader | None = None
        frames: Iterator[pa.RecordBatch] | None = None
        utf8 = codecs.lookup(self.quality.encoding).name == "utf-8"  # else Arrow transcodes
        paced = files.Paced(replay, READ_AHEAD_BLOCKS if utf8 else sys.maxsize, block)
        self._paced = paced
        _undecodable_rows.start()
        try:
            reader = pacsv.open_csv(
                paced, read_options=read, parse_options=parse, convert_options=convert
            )
            self._cleaned_ids = self._id_columns(types)
            framed = _framed(_skipping(_taken(reader, paced), skip), self.batch_bytes)
            checked = _finite(framed, floats)
            cleaned = _ids_cleaned(checked, self._cleaned_ids)
            depth = min(MAX_PREFETCH_FRAMES, max(2, PREFETCH_BYTES // self.batch_bytes))
            frames = prefetched(cleaned, depth)
            for frame in frames:
                self._bytes_done = done + opened.hashing.size
                yield frame
                handed_on += frame.num_rows
        except _NotFinite as exc:
            raise _ReadAgain(handed_on, as_text=exc.columns) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: byte {exc.object[exc.start : exc.start + 1]!r} is not valid "
                f"{self.quality.encoding} (source '{self.name}')",
                hint=f"set encoding under sources.{self.name} to the export's encoding "
                "(e.g. utf-8, cp1252, latin-1, utf-16)",
            ) from None
        except pa.ArrowInvalid as exc:
            if self._undecodable_row is not None:
                raise self._undecodable_error() from None
            if self._first_bad_row is not None:
                raise self._ragged_error() from None
            as_text = _failed_columns(exc, header, types) if _conversion_failed(exc) else set()
            if as_text and path != "-":
                raise _ReadAgain(handed_on, as_text=as_text) from None
            if _block_too_small(exc) and block < MAX_ARROW_BLOCK_BYTES and path != "-":
                raise _ReadAgain(handed_on, bigger_block=True) from None
            raise self._parse_error(path, exc) from None
        except OSError as exc:
            raise self._read_error(path, opened, exc) from None
        finally:  # in this order, also when the read stops early: no Arrow read outlives it
            paced.release()  # an Arrow read waiting for the parse would never end
            self._paced = None  # (a thread lock: the reader is copied to Dask's workers)
            if frames is not None:
                frames.close()  # stops and joins the parse thread
            if reader is not None:
                reader.close()
            _undecodable_rows.stop()
            opened.close()
        self._bytes_done = done + opened.hashing.size
        self._record_file(path, opened.hashing.digest.hexdigest(), opened.hashing.size)

    def _arrow_types(self, path: str) -> dict[str, pa.DataType]:
        """The Arrow type each mapped column is parsed as.

        Arrow's CSV parser converts clean numbers and ISO timestamps on its own thread, far
        cheaper than casting text afterwards. (Segments are text: its dictionary conversion
        costs twice `coerce.read_labels`' encoding after parsing.) A cell it cannot
        convert (or NaN/inf, which the text rules judge) sends the file back to be read with
        that column as text (`_ReadAgain`); stdin cannot be read twice, so there it is text.
        A column with two roles (a field and a filter, say) is text.
        """
        import pyarrow as pa

        roles: dict[str, set[pa.DataType]] = {}
        for name in self.wanted:
            roles.setdefault(self.spec.columns[name], set()).add(self._parsed_type(name, path))
        for segment in self.segments:
            roles.setdefault(self.spec.segments[segment], set()).add(pa.string())
        for spec in self.spec.filters:
            if spec.column:
                roles.setdefault(spec.column, set()).add(pa.string())
        return {
            column: types.pop() if len(types) == 1 else pa.string()
            for column, types in roles.items()
        }

    def _id_columns(self, types: dict[str, pa.DataType]) -> set[str]:
        """Text columns that only hold id fields: their ids are cleaned on the parse thread."""
        import pyarrow as pa

        roles: dict[str, set[str]] = {column: set() for column in types}
        for name in self.wanted:
            roles[self.spec.columns[name]].add(SOURCE_KINDS[self.spec.kind][name].type)
        for spec in self.spec.filters:
            if spec.column:  # a column filter reads the cells as they are, untrimmed
                roles[spec.column].add("filter")
        return {c for c, kinds in roles.items() if kinds == {"id"} and types[c] == pa.string()}

    def _parsed_type(self, name: str, path: str) -> pa.DataType:
        import pyarrow as pa

        column, kind, spec = self.spec.columns[name], SOURCE_KINDS[self.spec.kind][name], self.spec
        if path == "-" or column in self._text_columns:
            return pa.string()
        plain = spec.decimal == "." and spec.thousands is None and name not in spec.values
        if kind.type in NUMBER_TYPES and plain:
            return pa.float64()
        if kind.type == "timestamp" and spec.date_format is None:
            return pa.timestamp("ns")
        return pa.string()

    def _parse_error(self, path: str, exc: Exception) -> InputError:
        message = str(exc).replace("\x00", "").splitlines()[0]
        hint = (
            "a row is larger than the reader's block: check for an unclosed quote"
            + (
                "; to read very long rows, give the file's path instead of stdin"
                if path == "-"
                else ""
            )
            if _block_too_small(exc)
            else f"the file is not valid {self.quality.encoding} throughout: set encoding "
            f"under sources.{self.name} (e.g. cp1252 or utf-16)"
            if "UTF8" in message or "decode" in message.lower()
            else "check the delimiter, quoting and that every row has as many fields as the header"
        )
        return InputError(
            f"{path}: cannot parse the CSV (source '{self.name}'): {message}", hint=hint
        )

    def _parquet_batches(self, path: str) -> Iterator[pa.RecordBatch]:
        """Record batches of the mapped columns of one Parquet file (types kept)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._file, self._cleaned_ids = path, set()
        digest, size = files.hash_file(path, self.name)
        raw = files.open_raw(path, self.name)
        try:
            try:
                parquet = pq.ParquetFile(raw)
            except (pa.ArrowInvalid, OSError) as exc:
                raise InputError(
                    f"{path}: not a readable Parquet file (source '{self.name}'): {exc}",
                    hint="check the file; only files ending in .parquet are read as Parquet",
                ) from None
            self.quality.encoding, self.quality.delimiter = "parquet", ""
            self.quality.columns = tuple(parquet.schema_arrow.names)
            self._check_header(parquet.schema_arrow.names)
            rows = max(1024, self.batch_bytes // 64)
            batches = parquet.iter_batches(batch_size=rows, columns=self.raw_columns)
            while (batch := self._next_parquet_batch(batches, path)) is not None:
                if batch.num_rows:
                    yield batch
        finally:
            raw.close()
        self._bytes_done += size
        self._record_file(path, digest, size)

    def _next_parquet_batch(
        self, batches: Iterator[pa.RecordBatch], path: str
    ) -> pa.RecordBatch | None:
        """The next record batch (None at the end), or an InputError naming the file when its
        data cannot be decoded: damaged pages pass the footer check and fail only here."""
        import pyarrow as pa

        try:
            return next(batches, None)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(
                f"{path}: not a readable Parquet file (source '{self.name}'): its data is "
                f"damaged ({exc})",
                hint="the file is damaged or truncated: copy or export it again",
            ) from None

    def _note(self, name: str, reason: str, mask: Any, count: int | None = None) -> int:
        """Count a field's values by reason: over all rows read (for the sanity checks), and
        later over the rows kept (what the report shows, so counts add up to the rows used).
        Returns the count; a caller that knows it already passes it as `count`."""
        import numpy as np

        mask = np.asarray(mask, dtype=bool)
        if count is None:
            count = int(np.count_nonzero(mask))
        self._all_counts.setdefault(name, Counter())[reason] += count
        self._pending.append((name, reason, mask, count))
        return count

    def _flush_notes(self, keep: np.ndarray) -> None:
        import numpy as np

        every = bool(keep.all())
        for name, reason, mask, count in self._pending:
            kept = count if every else int(np.count_nonzero(mask & keep))
            self.quality.count_field(name, reason, kept)
        self._pending = []

    def _bad_row(self, row: Any) -> str:
        """pyarrow's callback for a row with too many or too few fields: skip it or stop."""
        if self.spec.bad_rows == "skip":
            self._skipped_rows += 1
            if self._paced is not None:  # its bytes will never reach a batch
                self._paced.skipped(len(row.text.encode("utf-8", "replace")) + 1)
            return "skip"
        self._first_bad_row = (row.actual_columns, row.expected_columns, row.text)
        return "error"

    def _ragged_error(self) -> InputError:
        actual, expected, text = self._first_bad_row  # type: ignore[misc]
        where, shown = self._row_shown(text)
        return InputError(
            f"{self._file}: {where} has {actual} fields where the header has {expected} "
            f"(source '{self.name}'): {shown!r}",
            hint=f"fix the export (an unquoted {self.quality.delimiter!r} inside a value?), "
            f"or set bad_rows: skip under sources.{self.name} to skip and count such rows",
        )

    def _undecodable_error(self) -> InputError:
        """A ragged row whose bytes are not in the file's encoding: Arrow cannot hand it to
        `_bad_row` (`_UndecodableRows`), so it can be neither skipped nor shown as read; the
        encoding is what is wrong."""
        failed = self._undecodable_row
        assert failed is not None
        where, shown = self._row_shown(bytes(failed.object).decode("utf-8", "replace"))
        return InputError(
            f"{self._file}: {where} has byte {failed.object[failed.start : failed.start + 1]!r}, "
            f"not valid {self.quality.encoding}, and a different number of fields than the "
            f"header (source '{self.name}'): {shown!r}",
            hint=f"set encoding under sources.{self.name} to the export's encoding (e.g. "
            "cp1252, latin-1, utf-16): a row that cannot be decoded cannot be skipped either",
        )

    def _row_shown(self, text: str) -> tuple[str, str]:
        """Where a row is ("line 12", or "a row" when it cannot be found) and its text cut to
        120 characters, for an error about it."""
        line = self._line_of(text)
        return (f"line {line}" if line else "a row"), (
            text if len(text) <= 120 else text[:117] + "..."
        )

    def _line_of(self, text: str) -> int | None:
        """The 1-based line of the file holding `text` (only on this error path; not stdin)."""
        if self._file == "-":
            return None
        try:
            opened = files.open_decompressed(self._file, self.name)
        except InputError:
            return None
        try:
            lines = io.TextIOWrapper(
                io.BufferedReader(files.Replay(b"", opened.stream)),
                encoding=self.quality.encoding,
                errors="replace",
            )
            for number, line in enumerate(lines, start=1):
                if line.rstrip("\r\n") == text:
                    return number
        except OSError:
            return None
        finally:
            opened.close()
        return None

    def _clean(self, batch: pa.RecordBatch) -> pd.DataFrame:
        """Rename to logical fields, coerce types, apply filters, window and dedupe."""
        import numpy as np
        import pandas as pd

        self.quality.rows_read += batch.num_rows
        self._shifts.clear()
        columns = dict(zip(batch.schema.names, batch.columns, strict=True))
        values = {
            name: self._coerce(name, coerce.as_array(columns[self.spec.columns[name]]))
            for name in self.wanted
        }
        for name, (left, right) in self.derived.items():
            values[name] = values[left] * values[right]
        for name in self.elapsed:  # beside its date-time: durations are elapsed time
            shift = self._shifts.get(name)
            if shift is None:  # no value of this frame moved
                shift = np.full(batch.num_rows, coerce.NO_SHIFT, dtype="int64")
            values[shift_column(name)] = shift
        for name in self.segments:
            column = coerce.as_array(columns[self.spec.segments[name]])
            values[SEGMENT_PREFIX + name] = coerce.read_labels(column)
        # copy=False: each column stays its own array (consolidating the floats copied them)
        out = pd.DataFrame(values, index=pd.RangeIndex(batch.num_rows), copy=False)
        keep = np.ones(batch.num_rows, dtype=bool)
        if "order_id" in out:  # a line without an order id belongs to no order
            keep = self._drop(keep, out["order_id"].notna(), "order_id blank")
        for spec in self.spec.filters:
            values = (
                out[spec.field]
                if spec.field
                else coerce.read_text(coerce.as_array(columns[spec.column]))
            )
            keep = self._drop(keep, _evaluate(spec, values), spec.describe())
        if self.time_field:
            keep = self._keep_dated(keep, self._time_blank, out[self.time_field])
        if self.keep_history and self.time_field:
            out[IN_WINDOW] = self._in_window
        # Repeats are judged among every dated row, inside --since/--until or not, so that a
        # copy of a row before --since is still a copy (the figures do not move with the window).
        first = self._first_seen(out[self.spec.dedupe], keep) if self.spec.dedupe else None
        if self.time_field and not self.keep_history:
            keep = self._keep_in_window(keep, out[self.time_field])
        if first is not None:
            keep = self._drop(keep, first, f"duplicate {self.spec.dedupe}")
        self._flush_notes(keep)
        if self.unused:
            out = out.drop(columns=list(self.unused))
        return out if keep.all() else out[keep]

    def _drop(self, keep: np.ndarray, passes: Any, reason: str) -> np.ndarray:
        import numpy as np

        passes = np.asarray(passes, dtype=bool)
        dropped = int(np.count_nonzero(keep & ~passes))
        if dropped:
            self.quality.rows_dropped[reason] += dropped
        return keep & passes

    def _keep_dated(self, keep: np.ndarray, blank: np.ndarray, when: pd.Series) -> np.ndarray:
        """The rows with a date (blank and unreadable ones dropped). A source that keeps its
        history marks which are inside --since/--until (`_in_window`) and keeps them all."""
        import numpy as np

        name = self.time_field
        keep = self._drop(keep, ~blank, f"{name} blank")
        keep = self._drop(keep, when.notna().to_numpy() | blank, f"{name} not a date")
        if self.keep_history:
            inside = np.ones(len(when), dtype=bool)
            for on_its_side, _ in self._window_bounds(when):
                inside &= on_its_side
            self.quality.rows_history_only += int((keep & ~inside).sum())
            self._in_window = inside
        return keep

    def _keep_in_window(self, keep: np.ndarray, when: pd.Series) -> np.ndarray:
        """The rows inside --since/--until, for a source that keeps no history."""
        for on_its_side, reason in self._window_bounds(when):
            keep = self._drop(keep, on_its_side, reason)
        return keep

    def _window_bounds(self, when: pd.Series) -> list[tuple[np.ndarray, str]]:
        """Per bound given (--since, --until): the rows on its side, and why the others go."""
        bounds = []
        if self.window.since:
            bounds.append(((when >= _midnight(self.window.since)).to_numpy(), "before --since"))
        if self.window.until:
            end = _midnight(self.window.until + dt.timedelta(days=1))
            bounds.append(((when < end).to_numpy(), "after --until"))
        return bounds

    def _first_seen(self, ids: pd.Series, keep: np.ndarray) -> np.ndarray:
        """Rows whose id no earlier kept row had (in this batch or before); blank ids pass.

        Ids seen before are looked up one by one in the set of seen ids: `isin` would copy
        the whole set for every batch, which made a source's read quadratic in its rows."""
        import numpy as np
        import pandas as pd

        candidates = ids.where(keep)
        named = np.flatnonzero(candidates.notna().to_numpy())
        values = candidates.to_numpy(dtype=object)[named]
        seen = self._seen_ids
        earlier = np.zeros(len(candidates), dtype=bool)
        earlier[named] = [value in seen for value in values]
        seen.update(values)
        again = np.zeros(len(candidates), dtype=bool)
        again[named] = pd.Series(values).duplicated().to_numpy()
        return ~(earlier | again)

    def _coerce(self, name: str, column: pa.Array) -> pd.Series:
        kind = SOURCE_KINDS[self.spec.kind][name]
        if kind.type in NUMBER_TYPES:
            return self._numbers(name, kind, column)
        if kind.type == "timestamp":
            return self._timestamp(name, column)
        if kind.type == "bool":
            values = coerce.read_booleans(column)
            self._note(name, "blank", column.is_null())
            self._note(name, "not true/false", values.isna() & column.is_valid().to_pandas())
            return values
        if kind.type == "id":  # cleaned already on the parse thread, unless from Parquet
            cleaned = self.spec.columns[name] in self._cleaned_ids
            return column.to_pandas() if cleaned else coerce.read_ids(column)
        return coerce.read_text(column)

    def _numbers(self, name: str, kind: Field, column: pa.Array) -> pd.Series:
        numbers, blank = coerce.read_numbers(
            column,
            kind.type,
            self.spec.decimal,
            self.spec.thousands,
            self.spec.values.get(name),
            leading=kind.type == "score" and name == "nps",
        )
        import numpy as np
        import pandas as pd

        values = numbers.to_numpy()
        missing = np.isnan(values)
        blanks = self._note(name, "blank", blank)
        unread = int(np.count_nonzero(missing)) - blanks  # blank cells are NaN too
        if unread:
            self._note(name, "not a number", missing & ~blank)
        if kind.type != "score":
            self._note(name, "valid", ~missing, len(values) - blanks - unread)
            if unread:
                self._count_other_decimal(name, column, missing & ~blank)
            return numbers
        low, high = self.spec.scales.get(name, kind.scale)  # type: ignore[misc]
        on_scale = values >= low  # NaN compares False: missing values are never on the scale
        on_scale &= values <= high
        on_scale &= values == np.rint(values)
        valid = int(np.count_nonzero(on_scale))
        if valid < len(values) - blanks - unread:  # numbers that are no answer on the scale
            self._note(name, f"outside the {low}-{high} scale", ~(missing | on_scale))
            numbers = pd.Series(np.where(on_scale, values, np.nan))
        self._note(name, "valid", on_scale, valid)
        return numbers

    def _timestamp(self, name: str, column: pa.Array) -> pd.Series:
        """Local date-times: offsets converted to `timezone` (default UTC), naive ones kept."""
        try:
            read = coerce.read_timestamps(column, self.spec.date_format, self.spec.timezone)
        except ConfigError as exc:  # said of the column it was read from
            raise ConfigError(
                f"{self._file}: column '{self.spec.columns[name]}' (source '{self.name}'): "
                f"{exc.message}",
                hint=exc.hint,
            ) from None
        when, blank = read.when, read.blank
        if read.shift is not None:
            self._shifts[name] = read.shift
        bad = when.isna().to_numpy() & ~blank
        self._note(name, "blank", blank)
        self._note(name, "not a date", bad)
        self._note(name, "valid", when.notna())
        if name == self.time_field:
            self._time_blank = blank
        if bad.any() and name not in self._bad_example:
            first = int(bad.nonzero()[0][0])
            self._bad_example[name] = str(coerce.as_text(column)[first].as_py())
        return when

    def _count_other_decimal(self, name: str, column: pa.Array, bad: np.ndarray) -> None:
        """Of the values that are not numbers, count those that are with the other decimal
        separator (for `_check_numbers`; not a reason the report shows), keeping the first."""
        if not bad.any():
            return
        import pyarrow as pa

        text = coerce.as_text(column).filter(pa.array(bad)).to_pandas()
        other = coerce.other_decimal(text, self.spec.decimal).to_numpy()
        if other.any():
            self._all_counts.setdefault(name, Counter())[OTHER_DECIMAL] += int(other.sum())
            self._other_decimal.setdefault(name, str(text[other].iloc[0]))

    def _check_dates(self) -> None:
        """A date column whose values mostly fail to parse has the wrong format: refuse it."""
        for name, example in self._bad_example.items():
            counts = self._all_counts[name]
            bad, good = counts.get("not a date", 0), counts.get("valid", 0)
            if bad > good:
                fmt = self.spec.date_format or "ISO 8601"
                raise InputError(
                    f"{self._file}: column {self.spec.columns[name]!r} ({name}): {bad} of "
                    f"{bad + good} values are not dates in format {fmt} (e.g. {example!r})",
                    hint=f'set date_format under sources.{self.name} (e.g. "%d/%m/%Y %H:%M", '
                    'or "excel" for serial day numbers)',
                )

    def _check_numbers(self) -> None:
        """A number column whose values are mostly numbers with the other decimal separator
        ("12,50" read with decimal ".") is read with the wrong one: refuse it rather than
        report on the few values that happen to read (a whole amount like "1.200" reads 1.2)."""
        for name, example in self._other_decimal.items():
            counts = self._all_counts[name]
            other, good = counts[OTHER_DECIMAL], counts.get("valid", 0)
            if other <= good:
                continue
            decimal = self.spec.decimal
            fix = "," if decimal == "." else "."
            raise InputError(
                f"{self._file}: column {self.spec.columns[name]!r} ({name}): {other} of "
                f"{good + counts.get('not a number', 0)} values are numbers only with decimal "
                f"{fix!r} (e.g. {example!r}), but the source reads decimal {decimal!r}",
                hint=f'set decimal: "{fix}" under sources.{self.name}',
            )

    def _check_scales(self) -> None:
        """A score column whose answers are mostly off the scale is mapped wrongly: refuse it."""
        for name, counts in self._all_counts.items():
            if SOURCE_KINDS[self.spec.kind][name].type != "score":
                continue
            off = sum(c for reason, c in counts.items() if reason.startswith(("outside", "not")))
            if off >= 5 and off > counts.get("valid", 0):
                raise InputError(
                    f"{self._file}: column {self.spec.columns[name]!r} ({name}): {off} of "
                    f"{off + counts.get('valid', 0)} answers are not numbers on the scale",
                    hint=f"map the column to the right field, or declare the scale "
                    f"(scales: {{{name}: [LOW, HIGH]}}) or text answers (values: {{{name}: "
                    "{...}}) under sources." + self.name,
                )


def _block_too_small(exc: Exception) -> bool:
    """Arrow's errors for a row (or the header) longer than its block."""
    text = str(exc)
    return "straddling" in text or "cannot infer number of columns" in text


class _ReadAgain(Exception):
    """Read the file again, skipping the `rows` already handed on: with these columns as
    text, or with a larger block (a row did not fit in Arrow's block)."""

    def __init__(self, rows: int, as_text: Iterable[str] = (), bigger_block: bool = False) -> None:
        super().__init__(rows)
        self.rows, self.as_text, self.bigger_block = rows, set(as_text), bigger_block


class _UndecodableRows:
    """Hands `SourceReader._bad_row` the rows pyarrow could not decode for it, while any CSV
    read runs (`start` and `stop` around each; reads on several threads share one hook).

    pyarrow decodes a row with too many or too few fields as UTF-8 before calling the
    handler. When its bytes are not UTF-8 (a cp1252 export read as utf-8), the decoding fails
    inside pyarrow, where Python can only print it ("Exception ignored in ... Traceback" on
    stderr), and Arrow stops the read at that row. This unraisable-exception hook keeps the
    row's bytes on its reader instead, which then stops with an error naming the encoding and
    the line. Every other unraisable exception goes to the hook that was there before.
    """

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._reads = 0
        self._before: Callable[[Any], Any] = sys.unraisablehook

    def start(self) -> None:
        with self._lock:
            if sys.unraisablehook != self._hook:  # (put back by code that had saved it: kept)
                self._before, sys.unraisablehook = sys.unraisablehook, self._hook
            self._reads += 1

    def stop(self) -> None:
        with self._lock:
            self._reads -= 1
            if self._reads == 0 and sys.unraisablehook == self._hook:
                sys.unraisablehook = self._before

    def _hook(self, unraisable: Any) -> None:
        handler = unraisable.object
        reader = getattr(handler, "__self__", None)
        if (
            isinstance(reader, SourceReader)
            and getattr(handler, "__func__", None) is SourceReader._bad_row
            and isinstance(unraisable.exc_value, UnicodeDecodeError)
        ):
            reader._undecodable_row = unraisable.exc_value
            return
        self._before(unraisable)


_undecodable_rows = _UndecodableRows()


def _conversion_failed(exc: Exception) -> bool:
    return "CSV conversion error" in str(exc)


def _failed_columns(exc: Exception, header: Sequence[str], types: dict[str, Any]) -> set[str]:
    """The number or timestamp column Arrow could not convert ("In CSV column #3: ..."), or
    all of them if it does not say; none when the failing column is text (bad bytes)."""
    import re

    import pyarrow as pa

    strict = {c for c, t in types.items() if pa.types.is_floating(t) or pa.types.is_timestamp(t)}
    found = re.search(r"CSV column #(\d+)", str(exc))
    if found and int(found.group(1)) < len(header):
        return strict & {header[int(found.group(1))]}
    return strict


class _NotFinite(Exception):
    """A float column holds NaN or infinity (raised on the parse thread, see `_finite`)."""

    def __init__(self, columns: set[str]) -> None:
        super().__init__(columns)
        self.columns = columns


def _finite(batches: Iterable[pa.RecordBatch], floats: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The batches, checked for NaN and infinity in their float columns.

    Those parse as numbers, but the text rules call them blank or not a number, so a float
    column holding one is read again as text. One sum per column tells (NaN and inf propagate;
    a sum that overflows only sends the column to the slower, equal, text rules).
    """
    import math

    for batch in batches:
        bad = {c for c in floats if not math.isfinite(_slot_sum(batch.column(c)))}
        if bad:
            raise _NotFinite(bad)
        yield batch


def _slot_sum(column: pa.Array) -> float:
    """The sum of a float column's value slots as stored, blank cells' slots included.

    Arrow's CSV reader leaves zeros in the slots of blank cells; were one to hold anything
    else, the column would only go to the text rules, as for an overflow. numpy sums the slots
    ten times faster than Arrow's sum, which skips blanks one by one (0.39 against 0.04 ms a
    column per frame, on the parse thread that paces the whole read: the benchmark's survey
    job 0.04 s faster). An overflow or inf - inf is an answer here, not a warning.
    """
    import numpy as np

    dtype = np.dtype(column.type.to_pandas_dtype())
    if dtype.kind != "f":
        raise TypeError(f"_slot_sum takes a float column, not {column.type}")
    if not len(column):
        return 0.0
    slots = np.frombuffer(
        column.buffers()[1], dtype=dtype, count=len(column), offset=column.offset * dtype.itemsize
    )
    with np.errstate(over="ignore", invalid="ignore"):
        return float(slots.sum())


def _ids_cleaned(batches: Iterable[pa.RecordBatch], ids: set[str]) -> Iterator[pa.RecordBatch]:
    """The batches with their id-only columns cleaned (`coerce.clean_ids`): run by `prefetched`
    on the parse thread, where Arrow's compute functions overlap the main thread's work."""
    for batch in batches:
        for column in ids:
            where = batch.schema.get_field_index(column)
            batch = batch.set_column(where, column, coerce.clean_ids(batch.column(where)))
        yield batch


def _looks_like_parquet(head: bytes) -> bool:
    """Parquet's magic, then a binary byte (its first page header): no CSV starts so."""
    return head.startswith(PARQUET_MAGIC) and len(head) > 4 and not 32 <= head[4] < 127


def _taken(batches: Iterable[pa.RecordBatch], paced: files.Paced) -> Iterator[pa.RecordBatch]:
    """Arrow's batches, one per block, each telling `paced` that its block is used."""
    for batch in batches:
        paced.used()
        yield batch


def _skipping(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches without their first `rows` rows (already handed on by an earlier read)."""
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows) if rows else batch
        rows = 0


def prefetched(batches: Iterable[T], depth: int) -> Iterator[T]:
    """The items of `batches`, produced ahead on a second thread.

    Arrow parses (and converts) a CSV block only when asked, and releases the GIL while it
    does, as do its compute functions, so running the Arrow-only stages (parsing, checks,
    joining blocks into frames) on another thread overlaps them with the cleaning and
    tallying of the current frame, and with the import of pandas at the first one. At most
    `depth` items wait in the queue, so memory stays bounded. Errors are raised in the
    caller, after the items produced before them.
    """
    import queue
    import threading

    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        waiting.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            waiting.put(("end", None))
        except BaseException as exc:  # handed to the caller, raised there
            waiting.put(("error", exc))

    worker = threading.Thread(target=produce, name="cxkpi-reader", daemon=True)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(GIL_SWITCH_SECONDS)  # hand each parsed block over promptly
    worker.start()
    try:
        while True:
            kind, item = waiting.get()
            if kind == "end":
                return
            if kind == "error":
                try:
                    raise item
                finally:
                    del item  # else this frame, the error and its traceback form a cycle
            yield item
    finally:
        sys.setswitchinterval(switch)
        stop.set()
        while worker.is_alive():
            try:
                waiting.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def _framed(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Arrow's small blocks joined into frames of about `size` bytes (per-frame costs are
    paid once per frame); run on the parse thread, like the other stages before `prefetched`."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.nbytes
        if held >= size:
            yield from _joined(pending)
            pending, held = [], 0
    yield from _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches' rows as one record batch (none if they hold no rows)."""
    import pyarrow as pa

    batches = [b for b in batches if b.num_rows]
    if len(batches) == 1:
        yield batches[0]
    elif batches:
        yield from pa.Table.from_batches(batches).combine_chunks().to_batches()


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


def read_header(path: str | Sequence[str], spec: SourceSpec) -> list[str]:
    """The header of a source's (first) file, for hints; empty when it cannot be read."""
    try:
        first = files.expand(path, "?")[0]
        if files.is_parquet(first):
            import pyarrow.parquet as pq

            return list(pq.read_schema(first).names)
        reader = SourceReader("?", spec, first, ())
        opened, _, header = reader._open(first)
        opened.close()
        return header
    except (InputError, ConfigError, OSError):
        return []
    except Exception:  # a hint is never worth a crash (e.g. a Parquet file that is not one)
        return []


__all__ = ["SEGMENT_PREFIX", "SourceQuality", "SourceReader", "Window", "read_header"]
