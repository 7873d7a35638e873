"""The `cxkpi` console script: `cxkpi kpis [NAME]` answered at once, everything else by Typer.

Listing the KPIs is what scripts and shell users run most often, and it should feel instant.
Building Typer's command line costs more than the answer itself (Typer imports pydantic to
coerce any non-flag option, ~0.1 s), so the plain `cxkpi kpis` and `cxkpi kpis NAME` print the
catalogue without it. Any other arguments, and any NAME the catalogue does not know, go through
Typer, so help, errors and exit codes are Typer's in every case.

The script ends with `exit_now`: once a command has flushed its output and run the atexit
handlers, the process exits without the interpreter's teardown, which alone took ~0.15 s.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING

from cx_cli import startup

if TYPE_CHECKING:
    from typing import Any


def console() -> None:
    """The `cxkpi` console script and `python -m cx_cli`: `main`, then a quick exit.

    Commands turn every error into an `error:` line; an OSError that still reaches here comes
    from Typer writing help, a version or a usage message to a stream that cannot take it.
    """
    startup.one_blas_thread()
    startup.pause_collection()
    try:
        main()
    except SystemExit as exc:
        exit_now(exc.code)
        raise
    except OSError as exc:
        if "--debug" in sys.argv:
            raise
        code = _unwritten(exc)
        exit_now(code)
        raise SystemExit(code) from None
    exit_now(0)


def _unwritten(exc: OSError) -> int:
    """The exit code for output that could not be written: 0 when the reader has gone
    (`cxkpi --help | head -1`), else 1, said on stderr if it can be."""
    from cx_cli.output import silence_stdout

    silence_stdout()
    if isinstance(exc, BrokenPipeError):
        return 0
    _say(_error_lines(exc))
    return 1


def _error_lines(exc: OSError) -> str:
    from cx_cli.output import stdout_error

    error = stdout_error(exc)
    return f"error: {error.message}\nhint: {error.hint}\n"


def _say(text: str) -> None:
    """Write to stderr if it can be written at all."""
    with contextlib.suppress(Exception):
        sys.stderr.write(text)
        sys.stderr.flush()


def main() -> None:
    """The command line, as a function (it returns, or raises SystemExit with the exit code)."""
    if not _catalogue(sys.argv[1:]):
        from cx_cli.cli import main as typer_main

        typer_main()


def exit_now(code: object) -> None:
    """End the process with `code` once output is flushed and atexit handlers have run.

    The interpreter's own teardown (freeing pandas' and pyarrow's modules and objects) takes
    ~0.15 s, more than a small report's work, and a finished command needs none of it: files
    are already written (atomically) and closed. Returns, for a normal exit, when the code is
    not a number or a non-daemon thread is still running (it would be joined).
    """
    import atexit
    import threading

    code = 0 if code is None else code
    if not isinstance(code, int):
        return
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    atexit._run_exitfuncs()  # before the flush, as the interpreter does: they may print
    if not _flushed(sys.stdout) and code == 0:
        code = 1
    _flushed(sys.stderr)
    os._exit(code)


def _flushed(stream: Any) -> bool:
    """Flush a standard stream; False when what it still held could not be written.

    The command flushes its own output (`output.write_stdout`), so little is left here. A
    stream closed when the process started is None; a reader that has gone (`| head`) took
    what it wanted; any other failure is said on stderr, if it can be.
    """
    if stream is None:
        return True
    try:
        stream.flush()
    except BrokenPipeError:
        return True
    except ValueError:  # closed by the command
        return True
    except OSError as exc:
        if stream is not sys.stderr:
            _say(_error_lines(exc))
        return False
    return True


def _catalogue(args: list[str]) -> bool:
    """Print the KPI list or one KPI's description for exactly `kpis [NAME]`; False otherwise."""
    if not args or args[0] != "kpis" or len(args) > 2 or any(a.startswith("-") for a in args):
        return False
    from cx_cli.errors import CxError
    from cx_cli.output import write_stdout
    from cx_cli.render.catalogue import describe_kpi, list_kpis

    try:
        text = list_kpis() if len(args) == 1 else describe_kpi(args[1])
    except CxError:
        return False  # Typer reports it, with its usage line and exit code
    try:
        write_stdout(text)
    except CxError as exc:
        _say(f"error: {exc.message}\n" + (f"hint: {exc.hint}\n" if exc.hint else ""))
        raise SystemExit(exc.exit_code) from None
    return True
