"""The Dask engine (`--engine dask`) gives the pandas engine's figures, and fails like the CLI.

Every sample export is split into parts (header in each) with the awkward cases across files:
an order whose line items straddle two parts, and a repeated response_id and ticket_id in a
later part than their first occurrence (`dedupe:` across files). Both engines read the same
parts; every Result and every input's row accounting must match.
"""

from __future__ import annotations

import copy
import csv
import gc
import itertools
import json
import logging
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result as CliResult
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cx_cli import load_config, run, startup
from cx_cli.cli import app
from cx_cli.errors import UsageError
from cx_cli.report import Report
from tests.conftest import survey_config, write_config, write_csv

pytest.importorskip("dask")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
EXAMPLE = ROOT / "config.example.yaml"
SINCE = "2025-01-01"  # config.example.yaml's report.since
REL_TOL = 1e-9
runner = CliRunner()

# source name in config.example.yaml: (sample file stem, number of parts)
PARTS = {
    "surveys": ("surveys", 4),
    "tickets": ("tickets", 3),
    "orders": ("orders", 3),
    "subscriptions": ("subscriptions", 3),
    "spend": ("spend", 3),
    "web": ("sessions", 4),
}
# the per-customer and whole-row variants config.example.yaml does not have
EXTRA_KPIS: list[dict[str, Any]] = [
    {"kpi": "nps", "label": "nps_latest", "variant": "latest_per_customer"},
    {"kpi": "mau", "label": "mau_rolling", "variant": "rolling_30d"},
    {
        "kpi": "clv",
        "label": "clv_purchase",
        "source": "orders",
        "method": "purchase",
        "inactive_days": 90,
        "gross_margin": 0.5,
    },
]
SURVEY_KPIS = ("nps", "csat", "ces", "nps_latest")
# a repeated id in a later part gets other answers: kept by mistake, it would move the figures
REPEATS = {
    "surveys": ("Response ID", {"How likely are you to recommend us?": "0", "Comments": "again"}),
    "tickets": ("Ticket ID", {"Customer Contacts": "4", "Reopened": "1", "Handle Time (s)": "9"}),
}
INPUT_FIELDS = ("rows_read", "rows_used", "rows_dropped", "rows_history_only", "fields", "files")

Records = list[list[str]]


# -- splitting the sample exports ----------------------------------------------------------------


def read_records(path: Path) -> tuple[list[str], Records]:
    """A CSV's header and records (quoted newlines kept inside their record)."""
    with path.open(newline="", encoding="utf-8") as stream:
        header, *records = csv.reader(stream)
    return header, records


def thin(records: Records, every: int, key: int | None = None) -> Records:
    """Every `every`-th record, or with `key` every `every`-th run of records sharing that
    column (an order's line items stay together)."""
    if every == 1:
        return records
    runs: list[Records] = []
    for record in records:
        if key is not None and runs and runs[-1][0][key] == record[key]:
            runs[-1].append(record)
        else:
            runs.append([record])
    return [record for i, group in enumerate(runs) if i % every == 0 for record in group]


