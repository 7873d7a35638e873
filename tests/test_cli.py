"""The command line as a user runs it: every command and format, stdin, files, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cx_cli.cli import app
from cx_cli.kpis import names as kpi_names
from cx_cli.render import json_text
from tests.conftest import survey_config, write_config

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, tiny_survey: Path) -> Path:
    return write_config(tmp_path, survey_config(tiny_survey, period="month", by=["channel"]))


def test_json_report_follows_the_contract(config: Path) -> None:
    result = runner.invoke(app, ["report", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    assert document["tool"]["name"] == "cxkpi"
    assert document["settings"]["engine"] == "pandas"
    assert len(document["config"]["sha256"]) == 64
    (source,) = document["inputs"]
    assert (source["rows_read"], source["rows_used"], source["rows_dropped"]) == (10, 10, {})
    overall = [r for r in document["results"] if r["period"] is None and r["segment"] == {}]
    assert [r["kpi"] for r in overall] == ["nps", "csat", "ces"]
    fields = [
        "kpi",
        "source",
        "period",
        "segment",
        "value",
        "unit",
        "n",
        "ci_low",
        "ci_high",
        "ci_method",
        "confidence",
        "detail",
        "variant",
        "low_sample",
        "target",
        "status",
        "previous",
        "change",
        "p_value",
        "label",
    ]
    assert all(list(r) == fields for r in document["results"])
    assert overall[0]["value"] == pytest.approx(100 / 9)


def test_json_has_one_line_per_result_for_grep_and_diff(config: Path) -> None:
    result = runner.invoke(app, ["report", "-c", str(config), "--format", "json", "-q"])
    document = json.loads(result.stdout)
    lines = [line.strip().rstrip(",") for line in result.stdout.splitlines()]
    for row in [*document["results"], *document["inputs"], *document["definitions"]]:
        assert json.dumps(row, ensure_ascii=False) in lines
    assert lines[:2] == ["{", '"schema_version": 1'] and lines[-1] == "}"
    checked = runner.invoke(app, ["validate", "-c", str(config), "--format", "json"])
    (source,) = json.loads(checked.stdout)["sources"]
    assert checked.stdout.splitlines()[3] == f"    {json.dumps(source, ensure_ascii=False)}"


def test_json_items_stay_one_line_whatever_line_breaks_their_text_holds() -> None:
    """JSON allows U+0085, U+2028 and U+2029 unescaped, but `splitlines` breaks lines at them
    (new-user test 15): they are escaped, so each item is still one line."""
    document = {"results": [{"segment": {"channel": f"a{c}b"}} for c in "\x85\u2028\u2029\n"]}
    text = json_text(document)
    assert json.loads(text) == document
    assert len(text.splitlines()) == 2 + len(document["results"]) + 2  # {, "results": [, ], }


def test_json_is_strict_without_nan(tmp_path: Path) -> None:
    from tests.conftest import write_csv

    path = write_csv(tmp_path / "s.csv", [(1, "2024-01-01", "a", "x", 9, None, None)])
    config = write_config(
        tmp_path, survey_config(path, ["nps", {"kpi": "csat", "variant": "mean"}])
    )
    result = runner.invoke(app, ["report", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "NaN" not in result.stdout
    document = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(c))
    csat = next(r for r in document["results"] if r["kpi"] == "csat")
    assert (csat["value"], csat["n"]) == (None, 0)


def test_csv_report_is_tidy_long_with_segment_and_detail_columns(config: Path) -> None:
    result = runner.invoke(app, ["report", "-c", str(config), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    header = list(rows[0])
    assert header[:4] == ["kpi", "source", "period", "channel"]
    assert "detail.promoters" in header
    nps = [r for r in rows if r["kpi"] == "nps" and r["period"] == "" and r["channel"] == ""]
    assert float(nps[0]["value"]) == pytest.approx(100 / 9)
    assert nps[0]["detail.promoters"] == "4"
    # 3 KPIs x (overall + 2 months + 2 channels + 4 month x channel cells)
    assert len(rows) == 3 * 9


def test_csv_report_neutralises_formulas_in_segment_labels(tmp_path: Path) -> None:
    from tests.conftest import write_csv

    path = write_csv(
        tmp_path / "s.csv",
        [
            (1, "2024-01-01", "a", '=HYPERLINK("x")', 9, 5, 7),
            (2, "2024-01-01", "b", "@SUM(A1)", 10, 4, 6),
            (3, "2024-01-01", "c", "-5", 3, 2, 1),
        ],
    )
    config = write_config(tmp_path, survey_config(path, ["nps"], by=["channel"]))
    result = runner.invoke(app, ["report", "-c", str(config), "--format", "csv"])
    labels = {r["channel"] for r in csv.DictReader(io.StringIO(result.stdout))}
    assert labels == {"", '\'=HYPERLINK("x")', "'@SUM(A1)", "-5"}
    hostile = runner.invoke(app, ["report", "-c", str(config), "--format", "json"])
    assert '=HYPERLINK(\\"x\\")' in hostile.stdout  # JSON escapes, does not alter


def test_markdown_and_table_show_every_kpi_and_data_quality(config: Path) -> None:
    for fmt in ("markdown", "table"):
        result = runner.invoke(app, ["report", "-c", str(config), "--format", fmt])
        assert result.exit_code == 0, result.output
        for title in (
            "Net Promoter Score",
            "Customer satisfaction",
            "Customer effort score",
            "Data quality",
        ):
            assert title in result.stdout
        assert "\x1b[" not in result.stdout  # no colour when stdout is not a terminal
    markdown = runner.invoke(app, ["report", "-c", str(config), "--format", "markdown"]).stdout
    assert "| all | All | +11 |" in markdown


def test_stdin_input_with_dash(config: Path, tiny_survey: Path) -> None:
    result = runner.invoke(
        app,
        ["report", "-c", str(config), "--input", "surveys=-", "--format", "json", "--kpi", "nps"],
        input=tiny_survey.read_bytes(),
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["inputs"][0]["path"] == "<stdin>"
    assert document["results"][0]["n"] == 9


def test_output_file_is_written_and_stdout_stays_empty(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old report")
    result = runner.invoke(app, ["report", "-c", str(config), "-f", "json", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert json.loads(target.read_text())["schema_version"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []


def test_failed_render_leaves_the_existing_report_intact(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cx_cli.output

    target = tmp_path / "out.json"
    target.write_text("old report")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cx_cli.output.os, "fsync", broken_fsync)
    result = runner.invoke(app, ["report", "-c", str(config), "-f", "json", "-o", str(target)])
    assert result.exit_code != 0
    assert target.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_written_report_gets_normal_permissions_and_a_replaced_one_keeps_its_own(
    config: Path, tmp_path: Path
) -> None:
    """The temp file behind the atomic replace is owner-only (0600); the report was too, so a
    dashboard running as another user lost a nightly report after its first run."""
    fresh, kept = tmp_path / "new.json", tmp_path / "old.json"
    kept.write_text("old report")
    kept.chmod(0o640)
    mask = os.umask(0o022)
    try:
        for target in (fresh, kept):
            args = ["report", "-c", str(config), "-f", "json", "-o", str(target)]
            assert runner.invoke(app, args).exit_code == 0
    finally:
        os.umask(mask)
    assert (fresh.stat().st_mode & 0o777, kept.stat().st_mode & 0o777) == (0o644, 0o640)


def test_output_onto_an_input_or_the_config_is_refused(
    config: Path, tiny_survey: Path, tmp_path: Path
) -> None:
    """-o onto the export read (directly or through a link) or onto the config exits 1 and
    leaves it as it was: inputs are never modified."""
    link = tmp_path / "link.csv"
    link.symlink_to(tiny_survey)
    export, settings = tiny_survey.read_bytes(), config.read_bytes()
    for target in (tiny_survey, link, config):
        args = ["report", "-c", str(config), "-f", "csv", "-o", str(target)]
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "it is a file this run read" in result.stderr
        assert "hint: choose another -o path" in result.stderr
    assert (tiny_survey.read_bytes(), config.read_bytes()) == (export, settings)


def test_output_through_a_symlink_replaces_the_file_and_keeps_the_link(
    config: Path, tmp_path: Path
) -> None:
    real = tmp_path / "reports" / "latest.json"
    real.parent.mkdir()
    real.write_text("old report")
    link = tmp_path / "out.json"
    link.symlink_to(real)
    result = runner.invoke(app, ["report", "-c", str(config), "-f", "json", "-o", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and json.loads(real.read_text())["schema_version"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_output_into_a_named_pipe_goes_to_its_reader(config: Path, tmp_path: Path) -> None:
    """A FIFO cannot be replaced by a renamed file: the report is written into it (the
    atomic replace made a regular file of it, and the reader waited for ever)."""
    import threading

    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    result = runner.invoke(app, ["report", "-c", str(config), "-f", "json", "-o", str(fifo)])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert json.loads(received[0])["schema_version"] == 1
    assert fifo.is_fifo()


def test_fail_on_miss_exits_3_only_when_a_checked_target_is_missed(
    tmp_path: Path, tiny_survey: Path
) -> None:
    missed = write_config(
        tmp_path, survey_config(tiny_survey, [{"kpi": "nps", "target": 90}]), "missed.yaml"
    )
    result = runner.invoke(app, ["report", "-c", str(missed), "--fail-on-miss", "-f", "json"])
    assert result.exit_code == 3
    assert "target missed" in result.stderr
    met = write_config(
        tmp_path, survey_config(tiny_survey, [{"kpi": "nps", "target": -90}]), "met.yaml"
    )
    assert runner.invoke(app, ["report", "-c", str(met), "--fail-on-miss"]).exit_code == 0
    without = runner.invoke(app, ["report", "-c", str(missed)])
    assert without.exit_code == 0


def test_fail_on_miss_checks_only_the_latest_period(tmp_path: Path, tiny_survey: Path) -> None:
    # CSAT top-2-box: January 2 of 5 (Wilson upper 76.9 %) misses 80; February 4 of 4 (Wilson
    # [51.0, 100]) and overall 6 of 9 ([35.4, 87.9]) are inconclusive against 80.
    config = write_config(
        tmp_path, survey_config(tiny_survey, [{"kpi": "csat", "target": 80}], period="month")
    )
    result = runner.invoke(app, ["report", "-c", str(config), "--fail-on-miss", "-f", "json"])
    document = json.loads(result.stdout)
    statuses = {r["period"]: r["status"] for r in document["results"]}
    assert statuses == {None: "inconclusive", "2024-01": "missed", "2024-02": "inconclusive"}
    assert result.exit_code == 0


def test_validate_reports_row_accounting_per_source(config: Path) -> None:
    result = runner.invoke(app, ["validate", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    (source,) = json.loads(result.stdout)["sources"]
    assert source["rows_read"] == 10
    assert source["fields"]["nps"] == {"blank": 1, "valid": 9}
    assert source["delimiter"] == ","
    table = runner.invoke(app, ["validate", "-c", str(config)])
    assert "10 read, 10 used" in table.stdout


def test_kpis_lists_and_explains(config: Path) -> None:
    listing = runner.invoke(app, ["kpis"])
    assert listing.exit_code == 0
    assert all(name in listing.stdout for name in ("nps", "csat", "ces"))
    explained = runner.invoke(app, ["kpis", "nps"])
    assert "promoter 9-10" in explained.stdout and "adjusted-Wald" in explained.stdout
    unknown = runner.invoke(app, ["kpis", "npx"])
    assert unknown.exit_code == 2 and "did you mean 'nps'" in unknown.stderr


def test_kpis_name_shows_option_values_as_a_config_writer_reads_them() -> None:
    explained = runner.invoke(app, ["kpis", "nps"]).stdout
    assert "  variant: standard | latest_per_customer (default: standard)" in explained
    assert "  interval: adjusted-wald | wald (default: adjusted-wald)" in explained
    csat = runner.invoke(app, ["kpis", "csat"]).stdout
    assert "  scale: [low, high] (whole numbers) (default: unset)" in csat
    assert "  threshold: a number (default: unset)" in csat
    fcr = runner.invoke(app, ["kpis", "fcr"]).stdout
    assert "  solved_statuses: a list of texts (default: [solved, closed, resolved])" in fcr
    assert "  use_reopened: true or false (default: unset)" in fcr
    for name in kpi_names():  # no Python type syntax for any option of any KPI
        options = runner.invoke(app, ["kpis", name]).stdout.split("options (", 1)[1]
        python = re.search(r"Literal|typing|\b(None|str|int|float|bool|tuple)\b", options)
        assert python is None, (name, options)


def test_python_dash_m_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cx_cli", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("cxkpi ")


def test_help_and_kpis_do_not_import_pandas() -> None:
    code = (
        "import sys\nfrom cx_cli.cli import app\n"
        "for args in (['--help'], ['kpis'], ['report', '--help']):\n"
        "    try:\n        app(args)\n    except SystemExit:\n        pass\n"
        "print('pandas' in sys.modules, 'pyarrow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize("args", [["kpis"], ["kpis", "nps"], ["kpis", "repeat_rate"]])
def test_the_console_script_prints_the_catalogue_as_typer_would_without_loading_it(
    args: list[str],
) -> None:
    code = (
        "import sys\nfrom cx_cli.launch import main\n"
        f"sys.argv = ['cxkpi', *{args!r}]\nmain()\n"
        "print('typer' in sys.modules, 'pandas' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "False False"
    assert done.stdout == runner.invoke(app, args).stdout


@pytest.mark.parametrize("args", [["kpis", "npx"], ["kpis", "--help"], ["kpis", "nps", "csat"]])
def test_the_console_script_leaves_other_kpis_calls_to_typer(args: list[str]) -> None:
    code = f"import sys\nfrom cx_cli.launch import main\nsys.argv = ['cxkpi', *{args!r}]\nmain()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    expected = runner.invoke(app, args, prog_name="cxkpi")
    assert (done.returncode, done.stdout) == (expected.exit_code, expected.stdout)
    assert done.stderr == expected.stderr


def test_sample_config_mixing_every_source_kind_runs_end_to_end() -> None:
    result = runner.invoke(app, ["report", "-c", str(ROOT / "config.example.yaml"), "-f", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    kinds = {"surveys": 2400, "tickets": 3000, "orders": 6018, "subscriptions": 1196,
             "spend": 2284, "web": 12006}  # fmt: skip
    assert {i["source"]: i["rows_read"] for i in document["inputs"]} == kinds
    for item in document["inputs"]:
        assert item["rows_read"] == item["rows_used"] + sum(item["rows_dropped"].values())
    overall = {r["label"]: r for r in document["results"] if r["period"] is None}
    assert set(overall) == {d["label"] for d in document["definitions"]}
    assert {"nps", "fcr", "aov", "churn", "cac", "conversion_rate"} <= set(overall)
    assert all(r["value"] is not None for r in overall.values()), [
        k for k, r in overall.items() if r["value"] is None
    ]


def test_cohort_command_prints_the_matrix_and_writes_long_form(tmp_path: Path) -> None:
    config = str(ROOT / "config.example.yaml")
    table = runner.invoke(app, ["cohort", "-c", config, "--source", "orders"])
    assert table.exit_code == 0, table.output
    assert "2025-01" in table.stdout
    target = tmp_path / "cohorts.csv"
    written = runner.invoke(
        app, ["cohort", "-c", config, "--source", "subscriptions", "-f", "csv", "-o", str(target)]
    )
    assert written.exit_code == 0, written.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    first = [r for r in rows if r["months_since_first"] == "0"]
    assert first and all(r["cohort"] for r in first)
    assert {r["complete"] for r in rows} <= {"true", "false"}
    cells = json.loads(
        runner.invoke(
            app, ["cohort", "-c", config, "--source", "orders", "--metric", "revenue", "-f", "json"]
        ).stdout
    )["cells"]
    assert all(c["value"] == pytest.approx(100.0) for c in cells if c["months_since_first"] == 0)


def test_cohort_command_refuses_an_unknown_metric() -> None:
    result = runner.invoke(
        app,
        [
            "cohort",
            "-c",
            str(ROOT / "config.example.yaml"),
            "--source",
            "orders",
            "--metric",
            "profit",
        ],
    )
    assert result.exit_code == 2
    assert "profit" in result.stderr


def test_init_drafts_a_config_that_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sample = ROOT / "sample_data" / "surveys.csv"
    monkeypatch.chdir(tmp_path)
    drafted = runner.invoke(app, ["init", str(sample)])
    assert drafted.exit_code == 0, drafted.output
    assert (tmp_path / "cxkpi.yaml").exists()
    assert "check the mapping, then run" in drafted.stderr  # the sample needs no guesses
    report = runner.invoke(app, ["report", "-f", "json"])  # ./cxkpi.yaml is the default
    assert report.exit_code == 0, report.output
    assert {r["kpi"] for r in json.loads(report.stdout)["results"]} >= {"nps", "csat", "ces"}
    again = runner.invoke(app, ["init", str(sample)])
    assert again.exit_code == 2 and "--force" in again.stderr


def test_ctrl_c_exits_130_with_one_line_and_no_output_file(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cx_cli.output

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    target = tmp_path / "out.json"
    monkeypatch.setattr(cx_cli.output.os, "fsync", interrupted)
    result = runner.invoke(app, ["report", "-c", str(config), "-f", "json", "-o", str(target)])
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted: no report written"
    assert list(tmp_path.glob("*out.json*")) == []


def test_the_console_script_exits_at_once_with_its_output_exit_code_and_atexit_handlers() -> None:
    """`console` skips the interpreter's teardown (os._exit) after flushing output and running
    atexit handlers: nothing a finished command wrote may be lost, and its exit code stays."""
    config = str(ROOT / "config.example.yaml")
    code = (
        "import atexit, sys\nfrom cx_cli.launch import console\n"
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        "atexit.register(lambda: print('also on stdout'))\n"
        "class Teardown:\n    def __del__(self):\n        print('teardown', file=sys.stderr)\n"
        "kept = Teardown()\n"
        "sys.argv = ['cxkpi', *sys.argv[1:]]\nconsole()"
    )
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    ok = subprocess.run(
        [sys.executable, "-c", code, "report", "-c", config, "-f", "json"],
        capture_output=True,
        text=True,
        env=buffered,  # as in cron: stdout is a buffered pipe
    )
    assert ok.returncode == 0
    document, after = ok.stdout.rsplit("}\n", 1)
    assert len(json.loads(document + "}")["results"]) > 100  # the whole document, flushed
    assert after == "also on stdout\n"  # atexit handlers run before the last flush
    assert ok.stderr.splitlines()[-1] == "atexit ran"  # and no module teardown after it
    missing = subprocess.run(
        [sys.executable, "-c", code, "report", "-c", config, "--input", "surveys=nosuch.csv"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1 and missing.stderr.splitlines()[-1] == "atexit ran"
    usage = subprocess.run(
        [sys.executable, "-c", code, "report", "-c", config, "--period", "fortnight"],
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 2 and "fortnight" in usage.stderr


@pytest.mark.parametrize(
    "shell",
    [
        "python -m cx_cli --version >&-",
        "python -m cx_cli report -c config.example.yaml -q -f csv 2>&- | wc -c",
        "python -m cx_cli report -c config.example.yaml -f csv 2>&- | wc -c",
        "python -m cx_cli validate -c config.example.yaml 2>&- | wc -c",
        "python -m cx_cli report -c config.example.yaml -q -f csv <&- | wc -c",
    ],
)
def test_a_stream_closed_from_the_start_does_not_change_the_exit_code(shell: str) -> None:
    """A command started with stdout or stderr closed (`>&-`) sees None there; the exit path
    must not fail on it (the report itself still reaches the pipe)."""
    script = f"set -o pipefail; {shell.replace('python', shlex.quote(sys.executable), 1)}"
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["kpis", "report -c config.example.yaml -q -f json"])
def test_output_to_a_closed_stdout_is_an_error_line(command: str) -> None:
    script = f"{shlex.quote(sys.executable)} -m cx_cli {command} >&-"
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot write to stdout: it is closed"), done.stderr


def test_reading_a_closed_stdin_is_an_error_line() -> None:
    script = (
        f"{shlex.quote(sys.executable)} -m cx_cli report -c config.example.yaml -q "
        "--input surveys=- <&-"
    )
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: -: stdin is closed (source 'surveys')"), done.stderr


def test_the_table_fits_an_80_column_terminal_without_cutting_cells() -> None:
    """Below 100 columns the tables drop their boxes: NPS by quarter and channel, with its
    targets and changes, fits 80 columns and no KPI cell is cut ("~ inconclusive", not
    "inconclusi…"); at 110 the boxed look stays."""
    from cx_cli import load_config, render, run

    report = run(load_config(ROOT / "config.example.yaml"), period="quarter", by=("channel",))
    narrow = render(report, "table", width=80)
    kpi_tables = narrow.split("Data quality")[0]
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "~ inconclusive" in kpi_tables and "…" not in kpi_tables
    assert "┃" not in narrow and "┃" in render(report, "table", width=110)


@pytest.mark.parametrize(
    ("change", "unit", "shown"),
    [
        (0.004, "%", ("= 0.0 pp", "flat")),  # rounds to nothing: no direction to show
        (-0.06, "%", ("▼ 0.1 pp", "bad")),
        (2.0, "points", ("▲ 2", "good")),
        (0.0, "points", ("= 0", "flat")),
    ],
)
def test_a_change_too_small_to_show_gets_no_arrow(
    change: float, unit: str, shown: tuple[str, str]
) -> None:
    from cx_cli.render.humanise import change as humanised
    from cx_cli.report import Result

    row = Result(
        *("nps", "surveys", "2025-02", {}, 30.0, unit, 100, None, None, None, 0.95, {}, ""),
        low_sample=False,
        change=change,
    )
    assert humanised(row, True) == shown


def test_by_none_groups_by_no_segment_whatever_the_config_says(
    tmp_path: Path, tiny_survey: Path
) -> None:
    """Like --period none: the config's report.by is [channel], --by none leaves it out."""
    config = write_config(tmp_path, survey_config(tiny_survey, ["nps"], by=["channel"]))
    args = ["report", "-c", str(config), "-f", "json"]
    grouped = json.loads(runner.invoke(app, args).stdout)["results"]
    plain = json.loads(runner.invoke(app, [*args, "--by", "none"]).stdout)["results"]
    assert any(r["segment"] for r in grouped)
    assert [r["segment"] for r in plain] == [{}]


