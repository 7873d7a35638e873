"""Where a source's bytes come from: one file, a glob or a list of files, stdin, or a URL.

A source's `path` may name several files (a year of monthly exports); they are read in sorted
order as if they were one file. Compressed files (gzip, bzip2, zstd) are recognised by their
first bytes, not their names, so stdin may be compressed too. `.parquet` files and folders of
them are Parquet; anything else is CSV. URLs (`s3://...`, `memory://...`) are opened with fsspec,
which the `dask` extra installs.
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cx_cli.errors import ConfigError, InputError

COMPRESSION_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\x28\xb5\x2f\xfd": "zstd"}
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
CSV_SUFFIXES = tuple(
    f".{kind}{packed}" for kind in ("csv", "tsv") for packed in ("", ".gz", ".bz2", ".zst")
)
GLOB_CHARS = "*?["
READ_CHUNK = 1 << 20


def total_size(paths: Sequence[str]) -> int | None:
    """Bytes of all the files as stored, or None when one is stdin or a URL."""
    if any(p == "-" or is_url(p) for p in paths):
        return None
    try:
        return sum(os.path.getsize(p) for p in paths)
    except OSError:
        return None


def is_url(path: str) -> bool:
    return "://" in path


def is_parquet(path: str) -> bool:
    return path.lower().endswith(PARQUET_SUFFIXES)


def display(path: str | Sequence[str]) -> str:
    """A source's path as users wrote it: the glob or file, or the list joined."""
    return path if isinstance(path, str) else ", ".join(path)


# What a source's path may name, for errors about a folder.
WHAT_TO_NAME = "name a file, a glob such as exports/*.csv, or a folder of .parquet files"


def expand(path: str | Sequence[str], source: str) -> list[str]:
    """The files a source's path names, in reading order: globs sorted, folders -> Parquet.

    A file that exists is read as it is, even if its name holds glob characters
    (`Survey export [2025].csv`). A file named by several entries (overlapping globs in a list)
    is read once, where it first appears: a list is the union of its entries.
    """
    items = [path] if isinstance(path, str) else list(path)
    if not items:
        raise InputError(f"source '{source}': the path list is empty", hint="name a file")
    files: list[str] = []
    for item in items:
        if item == "-":
            files.append(item)
        elif is_url(item):
            files.extend(_expand_url(item, source))
        elif os.path.isfile(item):
            files.append(item)
        elif any(c in item for c in GLOB_CHARS):
            files.extend(_glob(item, source))
        elif os.path.isdir(item):
            files.extend(_parquet_in(item, source))
        else:
            files.append(_not_a_pipe(item, source))
    return _once_each(files)


def _glob(pattern: str, source: str) -> list[str]:
    """The files a pattern matches, sorted. A folder it matches is read when its name says
    Parquet (Spark writes `part.parquet/` folders of parts) and passed over otherwise (`**`
    matches every folder); anything else that is no file (a dangling link, a pipe) stops the
    read, as it would when named alone: leaving it out would leave out its rows unsaid."""
    matches: list[str] = []
    parquet_folders: list[str] = []  # read whole: `**` also matches what is inside them
    for match in sorted(glob.glob(pattern, recursive=True)):
        if any(match.startswith(folder) for folder in parquet_folders):
            continue  # a part (or a writer's _SUCCESS) of a folder read already
        if os.path.isfile(match):
            matches.append(match)
        elif os.path.isdir(match) and is_parquet(match.rstrip("/\\")):
            matches.extend(_parquet_in(match, source))
            parquet_folders.append(os.path.join(match, ""))
        elif os.path.isdir(match):
            continue
        elif os.path.lexists(match) and not os.path.exists(match):
            raise InputError(
                f"{match}: a link to a file that does not exist, matched by {pattern} "
                f"(source '{source}')",
                hint="restore the file it points to, remove the link, or narrow the pattern",
            )
        else:
            matches.append(_not_a_pipe(match, source))
    if not matches:
        _check_listable(pattern, source)
        raise InputError(
            f"{pattern}: no files match (source '{source}')",
            hint="check the pattern; a relative pattern is relative to the config "
            "file's folder (to the current folder when given with --input); "
            "[ ] * ? are pattern characters: write [[] to match a [",
        )
    return matches