def even_cuts(count: int, parts: int) -> list[int]:
    return [count * i // parts for i in range(1, parts)]


def straddling_cut(header: list[str], records: Records, near: int) -> int:
    """The first index from `near` on that splits a paid 2025 order's line items in two."""
    order, status, when = (header.index(c) for c in ("Order ID", "Status", "Ordered At"))
    for i in range(max(near, 1), len(records)):
        before, here = records[i - 1], records[i]
        if (
            before[order] == here[order]
            and before[status] == here[status] == "paid"
            and here[when] >= SINCE
        ):
            return i
    raise AssertionError("no multi-line paid order to split")


def cut(records: Records, cuts: Sequence[int]) -> list[Records]:
    bounds = [0, *cuts, len(records)]
    return [records[a:b] for a, b in itertools.pairwise(bounds)]


def add_repeat(
    header: list[str], parts: list[Records], id_column: str, changes: dict[str, str]
) -> None:
    """Copy the first in-window record of an earlier part into the middle of the last part,
    with other answers (`id_column` kept: a repeat that `dedupe:` must drop)."""
    when = next(i for i, name in enumerate(header) if name.endswith(" At"))
    first = next(r for part in parts[:-1] for r in part if r[when] >= SINCE)
    repeat = list(first)
    for column, value in changes.items():
        repeat[header.index(column)] = value
    assert repeat[header.index(id_column)] == first[header.index(id_column)]
    last = parts[-1]
    last.insert(len(last) // 2, repeat)


def write_parts(folder: Path, stem: str, header: list[str], parts: list[Records]) -> list[Path]:
    written = []
    for number, part in enumerate(parts, start=1):
        path = folder / f"{stem}-{number}.csv"
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(part)
        written.append(path)
    return written


def split_source(source: str, folder: Path, every: int) -> list[Path]:
    """One sample export written as parts, with its awkward case (straddle or repeat)."""
    stem, count = PARTS[source]
    header, records = read_records(SAMPLE / f"{stem}.csv")
    key = header.index("Order ID") if source == "orders" else None
    records = thin(records, every, key)
    cuts = even_cuts(len(records), count)
    if source == "orders":
        cuts[0] = straddling_cut(header, records, cuts[0])
    parts = cut(records, cuts)
    if source == "orders":
        assert key is not None and parts[0][-1][key] == parts[1][0][key]
    if source in REPEATS:
        add_repeat(header, parts, *REPEATS[source])
    return write_parts(folder, stem, header, parts)


def write_split_config(folder: Path, every: int = 1) -> Path:
    """config.example.yaml (plus EXTRA_KPIS) over split exports, paths relative to it."""
    (folder / "parts").mkdir()
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for source, spec in document["sources"].items():
        split_source(source, folder / "parts", every)
        spec["path"] = f"parts/{PARTS[source][0]}-*.csv"
    document["kpis"] = [*document["kpis"], *copy.deepcopy(EXTRA_KPIS)]
    return write_config(folder, document)


# -- comparing reports ---------------------------------------------------------------------------


def differences(got: Any, want: Any, where: str = "") -> list[str]:
    """Where two JSON-like values differ; numbers to a relative 1e-9, NaN equal to NaN."""
    numbers = (int, float)
    if isinstance(got, numbers) and isinstance(want, numbers) and not isinstance(got, bool):
        if isinstance(got, int) and isinstance(want, int):
            return [] if got == want else [f"{where}: {got} != {want}"]
        if math.isnan(got) and math.isnan(want):
            return []
        same = math.isclose(got, want, rel_tol=REL_TOL, abs_tol=1e-12)
        return [] if same else [f"{where}: {got!r} != {want!r}"]
    if isinstance(got, dict) and isinstance(want, dict):
        if set(got) != set(want):
            return [f"{where}: keys {sorted(got)} != {sorted(want)}"]
        return [d for k in want for d in differences(got[k], want[k], f"{where}.{k}")]
    if isinstance(got, list | tuple) and isinstance(want, list | tuple):
        if len(got) != len(want):
            return [f"{where}: {len(got)} items != {len(want)}"]
        pairs = enumerate(zip(got, want, strict=True))
        return [d for i, (g, w) in pairs for d in differences(g, w, f"{where}[{i}]")]
    return [] if got == want else [f"{where}: {got!r} != {want!r}"]


def result_key(row: dict[str, Any]) -> str:
    segment = ",".join(f"{k}={v}" for k, v in sorted(row["segment"].items()))
    return f"{row['label']} {row['period'] or 'overall'} {segment or 'all'}"


def results_differences(got: Sequence[dict], want: Sequence[dict]) -> list[str]:
    """Differences between two lists of results, matched in order, named by their group."""
    got_keys, want_keys = [result_key(r) for r in got], [result_key(r) for r in want]
    if got_keys != want_keys:
        only_got, only_want = set(got_keys) - set(want_keys), set(want_keys) - set(got_keys)
        return [
            f"rows differ: dask only {sorted(only_got)[:5]}, pandas only {sorted(only_want)[:5]}"
        ]
    return [d for g, w in zip(got, want, strict=True) for d in differences(g, w, result_key(w))]


def inputs_of(report: Report, fields: Sequence[str] = INPUT_FIELDS) -> list[dict[str, Any]]:
    return [{"source": i.source, **{f: i.as_dict()[f] for f in fields}} for i in report.inputs]


def assert_same_report(
    got: Report, want: Report, input_fields: Sequence[str] = INPUT_FIELDS
) -> None:
    """Every Result field (kpi, label, period, segment, n, status, figures, detail) and every
    input's row accounting equal."""
    problems = results_differences(
        [r.as_dict() for r in got.results], [r.as_dict() for r in want.results]
    )
    problems += differences(inputs_of(got, input_fields), inputs_of(want, input_fields), "inputs")
    assert not problems, "\n".join(problems[:20])


def dropped(report: Report, source: str, reason: str) -> int:
    (summary,) = [i for i in report.inputs if i.source == source]
    return summary.rows_dropped.get(reason, 0)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_scheduler_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)


@pytest.fixture(scope="module")
def split_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full example config over every sample export split into 3-4 parts."""
    return write_split_config(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="module")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same over a sixtieth of the samples (whole orders kept), for tiny batches."""
    return write_split_config(tmp_path_factory.mktemp("small"), every=60)


Reference = Callable[..., Report]


@pytest.fixture(scope="module")
def pandas_report() -> Reference:
    """The pandas engine's report for a config and options, computed once per module."""
    done: dict[str, Report] = {}

    def reference(config: Path, **options: Any) -> Report:
        key = f"{config} {sorted(options.items())}"
        if key not in done:
            done[key] = run(load_config(config), engine="pandas", **options)
        return done[key]

    return reference


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A real dask.distributed LocalCluster (two worker processes) for the whole module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},  # its HTTP server off :8787 (no dashboard)
        silence_logs=logging.CRITICAL,
    ) as local:
        yield local.scheduler_address


def invoke(args: Sequence[str], stdin: bytes | None = None) -> CliResult:
    return runner.invoke(app, ["report", *args], input=stdin)