def test_csv_neutralises_text_that_float_reads_and_header_cells(tmp_path: Path) -> None:
    """ "-inf", "-nan" and "+1_000" are text to cxkpi, so they are prefixed like any text
    starting with a sign; a plain number stays; a segment name from the config is a header
    cell, neutralised too (audit 19)."""
    from tests.conftest import write_csv

    labels = ["-inf", "-nan", "+1_000", "-Infinity", "-5", "+1.5e3"]
    path = write_csv(
        tmp_path / "s.csv",
        [(i, "2024-01-01", "c", label, 9, 5, 7) for i, label in enumerate(labels)],
    )
    document = survey_config(path, ["nps"], by=["=seg"])
    document["sources"]["surveys"]["segments"] = {"=seg": "channel"}
    config = write_config(tmp_path, document)
    result = runner.invoke(app, ["report", "-c", str(config), "--format", "csv"])
    assert result.exit_code == 0, result.output
    header, *rows = list(csv.reader(io.StringIO(result.stdout)))
    assert "'=seg" in header and "=seg" not in header
    shown = {row[header.index("'=seg")] for row in rows} - {""}
    assert shown == {"'-inf", "'-nan", "'+1_000", "'-Infinity", "-5", "+1.5e3"}


def test_a_segment_target_is_chosen_by_the_targets_order_not_by_the_order_of_by(
    tmp_path: Path,
) -> None:
    """A phone/EU row matches `channel: {phone: 40}` and `region: {EU: 80}`: the segment
    listed first in the target wins whatever --by says (it was the first in --by, so the same
    row was met with --by channel,region and missed with --by region,channel)."""
    from tests.conftest import write_csv

    # phone/EU: 24 of 40 answers are 4-5 -> CSAT 60; email/US: all 5
    rows = [(i, "2024-01-01", f"p{i}", "phone", 9, 5 if i < 24 else 1, 7) for i in range(40)]
    rows += [(100 + i, "2024-01-01", f"e{i}", "email", 9, 5, 7) for i in range(10)]
    header = ["id", "when", "customer", "channel", "nps", "csat", "ces"]
    path = write_csv(
        tmp_path / "s.csv",
        [(*r, "EU" if r[3] == "phone" else "US") for r in rows],
        header=[*header, "region"],
    )
    target = {"value": 90, "segments": {"channel": {"phone": 40}, "region": {"EU": 80}}}
    document = survey_config(path, [{"kpi": "csat", "target": target}], min_n=1)
    document["sources"]["surveys"]["segments"] = {"channel": "channel", "region": "region"}
    config = write_config(tmp_path, document)
    for by in ("channel,region", "region,channel"):
        result = runner.invoke(app, ["report", "-c", str(config), "--by", by, "-f", "json"])
        assert result.exit_code == 0, result.output
        (row,) = [
            r for r in json.loads(result.stdout)["results"] if r["segment"].get("region") == "EU"
        ]
        assert (row["value"], row["target"], row["status"]) == (60.0, 40.0, "met")


