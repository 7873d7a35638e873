"""The `cxkpi` console script: `cxkpi kpis [NAME]` answered at once, everything else by Typer.

Listing the KPIs is what scripts and shell users run most often, and it should feel instant.
Building Typer's command line costs more than the answer itself (Typer imports pydantic to
coerce any non-flag option, ~0.1 s), so the plain `cxkpi kpis` and `cxkpi kpis NAME` print the
catalogue without it. Any other arguments, and any NAME the catalogue does not know, go through
Typer, so help, errors and exit codes are Typer's in every case.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Console-script entry point."""
    if not _catalogue(sys.argv[1:]):
        from cx_cli.cli import main as typer_main

        typer_main()


def _catalogue(args: list[str]) -> bool:
    """Print the KPI list or one KPI's description for exactly `kpis [NAME]`; False otherwise."""
    if not args or args[0] != "kpis" or len(args) > 2 or any(a.startswith("-") for a in args):
        return False
    from cx_cli.errors import CxError
    from cx_cli.render.catalogue import describe_kpi, list_kpis

    try:
        text = list_kpis() if len(args) == 1 else describe_kpi(args[1])
    except CxError:
        return False  # Typer reports it, with its usage line and exit code
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `cxkpi kpis | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True
