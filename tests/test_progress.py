"""The read progress bar: only on a terminal, only once a read has taken about two seconds."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cx_cli.cli import app
from cx_cli.progress import ReadProgress, wanted
from tests.conftest import survey_config, write_config


class FakeClock:
    """A clock the test moves by hand, so no test depends on real time."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_appears_only_after_the_delay_and_shows_rows_and_bytes() -> None:
    clock, screen = FakeClock(), Terminal()
    with ReadProgress(True, clock=clock, file=screen) as bar:
        update = bar.for_source("surveys")
        assert update is not None
        update(1_000, 50_000, 200_000)
        assert screen.getvalue() == ""  # a quick read draws nothing
        clock.now += 2.5
        update(4_000, 150_000, 200_000)
        bar._bar.refresh()
        drawn = screen.getvalue()
    assert "surveys" in drawn
    assert "4,000 rows" in drawn


def test_the_first_frame_shows_the_bytes_read_and_the_time_since_the_read_began() -> None:
    """Rows were carried into the bar's first frame but bytes were not (0.0 MB, then a jump
    that inflated the rate), and its clock started ~2 s into the read (scale test 5)."""
    clock, screen = FakeClock(), Terminal()
    with ReadProgress(True, clock=clock, file=screen) as bar:
        update = bar.for_source("orders")
        assert update is not None
        clock.now += 65.0
        update(7_000_000, 650_000_000, 886_000_000)
        (task,) = bar._bar.tasks
        assert task.completed == 650_000_000
        bar._bar.refresh()
        drawn = screen.getvalue()
    assert "650.0/886.0 MB" in drawn
    assert "0:01:05" in drawn


def test_a_finished_read_keeps_its_time_while_the_next_source_reads() -> None:
    clock, screen = FakeClock(), Terminal()
    with ReadProgress(True, clock=clock, file=screen) as bar:
        first = bar.for_source("surveys")
        assert first is not None
        clock.now += 5.0
        first(1_000, 200_000, 200_000)  # read through after 5 s
        second = bar.for_source("orders")
        assert second is not None
        clock.now += 600.0
        second(9_000, 100_000, 900_000)
        (done, _) = bar._bar.tasks
        column = bar._bar.columns[-1]
        assert str(column.render(done)) == "0:00:05"  # not 0:10:05


def test_no_bar_when_disabled() -> None:
    assert ReadProgress(False).for_source("surveys") is None


@pytest.mark.parametrize(
    ("quiet", "tty", "term", "expected"),
    [
        (False, True, "xterm", True),
        (True, True, "xterm", False),  # -q silences it
        (False, False, "xterm", False),  # cron, pipes
        (False, True, "dumb", False),
    ],
)
def test_a_bar_is_wanted_only_on_an_interactive_terminal(
    monkeypatch: pytest.MonkeyPatch, quiet: bool, tty: bool, term: str, expected: bool
) -> None:
    monkeypatch.setenv("TERM", term)
    stream = Terminal() if tty else io.StringIO()
    assert wanted(quiet, stream) is expected