def test_an_answerless_latest_period_is_low_sample_and_does_not_hide_a_miss(
    tmp_path: Path,
) -> None:
    """January: 200 CSAT answers of 5; March: 40 of 1 (0 %, target 75: missed); April: one
    response without a CSAT answer, n 0. The overall row (83 %) meets the target, so only
    March can fail the run. Every row under min_n is low_sample, with or without an
    interval, and --fail-on-miss checks the latest period with a value: March, exit 3 (audit
    19: the empty April row was taken as the latest period and the run exited 0)."""
    from tests.conftest import write_csv

    rows = [(i, "2025-01-10", f"a{i}", "email", 9, 5, 7) for i in range(200)]
    rows += [(1000 + i, "2025-03-10", f"c{i}", "email", 9, 1, 7) for i in range(40)]
    rows.append((9999, "2025-04-02", "c99", "email", 9, None, 7))
    path = write_csv(tmp_path / "s.csv", rows)
    config = write_config(
        tmp_path, survey_config(path, [{"kpi": "csat", "target": 75}], period="month")
    )
    args = ["report", "-c", str(config), "-f", "json", "--fail-on-miss"]
    for extra in ([], ["--by", "channel"], ["--suppress-low-sample"]):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 3, (extra, result.output)
        got = json.loads(result.stdout)["results"]
        assert [r["status"] for r in got if r["period"] is None and not r["segment"]] == ["met"]
        assert [r["status"] for r in got if r["period"] == "2025-03"] == ["missed"] * (
            2 if extra == ["--by", "channel"] else 1
        )
    by_period = {r["period"]: r for r in json.loads(runner.invoke(app, args).stdout)["results"]}
    assert (by_period["2025-04"]["n"], by_period["2025-04"]["low_sample"]) == (0, True)
    suppressed = runner.invoke(app, [*args, "--suppress-low-sample"])
    periods = {r["period"] for r in json.loads(suppressed.stdout)["results"]}
    assert periods == {None, "2025-01", "2025-03"}


