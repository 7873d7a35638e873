"""One exception hierarchy: every error a user can cause says what, where and how to fix it."""

from __future__ import annotations


class CxError(Exception):
    """An error the user can act on; the CLI prints it as one line and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(CxError):
    """A data file is missing, unreadable or malformed (exit 1)."""

    exit_code = 1


class ConfigError(CxError):
    """The config file or a command-line option is wrong (exit 2)."""

    exit_code = 2


class UsageError(ConfigError):
    """A command-line option is wrong (exit 2)."""
