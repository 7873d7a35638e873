"""Time cxkpi against DuckDB on the same CSV exports, check they agree, print Markdown tables.

Jobs (data from `benchmarks/generate.py`):

- survey: NPS, CSAT and CES, overall, per month, per channel and month x channel.
- orders: line items folded per order id, refunded/cancelled lines dropped; AOV, MAU and
  repeat rate, overall and per month.

Each tool runs as its own process: one warm-up of each, then `--runs` timed runs alternated
(cxkpi, DuckDB, cxkpi, ...) so drifting machine load hits both alike. Wall time and the peak RSS
of each child come from `os.wait4`, which reports that child's own rusage (the max over all
children from `getrusage(RUSAGE_CHILDREN)` cannot tell alternated runs apart). The figures of
the last timed run are compared per KPI and group (value to 1e-9 relative, n exactly); the
exit status is 1 when they disagree, 2 when a command fails.

Also reported: start-up times (`cxkpi --help`, `cxkpi kpis`, a report on 1,000 responses),
measured first, on a machine at rest (measured after the jobs, the report on 1,000 responses
took 0.61-0.66 s against 0.58-0.60 s before them on 2026-11-24), and the bounded-memory check
(cxkpi's peak RSS on the survey job at 1/4 of the rows vs all of them; target: at most +20 %).

Usage: python benchmarks/run.py [--job survey|orders|all] [--runs 5] [--rows-scale 1.0]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from generate import ORDER_ROWS, STARTUP_ROWS, SURVEY_ROWS, orders_path, survey_path

HERE = Path(__file__).resolve().parent
RELATIVE_TOLERANCE = 1e-9
MEMORY_TARGET_PERCENT = 20.0
Key = tuple[str, str | None, str | None]  # kpi, period (None: all), channel (None: all)
Figures = dict[Key, tuple[float | None, int]]

# The cxkpi arguments of each job, after the command itself; {csv} and {out} are filled in.
CXKPI_ARGS = {
    "survey": "report -c {config} --input surveys={csv} --kpi nps,csat,ces --period month "
    "--by channel -f json -o {out} -q",
    "orders": "report -c {config} --input orders={csv} --kpi aov,mau,repeat_rate --period month "
    "-f json -o {out} -q",
}


@dataclass(frozen=True)
class Sample:
    """One finished child process: wall seconds, its own peak resident set size, and the CPU
    seconds (user + system) of all its threads: on a busy 2-core machine the job is bound by
    CPU, which varies less from run to run than wall time does."""

    seconds: float
    peak_rss_mb: float
    cpu_seconds: float = 0.0


@dataclass(frozen=True)
class Job:
    """One benchmark job: the CSV and the two commands that compute the same figures."""

    name: str
    rows: int
    csv: Path
    cxkpi: list[str]
    duckdb: list[str]
    cxkpi_out: Path
    duckdb_out: Path


@dataclass(frozen=True)
class Outcome:
    """A job's timed samples and the figures on which the two tools disagree (if any)."""

    job: Job
    cxkpi: list[Sample]
    duckdb: list[Sample]
    mismatches: list[str]


class ChildFailed(RuntimeError):
    """A benchmarked command exited non-zero; the message carries its stderr tail."""


# -- running and measuring ---------------------------------------------------------------------