def _check_listable(pattern: str, source: str) -> None:
    """Say so when the folder a pattern looks in cannot be listed: glob then matches nothing,
    and "no files match" would hide the reason."""
    fixed = pattern[: min((pattern.index(c) for c in GLOB_CHARS if c in pattern), default=0)]
    folder = os.path.dirname(fixed) or "."
    if os.path.isdir(folder) and not os.access(folder, os.R_OK | os.X_OK):
        raise InputError(
            f"{folder}: cannot be listed (permission denied) for {pattern} (source '{source}')",
            hint="give this user read access to the folder, or copy the exports elsewhere",
        )


def _not_a_pipe(path: str, source: str) -> str:
    """The path, unless it names a pipe or device (`<(zcat ...)`, a FIFO), which cxkpi would
    have to read twice (the header for checks, then the rows): those go on stdin."""
    if os.path.exists(path) and not os.path.isfile(path):
        raise InputError(
            f"{path}: is a pipe or device, not a file (source '{source}')",
            hint=f"send it to stdin instead, as --input {source}=- (e.g. zcat export.csv.gz | "
            f"cxkpi report --input {source}=-); gzip, bzip2 and zstd files can be named as "
            "they are",
        )
    return path


def _once_each(paths: list[str]) -> list[str]:
    """The paths without repeats of the same file (same absolute path), first place kept."""
    seen: set[str] = set()
    kept = []
    for p in paths:
        key = p if p == "-" or is_url(p) else os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            kept.append(p)
    return kept


def _parquet_in(folder: str, source: str) -> list[str]:
    """A folder's Parquet files (in sub-folders too). Other files are left, as a writer's
    `_SUCCESS` or `.crc` are, except CSV exports: those were meant to be read, and leaving
    them would leave out their rows without a word."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    found = [str(p) for p in files if is_parquet(p.name)]
    if not found:
        raise InputError(
            f"{folder}: is a folder with no Parquet files in it (source '{source}')",
            hint=WHAT_TO_NAME,
        )
    _no_csv_beside(folder, [p.name for p in files], source)
    return found


def _no_csv_beside(folder: str, names: Sequence[str], source: str) -> None:
    """Refuse a Parquet folder that also holds CSV exports (see `_parquet_in`)."""
    csv = [name for name in names if name.lower().endswith(CSV_SUFFIXES)]
    if csv:
        raise InputError(
            f"{folder}: holds Parquet files and CSV files ({csv[0]}{', ...' * (len(csv) > 1)}); "
            f"a folder is read as Parquet only (source '{source}')",
            hint="move the CSV files aside, or list every file to read under path:",
        )


# A URL's file is opened where the read runs: with --engine dask, on a worker.
URL_HINT = (
    "check the URL and your access to it (credentials, network); with --engine dask each "
    "worker opens the file itself, so it must reach it too (memory:// is one process's own)"
)


def _fsspec(url: str) -> Any:
    try:
        import fsspec
    except ImportError:
        raise ConfigError(
            f"{url}: reading URLs needs fsspec",
            hint="pip install 'cxkpi[dask]' (it brings fsspec); s3:// also needs s3fs, "
            "gs:// gcsfs, abfs:// adlfs",
        ) from None
    return fsspec


def _expand_url(url: str, source: str) -> list[str]:
    fsspec = _fsspec(url)
    try:
        fs, _, paths = fsspec.get_fs_token_paths(url)
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"{url}: cannot open ({exc}) (source '{source}')",
            hint="s3:// needs s3fs, gs:// gcsfs, abfs:// adlfs (pip install ...); check the URL",
        ) from None
    if any(c in url for c in GLOB_CHARS):
        if not paths:
            raise InputError(
                f"{url}: no files match (source '{source}')",
                hint="check the URL and the pattern; [ ] * ? are pattern characters",
            )
        return [fs.unstrip_protocol(p) for p in sorted(paths)]
    if fs.isdir(paths[0]):
        inside = sorted(fs.find(paths[0]))
        found = [p for p in inside if is_parquet(p)]
        if not found:
            raise InputError(
                f"{url}: is a folder with no Parquet files in it (source '{source}')",
                hint=WHAT_TO_NAME,
            )
        _no_csv_beside(url, [PurePosixPath(p).name for p in inside], source)
        return [fs.unstrip_protocol(p) for p in found]
    return [url]


def open_raw(path: str, source: str) -> IO[bytes]:
    """The file's bytes as stored (stdin for `-`), or an InputError naming the file and fix."""
    if path == "-":
        if sys.stdin is None:  # the process was started with stdin closed (`<&-`)
            raise InputError(
                f"-: stdin is closed (source '{source}')",
                hint=f"pipe the export in, or pass --input {source}=PATH",
            )
        return sys.stdin.buffer
    where = f"source '{source}'"
    if is_url(path):
        try:
            return _fsspec(path).open(path, "rb").open()  # type: ignore[no-any-return]
        except FileNotFoundError:
            raise InputError(f"{path}: file not found ({where})", hint=URL_HINT) from None
        except OSError as exc:
            raise InputError(f"{path}: cannot be read ({exc}) ({where})", hint=URL_HINT) from None
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(
            f"{path}: file not found ({where})",
            hint="check the path (one in the config is relative to the config's folder, one "
            "given with --input to the current folder), "
            f"or pass --input {source}=PATH",
        ) from None
    except IsADirectoryError:
        raise InputError(
            f"{path}: is a folder, not a file ({where})",
            hint=WHAT_TO_NAME,
        ) from None
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror}) ({where})",
            hint="check that this user may read the file (its permissions, and its folder's)",
        ) from None


