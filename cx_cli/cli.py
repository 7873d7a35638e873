"""The `cxkpi` command line: parse options, call the library, render, set the exit code.

No computation lives here. Heavy modules (pandas, pyarrow) are imported only inside commands,
so `cxkpi --help` and `cxkpi kpis` stay fast.
"""

# No `from __future__ import annotations` here (STYLE.md's rule, broken on purpose): Typer
# reads every command's parameters at each start, and string annotations are evaluated then,
# re-running each `typer.Option(...)`: 11 ms of every command's start against 3 ms.
import datetime as dt
import functools
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cx_cli import __version__
from cx_cli.errors import CxError, UsageError, one_line

if TYPE_CHECKING:
    from cx_cli.report import InputSummary

DEFAULT_CONFIG = Path("cxkpi.yaml")
F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="cxkpi",
    help="Customer-experience KPIs (NPS, CSAT, CES, ...) from CSV exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Engine(StrEnum):
    pandas = "pandas"
    dask = "dask"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="pandas (one machine, streaming) or dask (each file a Dask task; "
        "pip install 'cxkpi[dask]').",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="With --engine dask: a dask.distributed address (tcp://host:8786; default "
        "$DASK_SCHEDULER_ADDRESS, else a local cluster), or synchronous/threads/processes.",
    ),
]


def _check_scheduler(engine: Engine, scheduler: str | None) -> None:
    if scheduler and engine is not Engine.dask:
        raise UsageError("--scheduler needs --engine dask", hint="add --engine dask")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class ValidateFormat(StrEnum):
    table = "table"
    json = "json"


def _stderr(message: str, style: str = "") -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        message, style=style or None, markup=False
    )