def measure(
    argv: Sequence[str], cwd: Path = HERE.parent, env: dict[str, str] | None = None
) -> Sample:
    """Run a command to completion (from the repository root unless `cwd` says otherwise);
    its wall time and peak RSS.

    stdout is discarded and stderr kept in a file (a pipe could fill up and stall the child).
    ru_maxrss is in KiB on Linux.
    """
    with tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if child.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace").strip()[-2000:]
            raise ChildFailed(f"{shlex.join(argv)} exited {child.returncode}:\n{tail}")
    return Sample(seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


def alternate(
    first: Sequence[str], second: Sequence[str], runs: int
) -> tuple[list[Sample], list[Sample]]:
    """One untimed warm-up of each command (page cache, imports), then `runs` timed pairs."""
    measure(first)
    measure(second)
    a: list[Sample] = []
    b: list[Sample] = []
    for _ in range(runs):
        a.append(measure(first))
        b.append(measure(second))
    return a, b


def repeat(argv: Sequence[str], runs: int) -> list[Sample]:
    """`runs` timed runs of one command, after one untimed warm-up."""
    measure(argv)
    return [measure(argv) for _ in range(runs)]


def median_seconds(samples: Sequence[Sample]) -> float:
    """Median wall time: robust to the odd run slowed by other load on the machine."""
    return statistics.median(s.seconds for s in samples)


def median_rss(samples: Sequence[Sample]) -> float:
    """Median peak RSS in MB."""
    return statistics.median(s.peak_rss_mb for s in samples)


# -- jobs --------------------------------------------------------------------------------------


def default_cxkpi() -> str:
    """The cxkpi entry point beside the interpreter running this script (the dev virtualenv)."""
    beside = Path(sys.executable).parent / "cxkpi"
    return str(beside) if beside.exists() else "cxkpi"


def compile_cxkpi() -> None:
    """Byte-compile the cx_cli package this interpreter imports, as `pip install` leaves it.

    A source file newer than its bytecode (an edit in a checkout, with PYTHONDONTWRITEBYTECODE
    set) is compiled again on every start: about 70 ms on the 1,000-row report, which would
    be measured as start-up time no installed copy has."""
    spec = importlib.util.find_spec("cx_cli")
    if spec is not None and spec.origin:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def make_job(name: str, csv: Path, cxkpi: Sequence[str], scratch: Path) -> Job:
    """The `name` job on `csv` (named `<job>_<rows>.csv`), both outputs written to `scratch`."""
    if not csv.exists():
        raise SystemExit(f"{csv} not found: run python benchmarks/generate.py first")
    rows = int(csv.stem.rsplit("_", 1)[1])
    cx_out = scratch / f"{name}-{rows}-cxkpi.json"
    db_out = scratch / f"{name}-{rows}-duckdb.json"
    config = HERE / ("survey.yaml" if name == "survey" else "orders.yaml")
    args = CXKPI_ARGS[name].format(config=config, csv=csv, out=cx_out)
    return Job(
        name=name,
        rows=rows,
        csv=csv,
        cxkpi=[*cxkpi, *args.split()],  # paths under the repo and /tmp hold no spaces
        duckdb=[sys.executable, str(HERE / "duckdb_job.py"), name, str(csv), str(db_out)],
        cxkpi_out=cx_out,
        duckdb_out=db_out,
    )


def run_job(job: Job, runs: int) -> Outcome:
    """Warm up, time alternated runs, then compare the last run's figures."""
    print(f"{job.name}: {job.rows:,} rows, warm-up + {runs} alternated runs", file=sys.stderr)
    cx, db = alternate(job.cxkpi, job.duckdb, runs)
    mismatches = compare(cxkpi_figures(job.cxkpi_out), duckdb_figures(job.duckdb_out))
    return Outcome(job, cx, db, mismatches)


# -- figures -----------------------------------------------------------------------------------


def cxkpi_figures(path: Path) -> Figures:
    """(value, n) per (kpi, period, channel) from a cxkpi JSON report."""
    report = json.loads(path.read_text())
    return {
        (r["kpi"], r["period"], r["segment"].get("channel")): (r["value"], r["n"])
        for r in report["results"]
    }


def duckdb_figures(path: Path) -> Figures:
    """(value, n) per (kpi, period, channel) from duckdb_job.py's JSON rows."""
    return {
        (r["kpi"], r["period"], r["channel"]): (r["value"], r["n"])
        for r in json.loads(path.read_text())
    }


def same_value(a: float | None, b: float | None) -> bool:
    """Equal to 1e-9 relative (absolute near zero: NPS can be 0); None only matches None.

    The tolerance only absorbs float summation order (cxkpi adds order amounts as float64,
    DuckDB as exact decimals); counts and percentages of counts agree bit for bit.
    """
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=RELATIVE_TOLERANCE)