class Replay(io.RawIOBase):
    """Serves already-peeked bytes, then the rest of the stream."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def _more(self, size: int) -> bytes:
        """Bytes after the head (subclasses may look at them on the way)."""
        return self._rest.read(size)  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        """Bytes straight from the stream (no copy through a buffer: Arrow reads this way)."""
        if len(self._head):
            data = bytes(self._head if size < 0 else self._head[:size])
            self._head = self._head[len(data) :]
            return data
        return self._more(size)


class Paced(io.RawIOBase):
    """A stream whose reader may get at most `ahead` reads ahead of the blocks it has used.

    Arrow's streaming CSV reader reads on its own I/O thread up to 32 blocks ahead of the
    parse (the depth is not an option, ARROW-12090): at 2 MiB blocks, 64 MB of raw bytes
    waiting, a fifth of the survey job's peak memory. The parse thread calls `used` for
    each parsed block it takes, and a read waits while `ahead` reads are unused (Arrow reads
    one block per read; not so when it transcodes another encoding, which is not paced).

    Arrow drops the blocks before its first batch that hold no row (bad rows skipped, say):
    the reader reports the bytes of the rows it skips (`skipped`), and before the first
    batch each `block` of them counts as a block used. Whatever else leaves blocks unused,
    a wait that sees no block used for `patience` seconds lets its read through and counts
    every read so far as used, so a miscount costs one such wait per `ahead` reads, never a
    stop. `release` ends every wait for good (the read is stopping). The limit is memory's,
    so it is soft: with a consumer slower than `patience` per frame, Arrow's own 32 apply.
    """

    def __init__(self, stream: Any, ahead: int, block: int = 0, patience: float = 1.0) -> None:
        import threading

        self._stream = stream
        self._ahead = ahead
        self._block = block
        self._patience = patience
        self._reads = 0
        self._used = 0
        self._skipped = 0
        self._batches = False
        self._released = False
        self._changed = threading.Condition()
        self.stalls = 0  # reads let through for want of a block used (tests, diagnostics)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with self._changed:
            while self._reads - self._used >= self._ahead and not self._released:
                if not self._changed.wait(timeout=self._patience):
                    self.stalls += 1
                    self._used = self._reads
            self._reads += 1
        return self._stream.read(size)  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def used(self) -> None:
        """One more block has been parsed and taken (a batch from it)."""
        with self._changed:
            self._batches = True
            self._credit(1)

    def skipped(self, size: int) -> None:
        """`size` bytes of rows the parse dropped: before the first batch, their blocks give
        no batch, so each `block` of them counts as used."""
        if self._batches or self._block <= 0:
            return
        # Called for every bad row, so the lock (and waking the reads) waits for a whole
        # block; an update lost to a thread switch only delays a credit.
        self._skipped += size
        if self._skipped >= self._block:
            with self._changed:
                whole, self._skipped = divmod(self._skipped, self._block)
                self._credit(whole)

    def _credit(self, blocks: int) -> None:
        """Count `blocks` more as used (never more than were read) and wake the reads."""
        self._used = min(self._used + blocks, self._reads)
        self._changed.notify_all()

    def release(self) -> None:
        """Stop pacing: every waiting and later read goes through."""
        with self._changed:
            self._released = True
            self._changed.notify_all()


class HashingReader(Replay):
    """Passes a stream's bytes through, hashing and counting them (the file as stored).

    With `on_read` set (a progress bar is drawn), a read takes the bytes as they arrive and
    calls it with the count after each piece, so that a slow pipe or download shows its
    progress while Arrow waits for a whole block.
    """

    def __init__(self, raw: IO[bytes], prefix: bytes = b"") -> None:
        super().__init__(prefix, raw)
        self.digest = hashlib.sha256(prefix)
        self.size = len(prefix)
        self.on_read: Callable[[int], None] | None = None

    def _more(self, size: int) -> bytes:
        if self.on_read is None:
            return self._counted(self._rest.read(size))
        return self._piecewise(size, self.on_read)

    def _piecewise(self, size: int, on_read: Callable[[int], None]) -> bytes:
        """`size` bytes (all when negative), or fewer at the end, read as they arrive."""
        read_some = getattr(self._rest, "read1", self._rest.read)
        pieces: list[bytes] = []
        wanted = size if size >= 0 else -1
        while wanted:
            piece = self._counted(read_some(wanted if wanted > 0 else READ_CHUNK))
            if not piece:
                break
            pieces.append(piece)
            wanted = max(wanted - len(piece), 0) if wanted > 0 else -1
            on_read(self.size)
        return b"".join(pieces)

    def _counted(self, data: bytes) -> bytes:
        self.digest.update(data)
        self.size += len(data)
        return data

    def close(self) -> None:
        if self._rest is not getattr(sys.stdin, "buffer", None):
            self._rest.close()
        super().close()


@dataclass
class Opened:
    """A file opened for reading as text bytes: decompressed `stream`, hashed as stored."""

    stream: Any
    hashing: HashingReader
    compression: str | None

    def close(self) -> None:
        self.hashing.close()


def compression_of(magic: bytes) -> str | None:
    """gzip, bz2 or zstd when a file's first four bytes say so, else None."""
    if magic.startswith(b"BZh") and magic[3:4] not in b"123456789":
        return None  # "BZh" then a block size digit
    return next((c for m, c in COMPRESSION_MAGIC.items() if magic.startswith(m)), None)