def _stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (None, when the process started with it closed, is not)."""
    return sys.stdout is not None and sys.stdout.isatty()


def _color_stdout() -> bool:
    """Colour on a terminal, unless NO_COLOR is set to a value (no-color.org: an empty one
    does not count) or TERM is dumb."""
    return (
        _stdout_is_terminal()
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
    )


def handles_errors(command: F) -> F:
    """Turn CxError into `error:`/`hint:` lines and its exit code; Ctrl-C into exit 130.
    With --debug the traceback comes first; the lines and the exit code stay the same, so a
    script's handling of exit codes holds while someone debugs it."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except CxError as exc:
            _traceback_if(kwargs.get("debug"))
            _stderr(f"error: {one_line(exc.message)}", "red")
            if exc.hint:
                _stderr(f"hint: {one_line(exc.hint)}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _stderr("interrupted: no report written")
            raise typer.Exit(130) from None
        except Exception as exc:
            debug = kwargs.get("debug")
            _traceback_if(debug)
            then = (
                "report it with the traceback above"
                if debug
                else ("rerun with --debug for the traceback and report it")
            )
            _stderr(
                f"internal error: {type(exc).__name__}: {one_line(str(exc))}. This is a bug in "
                f"cxkpi {__version__}; {then}.",
                "red",
            )
            raise typer.Exit(70) from None

    return wrapper  # type: ignore[return-value]


def _traceback_if(debug: object) -> None:
    """The traceback of the exception being handled, on stderr, when --debug was given."""
    if debug:
        import traceback

        traceback.print_exc()


def _split(values: str | None) -> list[str] | None:
    if values is None:
        return None
    return [v.strip() for v in values.split(",") if v.strip()]


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date", hint="use YYYY-MM-DD") from None


def _inputs(pairs: list[str] | None) -> dict[str, str]:
    found = {}
    for pair in pairs or []:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise UsageError(
                f"--input {pair!r} is not NAME=PATH",
                hint="e.g. --input surveys=exports/2024-06.csv (PATH - is stdin)",
            )
        if name in found:
            raise UsageError(
                f"--input {name}= is given twice ({found[name]} and {path})",
                hint=f"give --input {name}= once; for several files, set sources.{name}.path to "
                "a list or a glob in the config",
            )
        found[name] = path
    if list(found.values()).count("-") > 1:
        raise UsageError("only one --input can read stdin (-)")
    return found


def _files_read(inputs: Iterable["InputSummary"]) -> list[str]:
    """Every file the sources were read from (what `-o` may not overwrite)."""
    return [str(f["path"]) for item in inputs for f in item.files]


def _config_path(config: Path | None) -> Path:
    if config is not None:
        return config
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    raise UsageError(
        "no config: pass -c CONFIG, or create ./cxkpi.yaml",
        hint="draft one from your export with: cxkpi init YOUR_EXPORT.csv",
    )


ConfigOption = Annotated[
    Path | None,
    typer.Option("-c", "--config", help="Config file (default: ./cxkpi.yaml).", show_default=False),
]
InputOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input", help="Override a source's path: NAME=PATH (PATH - reads stdin). Repeatable."
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
QuietOption = Annotated[
    bool, typer.Option("-q", "--quiet", help="No warnings or progress bar on stderr.")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cxkpi {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Customer-experience KPIs from CSV exports: exact definitions, sample sizes, intervals."""


@app.command()
@handles_errors
def report(
    config: ConfigOption = None,
    kpi: Annotated[
        str | None,
        typer.Option("--kpi", help="KPIs to compute, comma-separated (default: the config's)."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Segments to group by, comma-separated (e.g. channel,region), or none."
        ),
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="day, week, month, quarter, year or none.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="First date, inclusive.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last date, inclusive.")] = None,
    inputs: InputOption = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: Annotated[str, typer.Option("-o", "--output", help="File, or - for stdout.")] = "-",
    min_n: Annotated[
        int | None,
        typer.Option("--min-n", min=0, help="Flag rows with fewer answers (default 30)."),
    ] = None,
    confidence: Annotated[
        float | None, typer.Option("--confidence", help="Interval confidence level (default 0.95).")
    ] = None,
    suppress_low_sample: Annotated[
        bool, typer.Option("--suppress-low-sample", help="Leave out rows with n below --min-n.")
    ] = False,
    fail_on_miss: Annotated[
        bool, typer.Option("--fail-on-miss", help="Exit 3 when a checked row misses its target.")
    ] = False,
    engine: EngineOption = Engine.pandas,
    scheduler: SchedulerOption = None,
    quiet: QuietOption = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Row accounting on stderr.")
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Compute the configured KPIs and print or write the report.

    Example: cxkpi report -c config.example.yaml --by channel --period quarter --format json
    """
    from cx_cli import load_config, render, run
    from cx_cli.output import write_output
    from cx_cli.progress import ReadProgress, wanted

    _check_scheduler(engine, scheduler)
    with ReadProgress(wanted(quiet, sys.stderr)) as bar:
        result = run(
            load_config(_config_path(config)),
            engine=engine.value,
            scheduler=scheduler,
            progress=bar.for_source,
            kpis=_split(kpi),
            by=_split(by),
            period=period,
            since=_date(since, "--since"),
            until=_date(until, "--until"),
            inputs=_inputs(inputs),
            confidence=confidence,
            min_n=min_n,
            suppress_low_sample=suppress_low_sample or None,
        )
    to_terminal = output == "-" and _stdout_is_terminal()
    text = (
        render(
            result,
            "table",
            color=to_terminal and _color_stdout(),
            width=shutil.get_terminal_size().columns if to_terminal else None,
        )
        if fmt is Format.table
        else render(result, fmt.value)
    )
    write_output(text, output, read=[result.config_path, *_files_read(result.inputs)])
    if not quiet:
        for warning in result.warnings:
            _stderr(f"warning: {warning}", "yellow")
    if verbose:
        for item in result.inputs:
            _stderr(
                f"{item.source}: {item.rows_read} rows read, {item.rows_used} used, "
                f"dropped {dict(item.rows_dropped) or 'none'} ({item.path})"
            )
    if fail_on_miss and result.missed():
        missed = result.missed()
        _stderr(
            f"target missed: {len(missed)} row(s), e.g. {missed[0].kpi} "
            f"{missed[0].period or 'overall'} {dict(missed[0].segment) or ''}".rstrip(),
            "red",
        )
        raise typer.Exit(3)


class CohortFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
@handles_errors
def cohort(
    config: ConfigOption = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", help="The orders or subscriptions source (needed when several fit)."
        ),
    ] = None,
    metric: Annotated[
        str,
        typer.Option(
            "--metric", help="customers (share still active) or revenue (share of first period's)."
        ),
    ] = "customers",
    period: Annotated[
        str, typer.Option("--period", help="Cohort and offset unit: week, month, quarter or year.")
    ] = "month",
    since: Annotated[str | None, typer.Option("--since", help="First cohort date.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last date, inclusive.")] = None,
    inputs: InputOption = None,
    fmt: Annotated[CohortFormat, typer.Option("--format", "-f", help="Output format.")] = (
        CohortFormat.table
    ),
    output: Annotated[str, typer.Option("-o", "--output", help="File, or - for stdout.")] = "-",
    engine: EngineOption = Engine.pandas,
    scheduler: SchedulerOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Cohort retention: cohorts by first order (or start) x periods since, incomplete marked.

    Example: cxkpi cohort -c config.example.yaml --source orders --metric revenue -f csv
    """
    from cx_cli import load_config
    from cx_cli.cohort import cohort_matrix
    from cx_cli.output import write_output
    from cx_cli.progress import ReadProgress, wanted
    from cx_cli.render.cohort import render_cohorts

    _check_scheduler(engine, scheduler)
    with ReadProgress(wanted(quiet, sys.stderr)) as bar:
        cohorts = cohort_matrix(
            load_config(_config_path(config)),
            source,
            metric=metric,
            period=period,
            inputs=_inputs(inputs),
            since=_date(since, "--since"),
            until=_date(until, "--until"),
            engine=engine.value,
            scheduler=scheduler,
            progress=bar.for_source,
        )
    to_terminal = output == "-" and _stdout_is_terminal()
    write_output(
        render_cohorts(
            cohorts,
            fmt.value,
            color=to_terminal and _color_stdout(),
            width=shutil.get_terminal_size().columns if to_terminal else None,
        ),
        output,
        read=[str(_config_path(config)), *_files_read(cohorts.inputs)],
    )


@app.command()
@handles_errors
def validate(
    config: ConfigOption = None,
    inputs: InputOption = None,
    fmt: Annotated[ValidateFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ValidateFormat.table
    ),
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Check the config and every source's mapping; show row accounting. Computes no KPIs.

    Example: cxkpi validate -c config.example.yaml
    """
    from cx_cli import load_config
    from cx_cli.analysis import check_sources
    from cx_cli.output import write_stdout
    from cx_cli.progress import ReadProgress, wanted
    from cx_cli.render.validation import render_validation

    with ReadProgress(wanted(quiet, sys.stderr)) as bar:
        summaries = check_sources(
            load_config(_config_path(config)), _inputs(inputs), progress=bar.for_source
        )
    write_stdout(render_validation(summaries, fmt.value, color=_color_stdout()))


@app.command()
@handles_errors
def kpis(
    name: Annotated[str | None, typer.Argument(help="A KPI to explain.")] = None,
    debug: DebugOption = False,
) -> None:
    """List the KPIs, or explain one: formula, fields, variants, options, interval.

    Example: cxkpi kpis nps
    """
    from cx_cli.output import write_stdout
    from cx_cli.render.catalogue import describe_kpi, list_kpis

    write_stdout(list_kpis() if name is None else describe_kpi(name))


@app.command()
@handles_errors
def init(
    file: Annotated[Path, typer.Argument(help="A CSV export to draft a config from.")],
    output: Annotated[
        str, typer.Option("-o", "--output", help="Where to write the config (- for stdout).")
    ] = str(DEFAULT_CONFIG),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    debug: DebugOption = False,
) -> None:
    """Draft a config for a survey export from its header and values (guesses are marked in
    comments). For other exports, start from a source in config.example.yaml.

    Example: cxkpi init exports/responses.csv -o cxkpi.yaml
    """
    from cx_cli.draft import drafted
    from cx_cli.output import write_output

    if output != "-" and Path(output).exists() and not force:
        raise UsageError(f"{output} exists already", hint="pass --force to overwrite it, or -o")
    where = (
        file
        if output == "-"
        else Path(os.path.relpath(file.resolve(), Path(output).resolve().parent))
    )
    text, warning = drafted(file, config_path=where)
    write_output(text, output, read=[str(file)])
    if warning:
        _stderr(f"warning: {warning}", "yellow")
    if output != "-":
        guessed = re.search(r"^\s*# guess:", text, re.MULTILINE)  # not the header's mention
        check = "the guesses" if guessed else "the mapping"
        _stderr(f"wrote {output}: check {check}, then run: cxkpi validate -c {output}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        _stderr("interrupted")
        sys.exit(130)
