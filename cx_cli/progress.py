"""A progress bar on stderr for long reads: rows read, bytes, rate. Terminals only.

Bytes move as they arrive (a slow pipe or download too), rows with each parsed frame.

The bar appears only once a source has been reading for `delay` seconds (about two), so quick
runs print nothing; in cron, pipes and with `-q` there is no bar at all. It goes to stderr,
never stdout, and vanishes when the read ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import IO, Any

DELAY_SECONDS = 2.0

Update = Callable[[int, int, "int | None"], None]


class ReadProgress:
    """Hands each source a callback `(rows, bytes, total bytes)`; draws a bar once a read
    is slow."""

    def __init__(
        self,
        enabled: bool,
        *,
        delay: float = DELAY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        file: IO[str] | None = None,
    ) -> None:
        self.enabled = enabled
        self.delay = delay
        self.clock = clock
        self.file = file
        self._bar: Any = None
        self._lock = threading.Lock()
        self._broken = False  # drawing failed once (a terminal gone): no more tries

    def __enter__(self) -> ReadProgress:
        return self

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def for_source(self, source: str) -> Update | None:
        """The callback for one source's reader, or None when no bar may be drawn."""
        if not self.enabled:
            return None
        started = self.clock()
        task: Any = None
        shown = 0  # bytes: frames report what was read when they were handed on, so never back

        def update(rows: int, done: int, total: int | None) -> None:
            nonlocal task, shown
            with self._lock:  # the reader's thread and the main thread both call it
                if self._broken:
                    return
                shown = max(shown, done)
                try:
                    if task is None:
                        if self.clock() - started < self.delay:
                            return
                        # with the bytes already read and the read's own start, so the
                        # first frame shows them and the rate is not of one jump from 0
                        task = self._progress().add_task(
                            source, total=total, completed=shown, rows=rows, since=started
                        )
                    done_at = self.clock() if total is not None and shown >= total else None
                    self._bar.update(task, completed=shown, rows=rows, until=done_at)
                except Exception:  # a bar that cannot be drawn must not stop the read
                    self._broken = True

        return update

    def _progress(self) -> Any:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                ProgressColumn,
                TextColumn,
                TransferSpeedColumn,
            )
            from rich.text import Text

            clock = self.clock

            class SinceStart(ProgressColumn):
                """Time since the read started, not since the bar appeared (~2 s later),
                until it has read every byte."""

                def render(self, task: Any) -> Text:
                    end = task.fields.get("until") or clock()  # stopped once read through
                    seconds = int(max(0.0, end - task.fields["since"]))
                    hours, rest = divmod(seconds, 3600)
                    clock_text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
                    return Text(clock_text, style="progress.elapsed")

            console = Console(file=self.file, stderr=self.file is None)
            self._bar = Progress(
                TextColumn("reading [bold]{task.description}[/]"),
                BarColumn(),
                TextColumn("{task.fields[rows]:,} rows"),
                DownloadColumn(),
                TransferSpeedColumn(),
                SinceStart(),
                console=console,
                transient=True,
            )
            self._bar.start()
        return self._bar


def wanted(quiet: bool, stream: IO[str] | None) -> bool:
    """A bar only on an interactive terminal, never with -q or TERM=dumb (nor on a stream the
    process started without: None)."""
    import os

    return not quiet and stream is not None and stream.isatty() and os.environ.get("TERM") != "dumb"