def compare(cxkpi: Figures, duckdb: Figures) -> list[str]:
    """Every group whose value or n differs, or that only one tool reports."""
    problems = []
    for key in sorted(cxkpi.keys() | duckdb.keys(), key=lambda k: tuple(str(p) for p in k)):
        label = f"{key[0]} period={key[1] or 'all'} channel={key[2] or 'all'}"
        if key not in duckdb or key not in cxkpi:
            problems.append(f"{label}: only in {'cxkpi' if key in cxkpi else 'DuckDB'}")
            continue
        (cv, cn), (dv, dn) = cxkpi[key], duckdb[key]
        if cn != dn or not same_value(cv, dv):
            problems.append(f"{label}: cxkpi {cv!r} (n={cn}) vs DuckDB {dv!r} (n={dn})")
    return problems


# -- printing ----------------------------------------------------------------------------------


def markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; numeric columns right-aligned."""
    align = ["---:" if isinstance(c, int | float) else "---" for c in rows[0]] if rows else []
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Seconds(float):
    """Seconds shown to three decimals (start-up times, close to their target)."""


def _cell(value: Any) -> str:
    """Floats to two decimals (seconds, MB), `Seconds` to three, counts with thousands
    separators."""
    if isinstance(value, Seconds):
        return f"{value:.3f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def section(title: str, body: str) -> None:
    """Print a titled Markdown block to stdout (progress goes to stderr)."""
    print(f"\n### {title}\n\n{body}", flush=True)


def results_table(outcomes: Sequence[Outcome]) -> str:
    """The main table: medians, ratios (cxkpi / DuckDB) and agreement per job."""
    header = [
        "job",
        "rows",
        "cxkpi median s",
        "DuckDB median s",
        "time ratio",
        "cxkpi CPU s",
        "DuckDB CPU s",
        "cxkpi peak RSS MB",
        "DuckDB peak RSS MB",
        "RSS ratio",
        "agree",
    ]
    rows = []
    for o in outcomes:
        cx_s, db_s = median_seconds(o.cxkpi), median_seconds(o.duckdb)
        cx_mb, db_mb = median_rss(o.cxkpi), median_rss(o.duckdb)
        rows.append(
            [
                o.job.name,
                o.job.rows,
                cx_s,
                db_s,
                f"{cx_s / db_s:.2f}x",
                statistics.median(s.cpu_seconds for s in o.cxkpi),
                statistics.median(s.cpu_seconds for s in o.duckdb),
                cx_mb,
                db_mb,
                f"{cx_mb / db_mb:.2f}x",
                "no" if o.mismatches else "yes",
            ]
        )
    return markdown(header, rows)


def memory_table(small: Outcome, full: Outcome) -> str:
    """The bounded-memory check: cxkpi's peak RSS at 1/4 of the rows vs all, and the verdict."""
    small_mb, full_mb = median_rss(small.cxkpi), median_rss(full.cxkpi)
    increase = 100.0 * (full_mb - small_mb) / small_mb
    table = markdown(
        ["survey rows", "cxkpi median s", "cxkpi peak RSS MB"],
        [[o.job.rows, median_seconds(o.cxkpi), median_rss(o.cxkpi)] for o in (small, full)],
    )
    verdict = "met" if increase <= MEMORY_TARGET_PERCENT else "missed"
    return (
        f"{table}\n\n{full.job.rows / small.job.rows:.0f}x the rows: peak RSS {increase:+.1f} % "
        f"(target at most +{MEMORY_TARGET_PERCENT:.0f} %: {verdict})"
    )