def test_a_segment_gone_quiet_is_not_checked_but_an_answerless_one_is(tmp_path: Path) -> None:
    """January: chat meets. March: chat misses (CSAT 0 %), email meets. April: email meets;
    chat has one response without a CSAT answer (n 0), so chat's March is its latest
    measured row and fails the run. Without that April response chat has no April row (gone
    quiet): not checked, exit 0."""
    from tests.conftest import write_csv

    rows = [(i, "2025-01-10", f"j{i}", "chat", 9, 5, 7) for i in range(200)]  # chat overall 83 %
    rows += [(300 + i, "2025-03-10", f"e{i}", "email", 9, 5, 7) for i in range(40)]
    rows += [(400 + i, "2025-03-10", f"c{i}", "chat", 9, 1, 7) for i in range(40)]
    rows += [(500 + i, "2025-04-10", f"f{i}", "email", 9, 5, 7) for i in range(200)]
    quiet = write_csv(tmp_path / "quiet.csv", rows)
    answerless = write_csv(
        tmp_path / "answerless.csv", [*rows, (999, "2025-04-11", "x", "chat", 9, None, 7)]
    )
    config = write_config(
        tmp_path, survey_config(quiet, [{"kpi": "csat", "target": 75}], period="month")
    )
    args = ["report", "-c", str(config), "--by", "channel", "-f", "json", "--fail-on-miss"]
    assert runner.invoke(app, args).exit_code == 0
    result = runner.invoke(app, [*args, "--input", f"surveys={answerless}"])
    assert result.exit_code == 3, result.output


@pytest.mark.parametrize(
    ("environ", "colour"),
    [({}, True), ({"NO_COLOR": ""}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False)],
)
def test_colour_on_a_terminal_follows_no_color_and_term(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], colour: bool
) -> None:
    """no-color.org: NO_COLOR set to a value turns colour off; an empty one does not."""
    from cx_cli import cli

    monkeypatch.setattr(cli, "_stdout_is_terminal", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert cli._color_stdout() is colour


def test_init_says_check_the_guesses_only_when_it_guessed(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"  # no score column: a warning, and nothing guessed
    plain.write_text("Plan,Notes\nFree,ok\nPro,fine\n", encoding="utf-8")
    guessed = tmp_path / "guessed.csv"  # a 0-10 column whose header does not say NPS
    guessed.write_text("Q1,Channel\n" + "".join(f"{i % 11},web\n" for i in range(40)))
    for path, check in ((plain, "check the mapping"), (guessed, "check the guesses")):
        result = runner.invoke(app, ["init", str(path), "-o", str(path.with_suffix(".yaml"))])
        assert result.exit_code == 0, result.output
        assert check in result.stderr