def test_a_report_in_a_pipe_writes_nothing_but_the_report(
    tmp_path: Path, tiny_survey: Path
) -> None:
    config = write_config(tmp_path, survey_config(tiny_survey, period="month"))
    result = CliRunner().invoke(app, ["report", "-c", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no bar, no warnings: CliRunner's stderr is not a terminal
    assert result.stdout.lstrip().startswith("{")


class Recorder:
    """Stands in for the bar: which sources asked for a callback, and the last rows each saw."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Bars wanted unless -q; each source's callback records its rows."""
        import cx_cli.progress

        def for_source(bar: ReadProgress, source: str) -> Any:
            if not bar.enabled:
                return None

            def update(rows: int, done: int, total: int | None) -> None:
                self.rows[source] = rows

            return update

        monkeypatch.setattr(cx_cli.progress, "wanted", lambda quiet, stream: not quiet)
        monkeypatch.setattr(cx_cli.progress.ReadProgress, "for_source", for_source)


@pytest.mark.parametrize(
    ("args", "sources"),
    [
        (["report", "--kpi", "repeat_rate,churn"], {"orders", "subscriptions"}),
        (["cohort", "--source", "orders"], {"orders"}),
        (["validate"], {"surveys", "tickets", "orders", "subscriptions", "web", "spend"}),
    ],
)
def test_every_reading_command_reports_read_progress(
    monkeypatch: pytest.MonkeyPatch, args: list[str], sources: set[str]
) -> None:
    """report, cohort and validate all hand their readers the bar's callback (and -q none)."""
    recorder = Recorder()
    recorder.patch(monkeypatch)
    config = str(Path(__file__).parent.parent / "config.example.yaml")
    result = CliRunner().invoke(app, [*args, "-c", config, "-f", "json"])
    assert result.exit_code == 0, result.output
    assert set(recorder.rows) == sources
    assert all(rows > 0 for rows in recorder.rows.values())
    recorder.rows.clear()
    result = CliRunner().invoke(app, [*args, "-c", config, "-f", "json", "-q"])
    assert result.exit_code == 0, result.output
    assert recorder.rows == {}


class Trickle(io.RawIOBase):
    """A pipe that hands over its bytes a few at a time, as a slow download or `ssh ... cat`."""

    def __init__(self, data: bytes, piece: int) -> None:
        self.data, self.piece = data, piece

    def readable(self) -> bool:
        return True

    def read1(self, size: int = -1) -> bytes:
        taken = min(self.piece, len(self.data), size if size >= 0 else len(self.data))
        piece, self.data = self.data[:taken], self.data[taken:]
        return piece


def test_bytes_count_up_as_they_arrive_within_one_read() -> None:
    """A block Arrow asks for arrives in pieces: each moves the count; the block is whole."""
    import hashlib

    from cx_cli.files import HashingReader

    data = bytes(range(256)) * 4
    reader = HashingReader(Trickle(data[4:], piece=100), prefix=data[:4])  # type: ignore[arg-type]
    seen: list[int] = []
    reader.on_read = seen.append
    assert reader.read(4) == data[:4]  # the peeked prefix, counted when the file opened
    assert reader.read(500) == data[4:504]
    assert seen == [104, 204, 304, 404, 504]
    assert reader.read() == data[504:]  # a read to the end
    assert seen[-1] == len(data) == reader.size
    assert reader.digest.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_read_reports_its_bytes_before_its_first_frame(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_survey: Path
) -> None:
    """The bar's bytes move while the first frame is still being read (rows still 0)."""
    import cx_cli.progress

    calls: list[tuple[int, int, int | None]] = []

    def for_source(bar: ReadProgress, source: str) -> Any:
        return lambda rows, done, total: calls.append((rows, done, total))

    monkeypatch.setattr(cx_cli.progress, "wanted", lambda quiet, stream: not quiet)
    monkeypatch.setattr(cx_cli.progress.ReadProgress, "for_source", for_source)
    config = write_config(tmp_path, survey_config(tiny_survey, period="month"))
    result = CliRunner().invoke(app, ["report", "-c", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output
    size = tiny_survey.stat().st_size
    assert calls[0] == (0, size, size)  # the whole small file, before any row is parsed
    assert calls[-1] == (10, size, size)


def test_the_bar_never_moves_back_and_a_bar_that_fails_stops_quietly() -> None:
    """Frames report the bytes read when they were handed on, after the reading thread
    reported more: the bar keeps the larger. A terminal that fails to draw (gone away)
    leaves the read alone (review 20: the error was reported as a broken input file)."""
    clock, screen = FakeClock(), Terminal()
    with ReadProgress(True, clock=clock, file=screen) as bar:
        update = bar.for_source("surveys")
        assert update is not None
        clock.now += 2.5
        update(0, 200_000, 400_000)
        update(1_000, 150_000, 400_000)  # a frame's older byte count
        (task,) = bar._bar.tasks
        assert (task.completed, task.fields["rows"]) == (200_000, 1_000)

        def broken(*args: Any, **kwargs: Any) -> None:
            raise OSError(5, "Input/output error")

        bar._bar.update = broken
        update(2_000, 300_000, 400_000)  # does not raise
        update(3_000, 350_000, 400_000)  # nor try again
        assert bar._broken