def decompression_error(path: str, source: str | None, codec: str, exc: Exception) -> InputError:
    """A compressed file that cannot be read (`source` None: not read for a source, by init)."""
    of = f" (source '{source}')" if source else ""
    return InputError(
        f"{path}: cannot decompress it as {codec}{of}: {exc}",
        hint="the file looks compressed but is damaged or truncated: copy or export it again",
    )


def open_decompressed(path: str, source: str) -> Opened:
    """The file's bytes, decompressed when its first bytes say gzip, bzip2 or zstd."""
    raw = open_raw(path, source)
    magic = raw.read(4)
    hashing = HashingReader(raw, magic)
    codec = compression_of(magic)
    if codec is None:
        return Opened(hashing, hashing, None)
    import pyarrow as pa

    return Opened(pa.CompressedInputStream(hashing, codec), hashing, codec)


def read_head(stream: Any, size: int) -> bytes:
    """Up to `size` bytes from the start of a stream (raw streams may return short reads)."""
    parts: list[bytes] = []
    wanted = size
    while wanted > 0:
        data = stream.read(wanted)
        if not data:
            break
        parts.append(data)
        wanted -= len(data)
    return b"".join(parts)


def hash_file(path: str, source: str) -> tuple[str, int]:
    """sha256 and size of a file as stored (Parquet is read by range, so hashed apart)."""
    with HashingReader(open_raw(path, source)) as hashing:
        while hashing.read(READ_CHUNK):
            pass
        return hashing.digest.hexdigest(), hashing.size
