"""`files.Paced`: how far Arrow's reading thread may get ahead of the parse, alone and as
the CSV reader uses it.

Each test reads from a plain in-memory stream on a thread of its own and checks where that
read stands (waiting or done) after the calls that should hold or free it. The waits are
generous (a read that should finish has 10 s); nothing here measures speed.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cx_cli import files, load_config, run, sources
from cx_cli.files import Paced
from tests.conftest import survey_config, write_config, write_csv

DATA = b"0123456789abcdefghij"


class Reading:
    """One `read(size)` of a stream, started on a thread."""

    def __init__(self, stream: Paced, size: int) -> None:
        self.got: bytes | None = None
        self.thread = threading.Thread(target=self._read, args=(stream, size), daemon=True)
        self.thread.start()

    def _read(self, stream: Paced, size: int) -> None:
        self.got = stream.read(size)

    def waiting(self) -> bool:
        self.thread.join(timeout=0.2)
        return self.thread.is_alive()

    def done(self) -> bytes | None:
        self.thread.join(timeout=10)
        return None if self.thread.is_alive() else self.got


def test_a_read_past_the_limit_waits_until_a_block_is_used() -> None:
    paced = Paced(io.BytesIO(DATA), ahead=2, patience=60)
    assert paced.read(4) == b"0123"
    assert paced.read(4) == b"4567"
    third = Reading(paced, 4)
    assert third.waiting()  # two reads out, none used
    paced.used()
    assert third.done() == b"89ab"  # the bytes in order, none skipped by the wait


def test_release_frees_a_waiting_read_and_every_later_one() -> None:
    paced = Paced(io.BytesIO(DATA), ahead=1, patience=60)
    assert paced.read(5) == b"01234"
    second = Reading(paced, 5)
    assert second.waiting()
    paced.release()
    assert second.done() == b"56789"
    assert paced.read(5) == b"abcde"  # no longer paced, though nothing was used


def test_a_read_that_sees_no_block_used_for_its_patience_goes_through() -> None:
    """The safety valve: a parse that needs more reads than expected is slowed, not stuck;
    the reads so far then count as used, so the next `ahead` reads do not wait again."""
    paced = Paced(io.BytesIO(DATA), ahead=2, patience=0.05)
    assert paced.read(4) + paced.read(4) == b"01234567"
    assert Reading(paced, 4).done() == b"89ab"
    assert paced.stalls == 1
    assert paced.read(4) == b"cdef"  # one read after the stall: within the limit again
    assert paced.stalls == 1


def test_skipped_rows_before_the_first_batch_count_as_blocks_used() -> None:
    """Arrow gives no batch for the blocks of bad rows it skips before its first one."""
    paced = Paced(io.BytesIO(DATA), ahead=2, block=4, patience=60)
    assert paced.read(4) + paced.read(4) == b"01234567"  # two blocks of skipped rows
    paced.skipped(3)
    paced.skipped(5)  # 8 bytes: two blocks
    assert paced.read(4) == b"89ab"  # no wait
    paced.used()  # the first batch
    paced.skipped(100)  # later skipped rows leave their blocks' batches to say so
    assert paced.read(4) + paced.read(4) == b"cdefghij"  # 4 reads, 3 used: then 2 ahead
    assert Reading(paced, 4).waiting()
    paced.release()


def test_used_blocks_let_reads_continue_without_waiting() -> None:
    paced = Paced(io.BytesIO(DATA), ahead=1, patience=60)
    pieces = []
    for _ in range(5):
        pieces.append(paced.read(4))
        paced.used()
    assert b"".join(pieces) == DATA
    assert paced.read(4) == b""  # the end, as the stream says it


class Recorded(Paced):
    """`Paced` as the reader makes it, noting how far ahead reads got."""

    made: ClassVar[list[Recorded]] = []

    def __init__(self, stream: Any, ahead: int, block: int = 0, patience: float = 1.0) -> None:
        super().__init__(stream, ahead, block, patience=1.0)
        self.limit, self.most_ahead = ahead, 0
        Recorded.made.append(self)

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.most_ahead = max(self.most_ahead, self._reads - self._used)
        return data


def test_a_csv_read_in_many_blocks_stays_within_the_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64-byte batches give 64-byte Arrow blocks: 300 answers in some 200 blocks, each parsed
    block marked used, so Arrow's reads stay at most READ_AHEAD_BLOCKS (here 4) ahead, every
    wait ends with a block used, and the figures are those of one whole read. (Arrow takes
    the first blocks before handing on any batch: the header and a row that straddles them
    need three reads at this block size, hence 4, not fewer.)"""
    rows = [
        (
            i,
            f"2024-0{1 + i % 3}-{1 + i % 28:02d} 10:00",
            f"c{i % 40}",
            "web",
            i % 11,
            1 + i % 5,
            1 + i % 7,
        )
        for i in range(300)
    ]
    csv_path = write_csv(tmp_path / "answers.csv", rows)
    monkeypatch.setattr(sources, "READ_AHEAD_BLOCKS", 4)
    monkeypatch.setattr(files, "Paced", Recorded)
    Recorded.made.clear()
    config = load_config(write_config(tmp_path, survey_config(csv_path)))
    paced = run(config, batch_bytes=64)
    assert len(Recorded.made) == 1
    (recorded,) = Recorded.made
    assert recorded.limit == 4
    assert recorded._reads > 100
    assert recorded.most_ahead == 4  # reached, never passed
    assert recorded.stalls == 0  # every wait ended by a block used
    monkeypatch.setattr(files, "Paced", Paced)
    whole = run(config)
    assert [(r.kpi, r.value, r.n) for r in paced.results] == [
        (r.kpi, r.value, r.n) for r in whole.results
    ]


def test_bad_rows_skipped_before_the_first_batch_do_not_stall_the_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 rows with two fields too many open the file (~3.6 KB, some 56 blocks of 64 bytes
    that give Arrow no batch) and `bad_rows: skip` drops them: their bytes count as blocks
    used, so no read waits out its patience (without that, 7 did at 8 blocks ahead), and the
    figures are those of the good rows. The header's block and the rows cut by block ends
    are not counted: 6 blocks ahead leave room for them at this block size."""
    ragged = [(*range(9),)] * 200
    good = [(i, f"2024-01-{1 + i % 28:02d} 10:00", f"c{i}", "web", i % 11, 3, 4) for i in range(50)]
    csv_path = write_csv(tmp_path / "answers.csv", [*ragged, *good])
    document = survey_config(csv_path)
    document["sources"]["surveys"]["bad_rows"] = "skip"
    monkeypatch.setattr(sources, "READ_AHEAD_BLOCKS", 6)
    monkeypatch.setattr(files, "Paced", Recorded)
    Recorded.made.clear()
    report = run(load_config(write_config(tmp_path, document)), batch_bytes=64)
    (recorded,) = Recorded.made
    assert recorded._reads > 56
    assert recorded.stalls == 0
    (nps,) = [r for r in report.results if r.kpi == "nps" and not r.segment and not r.period]
    assert nps.n == 50