def versions(cxkpi: Sequence[str]) -> str:
    """One line naming what was measured, so tables from different days can be compared."""

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "?"

    return (
        f"cxkpi {version('cxkpi')} ({shlex.join(cxkpi)}), DuckDB {version('duckdb')} "
        f"(default threads), Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )


# -- the steps ---------------------------------------------------------------------------------


def memory_check(survey: Outcome, cxkpi: Sequence[str], runs: int, scratch: Path) -> Outcome:
    """cxkpi alone on the survey job at 1/4 of the rows (`survey_<N/4>.csv`); memory should
    follow the number of groups, not of rows."""
    print("memory check: survey job at 1/4 of the rows", file=sys.stderr)
    csv = survey_path(survey.job.csv.parent, survey.job.rows // 4)
    quarter = make_job("survey", csv, cxkpi, scratch)
    return Outcome(quarter, repeat(quarter.cxkpi, runs), [], [])


def startup_table(data: Path, cxkpi: Sequence[str], runs: int, scratch: Path) -> str:
    """Median and fastest wall time and peak RSS of quick commands, where start-up dominates;
    seconds to three decimals, as the 1,000-row report's target (0.6 s) is close."""
    print("start-up timings", file=sys.stderr)
    tiny = make_job("survey", survey_path(data, STARTUP_ROWS), cxkpi, scratch)
    commands = {
        "cxkpi --help": [*cxkpi, "--help"],
        "cxkpi kpis": [*cxkpi, "kpis"],
        f"cxkpi report (survey job, {STARTUP_ROWS:,} rows)": tiny.cxkpi,
    }
    rows = []
    for label, argv in commands.items():
        samples = repeat(argv, runs)
        median, fastest = median_seconds(samples), min(s.seconds for s in samples)
        rows.append([label, Seconds(median), Seconds(fastest), median_rss(samples)])
    return markdown(["command", "median s", "fastest s", "peak RSS MB"], rows)


def benchmark(args: argparse.Namespace, scratch: Path) -> list[Outcome]:
    """Every step the options ask for, printing each table as soon as it is known."""
    cxkpi = shlex.split(args.cxkpi)
    data = args.data.resolve()
    csvs = {
        "survey": survey_path(data, args.survey_rows or round(SURVEY_ROWS * args.rows_scale)),
        "orders": orders_path(data, args.order_rows or round(ORDER_ROWS * args.rows_scale)),
    }
    names = list(csvs) if args.job == "all" else [args.job]
    jobs = [make_job(name, csvs[name], cxkpi, scratch) for name in names]  # fail fast
    compile_cxkpi()
    print(versions(cxkpi))
    if args.startup_runs > 0:  # first: right after minutes of both cores busy, it reads ~8 % slower
        section(
            f"Start-up (median of {args.startup_runs} runs)",
            startup_table(data, cxkpi, args.startup_runs, scratch),
        )
    outcomes = [run_job(job, args.runs) for job in jobs]
    section(
        f"cxkpi vs DuckDB (median of {args.runs} runs; ratios are cxkpi / DuckDB)",
        results_table(outcomes),
    )
    survey = next((o for o in outcomes if o.job.name == "survey"), None)
    if survey and args.memory_check:
        quarter = memory_check(survey, cxkpi, args.runs, scratch)
        section("Bounded memory (cxkpi, survey job)", memory_table(quarter, survey))
    return outcomes


def report_mismatches(outcomes: Sequence[Outcome], limit: int = 50) -> int:
    """Print the figures the tools disagree on; 1 if there are any, else 0."""
    status = 0
    for o in outcomes:
        if o.mismatches:
            status = 1
            lines = [f"- {m}" for m in o.mismatches[:limit]]
            if len(o.mismatches) > limit:
                lines.append(f"- ... and {len(o.mismatches) - limit} more")
            section(f"{o.job.name}: {len(o.mismatches)} figures disagree", "\n".join(lines))
    return status


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options (see --help)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", choices=["survey", "orders", "all"], default="all")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each tool per job")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="generated CSV folder")
    parser.add_argument("--rows-scale", type=float, default=1.0, help="as given to generate.py")
    parser.add_argument("--survey-rows", type=int, help="survey rows (overrides the scale)")
    parser.add_argument("--order-rows", type=int, help="order lines (overrides the scale)")
    parser.add_argument(
        "--memory-check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="cxkpi's peak RSS at 1/4 vs all survey rows (runs with the survey job)",
    )
    parser.add_argument(
        "--startup-runs", type=int, default=10, help="runs of each start-up timing; 0: skip"
    )
    parser.add_argument(
        "--cxkpi",
        default=default_cxkpi(),
        help="the cxkpi command, split like a shell would (e.g. 'python -m cx_cli')",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 0 if the figures agree, 1 if not, 2 if a command failed."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cxkpi-bench-") as scratch:
        try:
            outcomes = benchmark(args, Path(scratch))
        except ChildFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return report_mismatches(outcomes)


if __name__ == "__main__":
    sys.exit(main())
