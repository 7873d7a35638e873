"""Writing a report: to stdout, or atomically to a file (temp file in the same folder + rename)."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cx_cli.errors import InputError


def write_output(text: str, output: str, read: Sequence[str | None] = ()) -> None:
    """Write `text` to stdout (`-`) or replace `output` atomically; never leave it half-written.

    `read` names the files the run read (its config, its exports): `-o` onto one of them is
    refused, as inputs are never modified. A replaced file keeps its permissions; a new one
    gets those the umask allows (not the temp file's owner-only mode)."""
    if output == "-":
        write_stdout(text)
        return
    target = Path(output)
    _refuse_inputs(target, read)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(
            f"cannot write {output}: folder {folder} does not exist",
            hint="create the folder first, or choose another -o path",
        )
    if target.is_dir():
        raise InputError(f"cannot write {output}: it is a folder", hint="name a file with -o")
    if target.exists() and not target.is_file():  # a named pipe or a device: write into it
        _write_into(text, target, output)
        return
    if target.is_symlink():  # replace the file the link points to, and keep the link
        target = target.resolve()
        folder = target.parent
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror}") from None
    try:
        os.chmod(temp, _mode_for(target))
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise InputError(
            f"cannot write {output}: {exc.strerror}; the previous file (if any) is unchanged"
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _refuse_inputs(target: Path, read: Sequence[str | None]) -> None:
    """An InputError when `target` is one of the files read (the config, an export)."""
    for path in read:
        if path and path != "-" and os.path.exists(path) and target.exists():
            with contextlib.suppress(OSError):
                if os.path.samefile(target, path):
                    raise InputError(
                        f"cannot write {target}: it is a file this run read ({path}); "
                        "inputs are never overwritten",
                        hint="choose another -o path",
                    )


def _mode_for(target: Path) -> int:
    """The permissions a written file gets: the replaced file's, or 0o666 less the umask (as
    `open` would give a new file); `mkstemp` alone makes every report owner-only."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mask = os.umask(0o022)  # the only way to read the umask is to set it
        os.umask(mask)
        return 0o666 & ~mask


def write_stdout(text: str) -> None:
    """Write `text` to stdout. A reader that has gone (`| head`) took what it wanted: the rest
    goes nowhere, quietly. Any other failure (a full disk) is an error naming the cause."""
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        raise InputError(
            "cannot write to stdout: it is closed", hint="write to a file with -o PATH"
        )
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        silence_stdout()  # drop what is still buffered: it cannot be written
        raise stdout_error(exc) from None


def silence_stdout() -> None:
    """Send what stdout still holds, and anything later, nowhere: its reader has gone, or it
    cannot be written (else the interpreter fails again on its last flush)."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def stdout_error(exc: OSError) -> InputError:
    """The error for stdout that cannot be written (a full disk, a device error)."""
    return InputError(
        f"cannot write to stdout: {exc.strerror or exc}",
        hint="free space on the disk stdout goes to, or write to a file with -o PATH",
    )


def _write_into(text: str, target: Path, output: str) -> None:
    """Write to a named pipe or a device (`-o /dev/stdout`) as it is: it cannot be replaced
    by a renamed file, and a reader may be waiting on it."""
    try:
        with open(target, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
