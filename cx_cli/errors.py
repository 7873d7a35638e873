"""One exception hierarchy: every error a user can cause says what, where and how to fix it."""

from __future__ import annotations

import re

# Line breaks and other control characters, with the spaces around them.
_BREAKS = re.compile(r"\s*[\x00-\x1f\x7f-\x9f\u2028\u2029]+\s*")


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


def one_line(text: str) -> str:
    """`text` on one line: an error is one `error:` line and one `hint:` line that scripts can
    read, and messages passed on from libraries (Arrow's, say) may hold line breaks and
    control bytes."""
    return _BREAKS.sub(" ", text).strip()