def json_report(args: Sequence[str], stdin: bytes | None = None) -> dict[str, Any]:
    result = invoke([*args, "-f", "json", "-q"], stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_same_json(got: dict[str, Any], want: dict[str, Any]) -> None:
    """`got` (Dask) equals `want` (pandas) in every part but the engine each names."""
    assert (got["settings"].pop("engine"), want["settings"].pop("engine")) == ("dask", "pandas")
    problems = results_differences(got["results"], want["results"])
    for part in ("inputs", "definitions", "settings", "warnings"):
        problems += differences(got[part], want[part], part)
    assert not problems, "\n".join(problems[:20])


def assert_usage_error(result: CliResult, *phrases: str) -> None:
    """Exit 2 with one `error:` line and a `hint:` line, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert lines[0].startswith("error: ") and len(lines) == 2, result.stderr
    assert lines[1].startswith("hint: "), result.stderr
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.stderr


# -- 1. equivalence over split files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "by"),
    [("none", ()), ("quarter", ()), ("month", ("channel",))],
    ids=["overall-only", "quarter", "month-channel"],  # overall-only: one group key (review 8)
)
def test_dask_over_split_files_equals_pandas_for_every_kpi(
    split_config: Path, pandas_report: Reference, period: str, by: tuple[str, ...]
) -> None:
    want = pandas_report(split_config, period=period, by=by)
    got = run(
        load_config(split_config), engine="dask", scheduler="synchronous", period=period, by=by
    )
    assert_same_report(got, want)
    assert {r.label for r in got.results} == {d.label for d in got.definitions}
    assert {len(i.files) for i in got.inputs} == {3, 4}
    assert dropped(got, "surveys", "duplicate response_id") == 1
    assert dropped(got, "tickets", "duplicate ticket_id") == 1
    if by:
        assert {tuple(r.segment) for r in got.results} == {(), by}


def test_split_files_give_the_figures_of_the_original_exports(
    split_config: Path, pandas_report: Reference
) -> None:
    """The parts hold the same orders, and the repeats are dropped: the same figures as the
    unsplit samples (so the equivalence above is over realistic data)."""
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["kpis"] = [*document["kpis"], *copy.deepcopy(EXTRA_KPIS)]
    for spec in document["sources"].values():
        spec["path"] = str(ROOT / spec["path"])
    original = write_config(split_config.parent, document, "original.yaml")
    kpis = ("nps", "nps_latest", "fcr", "aov", "repeat_rate", "conversion_rate")
    got = run(load_config(split_config), engine="dask", scheduler="synchronous", kpis=kpis)
    want = pandas_report(original, kpis=kpis)
    assert not results_differences(
        [r.as_dict() for r in got.results], [r.as_dict() for r in want.results]
    )


# -- 2. a real LocalCluster ----------------------------------------------------------------------


def test_local_cluster_equals_pandas_on_the_full_example_config(
    split_config: Path, pandas_report: Reference, cluster: str
) -> None:
    got = run(load_config(split_config), engine="dask", scheduler=cluster)
    assert_same_report(got, pandas_report(split_config, period="quarter", by=()))


def test_a_cluster_run_resumes_the_collection_the_console_paused(
    small_config: Path, cluster: str
) -> None:
    """The client reads no frame itself, so it resumes collection as it connects (a long run
    would otherwise keep every cycle of garbage the client makes)."""
    startup.pause_collection()
    try:
        run(load_config(small_config), engine="dask", scheduler=cluster, kpis=("nps",))
        assert gc.isenabled()
    finally:
        startup._paused = False
        gc.unfreeze()
        gc.enable()


def test_cli_report_on_a_cluster_prints_the_pandas_json(split_config: Path, cluster: str) -> None:
    args = ["-c", str(split_config), "--kpi", "nps_latest,fcr,resolution_time,aov,cac,mau_rolling"]
    want = json_report([*args, "--engine", "pandas"])
    got = json_report([*args, "--engine", "dask", "--scheduler", cluster])
    assert_same_json(got, want)


def test_dask_scheduler_address_from_the_environment_is_used(
    split_config: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import distributed

    def no_local_cluster(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("started a LocalCluster despite DASK_SCHEDULER_ADDRESS")

    monkeypatch.setattr(distributed, "LocalCluster", no_local_cluster)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster)
    args = ["-c", str(split_config), "--kpi", "nps,csat"]
    assert_same_json(json_report([*args, "--engine", "dask"]), json_report(args))


def test_file_url_glob_on_a_cluster_equals_pandas_on_local_files(
    split_config: Path, pandas_report: Reference, cluster: str
) -> None:
    got = run(
        load_config(split_config),
        engine="dask",
        scheduler=cluster,
        kpis=SURVEY_KPIS,
        inputs={"surveys": surveys_file_url(split_config)},
    )
    want = pandas_report(split_config, kpis=SURVEY_KPIS)
    assert_same_report(got, want, input_fields=("rows_read", "rows_used", "rows_dropped"))
    assert all(f["path"].startswith("file://") for f in got.inputs[0].files)


# -- 3. tiny batches -----------------------------------------------------------------------------

SMALL_KPIS = (
    "nps",
    "nps_latest",
    "csat",
    "fcr",
    "resolution_time",
    "aov",
    "repeat_rate",
    "churn_orders",
    "clv_orders",
    "cac",
)


def test_dask_with_64_byte_batches_equals_pandas_default(
    small_config: Path, pandas_report: Reference
) -> None:
    got = run(
        load_config(small_config),
        engine="dask",
        scheduler="synchronous",
        batch_bytes=64,
        kpis=SMALL_KPIS,
    )
    assert_same_report(got, pandas_report(small_config, kpis=SMALL_KPIS))
    assert dropped(got, "surveys", "duplicate response_id") == 1


# -- 4. fsspec URLs ------------------------------------------------------------------------------


@pytest.fixture
def memory_surveys(split_config: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The survey parts in fsspec's memory filesystem; yields a glob URL over them."""
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    bucket = f"cxkpi-{request.node.name}".replace("[", "-").replace("]", "")
    for part in sorted((split_config.parent / "parts").glob("surveys-*.csv")):
        memory.pipe(f"/{bucket}/{part.name}", part.read_bytes())
    yield f"memory://{bucket}/surveys-*.csv"
    memory.rm(f"/{bucket}", recursive=True)


def surveys_file_url(split_config: Path) -> str:
    return "file://" + str((split_config.parent / "parts").resolve()) + "/surveys-*.csv"


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_fsspec_url_globs_through_dask_equal_pandas_on_local_files(
    split_config: Path,
    pandas_report: Reference,
    scheme: str,
    request: pytest.FixtureRequest,
) -> None:
    url = (
        request.getfixturevalue("memory_surveys")
        if scheme == "memory"
        else surveys_file_url(split_config)
    )
    got = run(
        load_config(split_config),
        engine="dask",
        scheduler="synchronous",
        kpis=SURVEY_KPIS,
        inputs={"surveys": url},
    )
    want = pandas_report(split_config, kpis=SURVEY_KPIS)
    assert_same_report(got, want, input_fields=("rows_read", "rows_used", "rows_dropped", "fields"))
    (summary,) = got.inputs
    assert [f["sha256"] for f in summary.files] == [f["sha256"] for f in want.inputs[0].files]
    assert all(f["path"].startswith(f"{scheme}://") for f in summary.files)


def test_each_source_is_listed_once_on_dask(
    split_config: Path, pandas_report: Reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pre-check's listing is the one the run reads (an object-store glob costs requests)."""
    from cx_cli import files
    from cx_cli.cohort import cohort_matrix

    listed: list[Any] = []
    expand = files.expand

    def counted(path: Any, source: str) -> list[str]:
        listed.append(source)
        return expand(path, source)

    monkeypatch.setattr(files, "expand", counted)
    config = load_config(split_config)
    got = run(config, engine="dask", scheduler="synchronous", kpis=SURVEY_KPIS)
    assert listed == ["surveys"]
    assert len(got.inputs[0].files) > 1
    listed.clear()
    cohort_matrix(config, "orders", engine="dask", scheduler="synchronous")
    assert listed == ["orders"]


# -- 5. errors through the CLI -------------------------------------------------------------------


@pytest.fixture
def survey_yaml(tmp_path: Path, tiny_survey: Path) -> Path:
    return write_config(tmp_path, survey_config(tiny_survey))


def test_unknown_engine_is_refused_with_exit_2(survey_yaml: Path) -> None:
    result = invoke(["-c", str(survey_yaml), "--engine", "spark"])
    assert result.exit_code == 2
    assert "spark" in result.stderr and "--engine" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_engine_from_the_library_is_a_usage_error(survey_yaml: Path) -> None:
    with pytest.raises(UsageError, match="spark: unknown engine"):
        run(load_config(survey_yaml), engine="spark")


def test_dask_engine_without_dask_names_the_extra(
    survey_yaml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)  # `import dask` raises ImportError
    result = invoke(["-c", str(survey_yaml), "--engine", "dask"])
    assert_usage_error(result, "dask extra", "pip install 'cxkpi[dask]'")


def test_unreachable_scheduler_cannot_connect(survey_yaml: Path) -> None:
    # nothing listens on port 1: distributed retries until the 10 s connect timeout
    result = invoke(
        ["-c", str(survey_yaml), "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1"]
    )
    assert_usage_error(result, "--scheduler tcp://127.0.0.1:1", "cannot connect")
    assert "leave --scheduler out" in result.stderr.splitlines()[1]


def test_unreachable_scheduler_from_the_environment_cannot_connect(
    survey_yaml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import distributed

    real_client = distributed.Client

    def quick_client(address: str, **kwargs: Any) -> Any:  # the real Client, a 1 s timeout
        return real_client(address, **{**kwargs, "timeout": "1s"})

    monkeypatch.setattr(distributed, "Client", quick_client)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    result = invoke(["-c", str(survey_yaml), "--engine", "dask"])
    assert_usage_error(result, "DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:1", "cannot connect")
    assert "--scheduler tcp" not in result.stderr  # it was not given with --scheduler
    assert "unset DASK_SCHEDULER_ADDRESS" in result.stderr.splitlines()[1]
    assert "leave --scheduler out" not in result.stderr


def test_scheduler_needs_the_dask_engine(survey_yaml: Path) -> None:
    result = invoke(["-c", str(survey_yaml), "--scheduler", "synchronous"])
    assert_usage_error(result, "--scheduler needs --engine dask")


def test_misspelled_scheduler_is_a_usage_error(survey_yaml: Path) -> None:
    """A typo of a local scheduler's name is no address: exit 2, not an internal error."""
    result = invoke(["-c", str(survey_yaml), "--engine", "dask", "--scheduler", "threadz"])
    assert_usage_error(result, "--scheduler threadz")


def test_tls_scheduler_without_tls_settings_is_a_usage_error(survey_yaml: Path) -> None:
    address = "tls://127.0.0.1:1"
    result = invoke(["-c", str(survey_yaml), "--engine", "dask", "--scheduler", address])
    assert_usage_error(result, f"--scheduler {address}")


# -- 6. one plain file per source, and stdin -----------------------------------------------------


def test_dask_on_single_plain_csv_sources_prints_the_pandas_json() -> None:
    args = ["-c", str(EXAMPLE), "--kpi", "nps,csat,resolution_time,aov,repeat_rate,cac"]
    got = json_report([*args, "--engine", "dask", "--scheduler", "synchronous"])
    assert_same_json(got, json_report(args))


def assert_stdin_refused(result: CliResult, source: str) -> None:
    """Dask workers open the files themselves and cannot read the client's stdin, so stdin is
    refused with one error line saying so (never a misleading 'the file is empty')."""
    assert_usage_error(result, "stdin", f"'{source}'")
    assert "empty" not in result.stderr


@pytest.mark.parametrize(
    ("source", "kpis"), [("orders", "aov,repeat_rate"), ("surveys", "nps,csat")]
)  # surveys has dedupe: (a first pass over the ids would read stdin to its end)
def test_stdin_through_synchronous_dask_is_refused_clearly(source: str, kpis: str) -> None:
    args = ["-c", str(EXAMPLE), "--kpi", kpis, "--input", f"{source}=-"]
    data = (SAMPLE / f"{source}.csv").read_bytes()
    dask_args = [*args, "-f", "json", "-q", "--engine", "dask", "--scheduler", "synchronous"]
    assert_stdin_refused(invoke(dask_args, data), source)


def test_stdin_on_a_cluster_is_refused_clearly(cluster: str) -> None:
    """A worker process has its own stdin, not the client's."""
    args = ["-c", str(EXAMPLE), "--kpi", "aov", "--input", "orders=-"]
    data = (SAMPLE / "orders.csv").read_bytes()
    dask_args = [*args, "-f", "json", "-q", "--engine", "dask", "--scheduler", cluster]
    assert_stdin_refused(invoke(dask_args, data), "orders")


def test_a_worker_error_on_the_default_local_cluster_is_one_error_line() -> None:
    """With the LocalCluster cxkpi starts itself, a data error raised in a worker reaches the
    user as cxkpi's error and hint lines only (no distributed 'Compute Failed' traceback)."""
    command = [sys.executable, "-m", "cx_cli", "report", "-c", str(EXAMPLE), "--kpi", "aov"]
    command += ["--engine", "dask", "--input", f"orders={SAMPLE / 'surveys.csv'}", "-q"]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"},
        timeout=300,
        check=False,
    )
    error, hint = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert error.startswith("error: ") and "'Line Total' is not in the file" in error
    assert hint.startswith("hint: ")
    assert done.stderr.count("error:") == 1, done.stderr
    assert "Traceback" not in done.stderr and "Compute Failed" not in done.stderr


# -- cohorts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "metric"), [("orders", "revenue"), ("subscriptions", "customers")]
)
def test_cohorts_through_dask_equal_pandas(split_config: Path, source: str, metric: str) -> None:
    """Cohorts need every customer's history: rows read file by file on Dask, folded orders
    merged in file order, give the pandas engine's matrix."""
    from dataclasses import asdict

    from cx_cli.cohort import cohort_matrix

    config = load_config(split_config)
    want = cohort_matrix(config, source, metric=metric)
    got = cohort_matrix(config, source, metric=metric, engine="dask", scheduler="synchronous")
    assert want.cells, "the fixture must give cohorts"
    assert differences([asdict(c) for c in got.cells], [asdict(c) for c in want.cells]) == []
    assert [asdict(i) for i in got.inputs] == [asdict(i) for i in want.inputs]


def test_cohort_command_takes_the_dask_engine(split_config: Path) -> None:
    args = ["cohort", "-c", str(split_config), "--source", "orders", "-f", "json"]
    want = runner.invoke(app, args)
    got = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", "synchronous"])
    assert got.exit_code == want.exit_code == 0, got.output
    assert json.loads(got.stdout)["cells"] == json.loads(want.stdout)["cells"]


# -- what reaches the client ---------------------------------------------------------------------

GROUP_KEYS = ("_all", "_period", "seg:", "cohort", "offset")


def collections_in(value: Any) -> Iterator[Any]:
    """Every DataFrame, Series and set inside what a `dask.compute` returned."""
    import dataclasses

    import pandas as pd

    if isinstance(value, pd.DataFrame | pd.Series | set):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from collections_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from collections_in(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from collections_in(getattr(value, field.name))


@pytest.mark.parametrize("command", ["report", "cohort"])
def test_only_sums_per_group_reach_the_client(
    split_config: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Per-customer KPIs, cohorts and `dedupe:` work on the workers: every table the client
    gets back is indexed by group keys (or cohort and offset), never a frame of rows, and no
    set of ids comes back."""
    import dask

    from cx_cli.cohort import cohort_matrix

    returned: list[Any] = []
    compute = dask.compute

    def recorded(*graphs: Any, **options: Any) -> Any:
        returned.append(done := compute(*graphs, **options))
        return done

    monkeypatch.setattr(dask, "compute", recorded)
    config = load_config(split_config)
    if command == "report":
        run(config, engine="dask", scheduler="synchronous")
    else:
        for source in ("orders", "subscriptions"):
            cohort_matrix(config, source, engine="dask", scheduler="synchronous")
    found = list(collections_in(returned))
    assert not [ids for ids in found if isinstance(ids, set) and ids]  # dedupe: ids stay too
    tables = [table for table in found if not isinstance(table, set)]
    assert tables
    for table in tables:
        names = [str(n) for n in table.index.names]
        assert all(n.startswith(GROUP_KEYS) for n in names), (names, table.head())


def test_a_week_across_a_month_edge_counts_every_customer_on_dask(tmp_path: Path) -> None:
    """An ISO week belongs to the month of its Thursday but counts its other days' orders
    too, so WAU by month is not split by customer (review 11: c2 alone in a file was lost)."""
    header = ["id", "customer", "when", "amount"]
    first = write_csv(tmp_path / "a.csv", [("o1", "c1", "2025-02-27", 10)], header)
    second = write_csv(tmp_path / "b.csv", [("o2", "c2", "2025-03-01", 10)], header)
    columns = {
        "order_id": "id",
        "customer_id": "customer",
        "ordered_at": "when",
        "amount": "amount",
    }
    source = {"kind": "orders", "path": [str(first), str(second)], "columns": columns}
    document = {"version": 1, "sources": {"orders": source}, "kpis": ["wau"]}
    config = load_config(write_config(tmp_path, document))
    for period in ("month", "quarter"):
        want = run(config, period=period)
        got = run(config, period=period, engine="dask", scheduler="synchronous")
        assert_same_report(got, want)
        assert [r.value for r in got.results if r.period == "2025-02"] == [2.0] * (
            period == "month"
        )


def test_per_customer_tasks_grow_linearly_with_the_files() -> None:
    """Every file sends a piece to every bucket, so buckets are capped (review 11: one per
    file made 40,000 tasks for 200 files): twice the files, about twice the tasks."""
    assert tasks_to_split(200) <= 2.2 * tasks_to_split(100)


def tasks_to_split(files: int) -> int:
    """The number of Dask tasks that regroup `files` files' rows by customer."""
    import dask
    import pandas as pd

    from cx_cli import dask_engine

    rows = [dask.delayed(pd.DataFrame)({"customer_id": [str(i)]}) for i in range(files)]
    count = dask_engine._bucket_count([f"part-{i}.csv" for i in range(files)], slots=64)
    assert count == dask_engine.MAX_BUCKETS  # a big cluster: the most buckets
    splits = dask_engine._splits(rows, "customer_id", count)
    graph = dask.delayed(list)([dask.delayed(list)(s) for s in splits]).__dask_graph__()
    return len(dict(graph))  # distinct tasks


def test_orders_regrouped_by_order_id_keep_file_order_for_ties(tmp_path: Path) -> None:
    """Line items are folded in buckets of order ids, then regrouped by customer: the file
    order comes back, so a customer's two first orders at the same instant are still won by
    the one earlier in the files (its channel acquires the customer, as on pandas)."""
    import pandas as pd

    from cx_cli import dask_engine

    first, second = "o-1", "o-0"  # the later order's id hashes into the earlier bucket
    hashed = pd.util.hash_pandas_object(pd.Series([first, second], dtype="string"), index=False)
    assert list(hashed.to_numpy() % 2) == [1, 0]
    assert dask_engine._bucket_count(["a", "b"], slots=1) == 2  # synchronous splits too
    header = ["id", "customer", "when", "amount", "channel"]
    a = write_csv(tmp_path / "a.csv", [(first, "c1", "2025-01-05 10:00", 10, "web")], header)
    b = write_csv(tmp_path / "b.csv", [(second, "c1", "2025-01-05 10:00", 20, "shop")], header)
    spend = write_csv(
        tmp_path / "spend.csv",
        [("2025-01-01", "web", 100), ("2025-01-01", "shop", 100)],
        ["date", "channel", "amount"],
    )
    columns = {
        "order_id": "id",
        "customer_id": "customer",
        "ordered_at": "when",
        "amount": "amount",
    }
    document = {
        "version": 1,
        "sources": {
            "orders": {
                "kind": "orders",
                "path": [str(a), str(b)],
                "columns": columns,
                "segments": {"channel": "channel"},
            },
            "spend": {
                "kind": "spend",
                "path": str(spend),
                "columns": {"date": "date", "amount": "amount", "channel": "channel"},
                "segments": {"channel": "channel"},
            },
        },
        "kpis": [{"kpi": "cac", "sources": {"spend": "spend", "customers": "orders"}}],
    }
    config = load_config(write_config(tmp_path, document))
    want = run(config, by=("channel",))
    got = run(config, by=("channel",), engine="dask", scheduler="synchronous")
    assert_same_report(got, want)
    web = [r for r in want.results if r.segment == {"channel": "web"}]
    assert [r.value for r in web] == [100.0]


@given(
    files=st.lists(st.sets(st.sampled_from("abcdefgh")), min_size=1, max_size=5),
    buckets=st.integers(1, 4),
)
@settings(max_examples=30, deadline=None)
def test_dedupe_buckets_find_each_files_repeats(files: list[set[str]], buckets: int) -> None:
    """`dedupe:`'s first pass, with ids hashed into buckets, gives every file the ids an
    earlier file had, as one pass over all the ids does."""
    import types

    import dask

    from cx_cli import dask_engine

    reader = types.SimpleNamespace(spec=types.SimpleNamespace(dedupe="id"))
    paths = [str(n) for n in range(len(files))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dask_engine, "_file_ids", lambda _, path: files[int(path)])
        seen = dask_engine._seen_ids(reader, paths, buckets)  # type: ignore[arg-type]
        got = list(dask.compute(*seen, scheduler="synchronous"))
    want, before = [], set()
    for ids in files:
        want.append(ids & before)
        before |= ids
    assert got == want


def test_a_middle_file_in_another_encoding_is_named_by_both_engines(tmp_path: Path) -> None:
    """Each file's encoding is guessed on its own; a non-UTF-8 one is named in a warning,
    wherever it lies in the list, and both engines report the source alike (new-user 13:
    a cp1252 file in the middle went unmentioned, and the engines' inputs differed)."""
    header = "id,when,customer,channel,nps,csat,ces\n"
    parts = []
    for n, (channel, encoding) in enumerate(
        [("web", "utf-8"), ("café", "cp1252"), ("app", "utf-8")]
    ):
        part = tmp_path / f"part-{n}.csv"
        part.write_bytes((header + f"{n},2025-01-0{n + 1},c{n},{channel},9,5,7\n").encode(encoding))
        parts.append(str(part))
    document = survey_config(parts[0])
    document["sources"]["surveys"]["path"] = parts
    config = load_config(write_config(tmp_path, document))
    want = run(config, by=("channel",))
    got = run(config, by=("channel",), engine="dask", scheduler="synchronous")
    assert_same_report(got, want)
    for report in (want, got):
        warned = [w for w in report.warnings if "not UTF-8" in w]
        assert warned == [
            f"surveys: {parts[1]} is not UTF-8; read as cp1252 "
            "(set encoding: under the source to be sure)"
        ]
        assert {r.segment["channel"] for r in report.results if r.segment} == {"web", "café", "app"}


def test_local_cluster_workers_start_ignoring_ctrl_c() -> None:
    """Processes started while the local cluster starts inherit an ignored SIGINT, so Ctrl-C
    stops cxkpi alone ("interrupted", exit 130), which closes the cluster, instead of every
    worker printing a traceback (new-user test 13: 13-95 lines); cxkpi's own handler is back
    once they have started."""
    import signal

    from cx_cli import dask_engine

    before = signal.getsignal(signal.SIGINT)
    probe = [sys.executable, "-c", "import signal as s; print(s.getsignal(s.SIGINT) == s.SIG_IGN)"]
    with dask_engine._workers_ignore_interrupts():
        inherited = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert inherited.strip() == "True"
    assert signal.getsignal(signal.SIGINT) is before


def test_bad_paths_are_refused_before_a_scheduler_is_reached() -> None:
    """Stdin and a pattern matching nothing are refused at once: the unreachable scheduler
    is never tried, so the user does not wait for its timeout first (new-user test 13)."""
    unreachable = ["--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "-q"]
    stdin = invoke(["-c", str(EXAMPLE), "--kpi", "nps", "--input", "surveys=-", *unreachable])
    assert_stdin_refused(stdin, "surveys")
    nothing = invoke(["-c", str(EXAMPLE), "--input", "orders=/nowhere/orders-*.csv", *unreachable])
    assert nothing.exit_code == 1, nothing.output
    assert "no files match" in nothing.stderr and "scheduler" not in nothing.stderr
    cohort = runner.invoke(
        app,
        ["cohort", "-c", str(EXAMPLE), "--source", "orders", "--input", "orders=-", *unreachable],
    )
    assert_stdin_refused(cohort, "orders")


def test_relative_paths_reach_the_workers_absolute_and_are_reported_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker opens a relative path in its own folder, so the client, which listed the
    glob, hands the tasks absolute paths; the report's `inputs[].files` names the files as
    the pandas engine does, as listed from the relative `--input`."""
    import cx_cli.dask_engine as engine

    (tmp_path / "parts").mkdir()
    names = [p.name for p in split_source("surveys", tmp_path / "parts", every=1)]
    monkeypatch.chdir(tmp_path)
    opened: list[str] = []
    file_scan = engine._file_scan

    def recording(reader: Any, path: str, *args: Any) -> Any:
        opened.append(path)
        return file_scan(reader, path, *args)

    monkeypatch.setattr(engine, "_file_scan", recording)
    args = ["-c", str(EXAMPLE), "--kpi", "nps", "--input", "surveys=parts/*.csv"]
    on_dask = json_report([*args, "--engine", "dask", "--scheduler", "synchronous"])
    on_pandas = json_report(args)
    assert sorted(opened) == [str(tmp_path / "parts" / name) for name in names]
    assert [f["path"] for f in on_dask["inputs"][0]["files"]] == [f"parts/{n}" for n in names]
    assert on_dask["inputs"][0]["files"] == on_pandas["inputs"][0]["files"]


def test_warnings_and_errors_name_files_as_given_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `inputs[].files`: a guessed encoding's warning and a damaged file's error name the
    file as listed from the relative --input, on both engines alike (scale test 4)."""
    (tmp_path / "parts").mkdir()
    text = (SAMPLE / "surveys.csv").read_text(encoding="utf-8")
    header, *rows = text.splitlines(keepends=True)
    (tmp_path / "parts" / "a.csv").write_text(header + "".join(rows[:50]), encoding="utf-8")
    latin = header + "".join(rows[50:100]).replace("North America", "Amérique du Nord")
    (tmp_path / "parts" / "b.csv").write_bytes(latin.encode("cp1252", errors="replace"))
    monkeypatch.chdir(tmp_path)
    args = ["-c", str(EXAMPLE), "--kpi", "nps", "--input", "surveys=parts/*.csv"]
    on_dask = json_report([*args, "--engine", "dask", "--scheduler", "synchronous"])
    on_pandas = json_report(args)
    assert any("parts/b.csv is not UTF-8" in w for w in on_dask["warnings"])
    assert on_dask["warnings"] == on_pandas["warnings"]
    (tmp_path / "parts" / "c.csv.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"damaged" * 20)
    every = [*args[:-1], "surveys=parts/*"]
    failed = invoke([*every, "--engine", "dask", "--scheduler", "synchronous"])
    assert failed.exit_code == 1
    assert "error: parts/c.csv.gz: cannot decompress" in failed.stderr
    assert str(tmp_path) not in failed.stderr


def test_a_url_folder_mixing_parquet_and_csv_is_refused() -> None:
    """As for a local folder (tests/test_inputs.py): the CSV rows would be left out."""
    fsspec = pytest.importorskip("fsspec")
    from cx_cli.dask_engine import check_paths
    from cx_cli.errors import InputError

    memory = fsspec.filesystem("memory")
    memory.pipe("/cxkpi-mixed/1.parquet", b"PAR1")
    memory.pipe("/cxkpi-mixed/sub/2.csv", b"id\n1\n")
    try:
        with pytest.raises(InputError, match=r"holds Parquet files and CSV files \(2.csv\)"):
            check_paths("surveys", "memory://cxkpi-mixed")
        memory.rm("/cxkpi-mixed/sub", recursive=True)
        (only,) = check_paths("surveys", "memory://cxkpi-mixed")
        assert only.startswith("memory://") and only.endswith("/cxkpi-mixed/1.parquet")
    finally:
        memory.rm("/cxkpi-mixed", recursive=True)


class _Client:
    def __init__(self, status: str) -> None:
        self.status = status


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        ("cancelled", "connecting"),  # distributed's FutureCancelledError: connection lost
        ("comm", "closed"),  # CommClosedError, an OSError, once the client has given up
    ],
)
def test_a_scheduler_lost_during_the_run_is_one_error_line(raised: str, status: str) -> None:
    """Not distributed's reconnection traceback and an internal error (scale test 2)."""
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    from cx_cli.dask_engine import _scheduler_kept
    from cx_cli.errors import InputError

    error = CancelledError("lost") if raised == "cancelled" else CommClosedError("closed")
    lost = pytest.raises(InputError, match="connection to the Dask scheduler was lost")
    with lost, _scheduler_kept(_Client(status), "--scheduler tcp://h:8786"):
        raise error


@pytest.mark.parametrize("error", [PermissionError("a worker's own"), CancelledError("by hand")])
def test_an_error_while_the_scheduler_is_up_is_not_called_a_lost_connection(
    error: Exception,
) -> None:
    from cx_cli.dask_engine import _scheduler_kept

    with pytest.raises(type(error)), _scheduler_kept(_Client("running"), "tcp://h:8786"):
        raise error
