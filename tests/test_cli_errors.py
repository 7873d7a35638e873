"""Every bad input a user can give: one clear message on stderr, the right exit code, no traceback.

The CliRunner of this Typer (its vendored click 8.2+ runner) keeps the streams apart:
`result.stdout` is stdout only, `result.stderr` is stderr only and `result.output` is both,
interleaved as a terminal shows them.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from cx_cli.cli import app

runner = CliRunner()

HEADER = ["Submitted At", "Customer", "Channel", "NPS", "CSAT", "CES"]
ROWS = [
    ("2024-01-05 10:00:00", "a", "email", 10, 5, 7),
    ("2024-01-20 11:00:00", "b", "chat", 6, 3, 2),
    ("2024-02-03 12:00:00", "c", "email", 9, 4, 6),
]
COLUMNS = {"submitted_at": "Submitted At", "nps": "NPS", "csat": "CSAT", "ces": "CES"}


def write_csv(
    path: Path, rows: Sequence[Sequence[Any]] = ROWS, header: Sequence[str] = HEADER
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_config(folder: Path, data: Path | str, **changes: Any) -> Path:
    """A valid config for HEADER, with top-level keys or `source`/`kpis` replaced by changes."""
    source = {
        "kind": "responses",
        "path": str(data),
        "columns": COLUMNS,
        "segments": {"channel": "Channel"},
        **changes.pop("source", {}),
    }
    document = {"version": 1, "sources": {"surveys": source}, "kpis": ["nps", "csat", "ces"]}
    document.update(changes)
    path = folder / "cxkpi.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "surveys.csv")


@pytest.fixture
def config(tmp_path: Path, data: Path) -> Path:
    return write_config(tmp_path, data)


def report(*args: str | Path, **kwargs: Any) -> Result:
    return runner.invoke(app, ["report", *map(str, args)], **kwargs)


def assert_fails_cleanly(result: Result, exit_code: int, *fragments: str) -> str:
    """Exit code, nothing on stdout, one `error:` line (and at most a `hint:`), no traceback."""
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2 and all(line.startswith(("error: ", "hint: ")) for line in lines), lines
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"
    return result.stderr


# -- data files (exit 1) ---------------------------------------------------------------------


def test_missing_data_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "exports" / "nosuch.csv"
    result = report("-c", write_config(tmp_path, missing))
    assert_fails_cleanly(result, 1, str(missing), "not found")


def test_data_path_that_is_a_folder_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "folder.csv").mkdir()
    result = report("-c", write_config(tmp_path, tmp_path / "folder.csv"))
    assert_fails_cleanly(result, 1, "folder.csv")


def test_mapped_column_missing_from_the_file_lists_the_columns_and_suggests_the_closest(
    tmp_path: Path, data: Path
) -> None:
    columns = {**COLUMNS, "submitted_at": "Submitted at"}
    config = write_config(tmp_path, data, source={"columns": columns})
    stderr = assert_fails_cleanly(
        report("-c", config), 1, "'Submitted at'", "did you mean 'Submitted At'"
    )
    for column in HEADER:
        assert column in stderr.split("hint:", 1)[1]


def test_mapped_column_that_extends_a_real_header_suggests_it(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, source={"columns": {**COLUMNS, "nps": "NPS Score"}})
    assert_fails_cleanly(report("-c", config), 1, "'NPS Score'", "did you mean 'NPS'")


def test_a_one_letter_header_is_not_suggested_for_a_long_column(tmp_path: Path) -> None:
    """A header 'y' is inside 'How likely are you to recommend us?' but is no hint."""
    path = tmp_path / "xy.csv"
    path.write_text("x,y\n1,2\n")
    long = {"submitted_at": "Submitted day", "nps": "How likely?", "csat": "Satisfied yes"}
    config = write_config(tmp_path, path, source={"columns": {**long, "ces": "Easy for you"}})
    result = report("-c", config)
    assert_fails_cleanly(result, 1, "is not in the file", "columns in the file")
    assert "did you mean" not in result.stderr


def test_empty_data_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"")
    result = report("-c", write_config(tmp_path, tmp_path / "empty.csv"))
    assert_fails_cleanly(result, 1, "empty")


def test_empty_stdin_is_an_input_error(config: Path) -> None:
    result = report("-c", config, "--input", "surveys=-", input="")
    assert_fails_cleanly(result, 1, "empty")


def test_header_only_data_file_is_an_input_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "header.csv", rows=[])
    result = report("-c", write_config(tmp_path, path))
    assert_fails_cleanly(result, 1, "no data rows")


@pytest.mark.parametrize(
    "ragged",
    [("2024-01-06 10:00:00", "a", "email", 9, 5, 7, "extra"), ("2024-01-06 10:00:00", "a")],
    ids=["too-many-fields", "too-few-fields"],
)
def test_ragged_row_is_an_input_error(tmp_path: Path, ragged: tuple[Any, ...]) -> None:
    path = write_csv(tmp_path / "ragged.csv", rows=[*ROWS, ragged])
    result = report("-c", write_config(tmp_path, path))
    expected = f"line 5 has {len(ragged)} fields where the header has 6"  # header + 3 rows
    assert_fails_cleanly(result, 1, "ragged.csv", expected, "bad_rows: skip")


def test_ragged_rows_are_skipped_and_counted_when_the_config_allows(tmp_path: Path) -> None:
    ragged = [("2024-01-06 10:00:00", "a", "email", 9, 5, 7, "extra"), ("2024-01-07", "b")]
    path = write_csv(tmp_path / "ragged.csv", rows=[*ROWS, *ragged])
    config = write_config(tmp_path, path, source={"bad_rows": "skip"})
    result = report("-c", config, "-f", "json")
    assert result.exit_code == 0, result.output
    (source,) = json.loads(result.stdout)["inputs"]
    assert source["rows_dropped"] == {"wrong number of fields": 2}
    assert source["rows_read"] == len(ROWS) + 2


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x]"] + [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 20)
    ]
    config = tmp_path / "bomb.yaml"
    config.write_text("\n".join(lines) + "\n")
    assert_fails_cleanly(report("-c", config), 2, "YAML aliases")


def test_score_column_mostly_off_its_scale_is_an_input_error(tmp_path: Path) -> None:
    rows = [("2024-01-05 10:00:00", "a", "email", score, 5, 7) for score in (20, 40, 60, 80, 95, 9)]
    path = write_csv(tmp_path / "percent.csv", rows)
    result = report("-c", write_config(tmp_path, path))
    assert_fails_cleanly(result, 1, "'NPS'", "scale")


def test_dates_mostly_unparseable_is_an_input_error_naming_the_column(tmp_path: Path) -> None:
    rows = [
        (when, "a", "email", 9, 5, 7) for when in ("yesterday", "soon", "31/31/2024", ROWS[0][0])
    ]
    path = write_csv(tmp_path / "dates.csv", rows)
    result = report("-c", write_config(tmp_path, path))
    assert_fails_cleanly(result, 1, "'Submitted At'", "not dates", "date_format")


# -- config files (exit 2) -------------------------------------------------------------------


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    result = report("-c", tmp_path / "nosuch.yaml")
    assert_fails_cleanly(result, 2, "nosuch.yaml", "not found")


def test_no_config_and_no_default_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_fails_cleanly(report(), 2, "cxkpi.yaml", "-c")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("version: 1\nkpis:\n  - nps\n  - [csat\nreport: {}\n", encoding="utf-8")
    assert_fails_cleanly(report("-c", config), 2, "bad.yaml", "line 5", "not valid YAML")


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("report: {since: 2025-31-01}", "'2025-31-01' is not a date"),
        ("report: {until: 2025-02-30}", "'2025-02-30' is not a date"),
        ("report: {min_n: !!int few}", "'few' is not an int"),
        ("report: {since: !!timestamp soon}", "'soon' is not a date"),
        ("report: {confidence: !!float high}", "'high' is not a float"),
    ],
)
def test_a_value_its_yaml_tag_cannot_build_is_a_config_error(
    tmp_path: Path, line: str, said: str
) -> None:
    """YAML reads 2025-31-01 as a date (and !!int few as an int): PyYAML raised a ValueError
    (or KeyError, AttributeError) from inside its loader, an internal error."""
    config = tmp_path / "values.yaml"
    config.write_text(f"version: 1\nkpis: [nps]\n{line}\n", encoding="utf-8")
    result = report("-c", config)
    assert_fails_cleanly(result, 2, "values.yaml", "line 3", said)
    assert "quote it" in result.stderr


@pytest.mark.parametrize(
    ("decimal", "thousands", "said"),
    [(",", ",", "is also the decimal separator"), (".", "ab", "is not a separator")],
)
def test_a_thousands_separator_must_be_one_other_character(
    tmp_path: Path, data: Path, decimal: str, thousands: str, said: str
) -> None:
    """With decimal and thousands both ",", 1,5 was not a number and 1,234 read as 1234."""
    source = {"decimal": decimal, "thousands": thousands}
    result = report("-c", write_config(tmp_path, data, source=source))
    assert_fails_cleanly(result, 2, f"thousands: '{thousands}'", said)


def test_a_kpi_choosing_among_unmapped_fields_lists_the_files_columns(
    tmp_path: Path, data: Path
) -> None:
    """As for a KPI missing its one field: the hint lists the columns to map from."""
    config = tmp_path / "t.yaml"
    config.write_text(
        f"version: 1\nsources:\n  t:\n    kind: tickets\n    path: {data}\n"
        "    columns: {created_at: Submitted At}\nkpis: [fcr]\n",
        encoding="utf-8",
    )
    stderr = assert_fails_cleanly(report("-c", config), 2, "KPI 'fcr' needs 'contacts'")
    assert "columns in" in stderr and "Customer, Channel, NPS" in stderr


def test_a_segment_named_twice_is_a_usage_error(config: Path) -> None:
    """--by channel,channel was an internal error (a frame where a column was expected)."""
    result = report("-c", config, "--by", "channel,channel")
    assert_fails_cleanly(result, 2, "--by: 'channel' is named twice")


def test_the_same_input_twice_is_a_usage_error(config: Path) -> None:
    """Two --input for one source read only the last one, silently."""
    result = report("-c", config, "--input", "surveys=a.csv", "--input", "surveys=b.csv")
    assert_fails_cleanly(result, 2, "--input surveys= is given twice", "a.csv and b.csv")


def test_python_object_tag_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    config = tmp_path / "evil.yaml"
    config.write_text(
        f"version: 1\nkpis: !!python/object/apply:os.system ['touch {marker}']\n",
        encoding="utf-8",
    )
    assert_fails_cleanly(report("-c", config), 2, "evil.yaml", "not valid YAML")
    assert not marker.exists()


def test_plain_python_object_tag_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "tagged.yaml"
    config.write_text("version: 1\nreport: !!python/object:argparse.Namespace {}\n")
    assert_fails_cleanly(report("-c", config), 2, "tagged.yaml")


def test_config_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "list.yaml"
    config.write_text("- nps\n- csat\n", encoding="utf-8")
    assert_fails_cleanly(report("-c", config), 2, "list.yaml", "mapping")


def test_unknown_top_level_key_is_named_with_a_suggestion(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, reprot={"period": "month"})
    assert_fails_cleanly(report("-c", config), 2, "unknown key 'reprot'", "'report'")


def test_a_key_at_the_wrong_level_says_where_it_belongs(tmp_path: Path, data: Path) -> None:
    """`report: {timezone: ...}` is a source's key: the hint says so (it had suggested
    'timezone' itself, audit 19)."""
    config = write_config(tmp_path, data, report={"timezone": "Europe/Berlin"})
    assert_fails_cleanly(
        report("-c", config), 2, "report.timezone: unknown key 'timezone'",
        "'timezone' is a key of a source (sources.NAME): move it there",
    )  # fmt: skip


def test_a_misspelled_source_key_is_named_before_the_key_it_leaves_missing(
    tmp_path: Path, data: Path
) -> None:
    # "colums:" makes "columns:" missing too; the misspelling is the problem to name.
    config = write_config(tmp_path, data)
    config.write_text(config.read_text().replace("columns:", "colums:"), encoding="utf-8")
    assert_fails_cleanly(report("-c", config), 2, "unknown key 'colums'", "did you mean 'columns'")


def test_unknown_kpi_with_a_close_name_suggests_it(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, kpis=["nps", "cast"])
    assert_fails_cleanly(report("-c", config), 2, "unknown KPI 'cast'", "did you mean 'csat'")


def test_unknown_kpi_on_the_command_line_suggests_it(config: Path) -> None:
    assert_fails_cleanly(report("-c", config, "--kpi", "npss"), 2, "'npss'", "did you mean 'nps'")


def test_unknown_variant_is_a_config_error_listing_the_variants(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, kpis=[{"kpi": "csat", "variant": "top_3_box"}])
    assert_fails_cleanly(report("-c", config), 2, "kpis[0]", "top_2_box")


def test_unknown_kpi_option_names_the_options_it_knows(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, kpis=[{"kpi": "nps", "varient": "standard"}])
    assert_fails_cleanly(report("-c", config), 2, "'varient'", "did you mean 'variant'")


def test_kpi_needing_an_unmapped_field_names_the_kpi_and_the_field(
    tmp_path: Path, data: Path
) -> None:
    config = write_config(tmp_path, data, kpis=[{"kpi": "nps", "variant": "latest_per_customer"}])
    assert_fails_cleanly(report("-c", config), 2, "KPI 'nps'", "'customer_id'")


def test_kpi_whose_score_is_unmapped_names_the_kpi_and_the_field(
    tmp_path: Path, data: Path
) -> None:
    columns = {"submitted_at": "Submitted At", "nps": "NPS"}
    config = write_config(tmp_path, data, source={"columns": columns}, kpis=["nps", "ces"])
    assert_fails_cleanly(report("-c", config), 2, "KPI 'ces'", "field 'ces'")


# -- command-line options (exit 2) -----------------------------------------------------------


def test_by_a_segment_that_does_not_exist_is_a_usage_error(config: Path) -> None:
    result = report("-c", config, "--by", "region")
    assert_fails_cleanly(result, 2, "'region'", "channel")


def test_by_a_close_segment_name_suggests_it(config: Path) -> None:
    assert_fails_cleanly(report("-c", config, "--by", "chanel"), 2, "did you mean 'channel'")


def test_unknown_period_is_a_usage_error_listing_the_periods(config: Path) -> None:
    result = report("-c", config, "--period", "fortnight")
    assert_fails_cleanly(result, 2, "'fortnight'", "month")


def test_since_that_is_not_a_date_is_a_usage_error(config: Path) -> None:
    result = report("-c", config, "--since", "notadate")
    assert_fails_cleanly(result, 2, "--since", "'notadate'", "YYYY-MM-DD")


def test_since_after_until_is_a_usage_error(config: Path) -> None:
    result = report("-c", config, "--since", "2024-03-01", "--until", "2024-01-01")
    assert_fails_cleanly(result, 2, "--since")


def test_input_for_an_unknown_source_is_a_usage_error(config: Path) -> None:
    result = report("-c", config, "--input", "nosuch=x.csv")
    assert_fails_cleanly(result, 2, "'nosuch'", "surveys")


def test_input_without_equals_is_a_usage_error(config: Path) -> None:
    assert_fails_cleanly(report("-c", config, "--input", "x.csv"), 2, "NAME=PATH")


def test_confidence_given_as_a_percentage_is_a_usage_error(config: Path) -> None:
    assert_fails_cleanly(report("-c", config, "--confidence", "95"), 2, "--confidence")


# -- --debug and the report file -------------------------------------------------------------


def test_debug_adds_the_traceback_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """A script that tells data errors (1) from config errors (2) keeps working with --debug
    (it exited 1 for every error, and 1 for an internal error too)."""
    missing = tmp_path / "nosuch.csv"
    result = report("-c", write_config(tmp_path, missing), "--debug")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "InputError" in result.stderr
    assert f"error: {missing}" in result.stderr
    config_result = report("-c", tmp_path / "nosuch.yaml", "--debug")
    assert config_result.exit_code == 2
    assert "ConfigError" in config_result.stderr


EXAMPLE = str(Path(__file__).resolve().parents[1] / "config.example.yaml")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "args",
    [
        ["kpis"],
        ["kpis", "nps"],
        ["report", "-c", EXAMPLE, "-f", "json"],
        ["validate", "-c", EXAMPLE],
        ["--version"],
        ["--help"],
    ],
)
def test_a_full_disk_under_stdout_is_an_error_line_not_a_traceback(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for unbuffered in ({}, {"PYTHONUNBUFFERED": "1"}):  # the last flush fails, or the write
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                [sys.executable, "-m", "cx_cli", *args],
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
                env={**env, **unbuffered},
            )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr
        assert "error: cannot write to stdout: No space left on device" in done.stderr


def test_a_reader_that_stops_early_is_not_an_error() -> None:
    """`cxkpi report ... | head -c 10`: 6 MB of JSON, the reader leaves after 10 bytes."""
    command = [sys.executable, "-m", "cx_cli", "report", "-c", EXAMPLE, "-f", "json"]
    process = subprocess.Popen(
        [*command, "--period", "day"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(10) == b'{\n  "schem'
    process.stdout.close()
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, errors
    assert "Traceback" not in errors and "error" not in errors.replace("warning", "")


def test_debug_prints_a_traceback_from_the_real_command(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "nosuch.csv")
    command = [sys.executable, "-m", "cx_cli", "report", "-c", str(config)]
    plain = subprocess.run(command, capture_output=True, text=True, timeout=60)
    debug = subprocess.run([*command, "--debug"], capture_output=True, text=True, timeout=60)
    assert (plain.returncode, plain.stdout) == (1, "")
    assert "Traceback" not in plain.stderr
    assert (debug.returncode, debug.stdout) == (1, "")
    assert "Traceback" in debug.stderr and "InputError" in debug.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--period", "fortnight"],
        ["--since", "notadate"],
        ["--input", "surveys=nosuch.csv"],
    ],
    ids=["usage-error", "bad-date", "missing-input"],
)
def test_existing_report_file_is_left_intact_when_the_run_fails(
    config: Path, tmp_path: Path, args: list[str]
) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b'{"old": "report"}\n')
    result = report("-c", config, "-f", "json", "-o", target, *args)
    assert result.exit_code in (1, 2), result.output
    assert target.read_bytes() == b'{"old": "report"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cxkpi.yaml", "out.json", "surveys.csv"]


def test_report_to_a_missing_folder_is_an_input_error(config: Path, tmp_path: Path) -> None:
    result = report("-c", config, "-o", tmp_path / "nosuch" / "out.json")
    assert_fails_cleanly(result, 1, "nosuch")


def test_report_to_a_path_that_is_a_folder_is_an_input_error(config: Path, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    result = report("-c", config, "-o", tmp_path / "reports")
    assert_fails_cleanly(result, 1, "reports")


def test_report_that_cannot_be_written_is_an_input_error(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cx_cli.output

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cx_cli.output.os, "fsync", disk_full)
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    result = report("-c", config, "-f", "json", "-o", target)
    assert target.read_bytes() == b"old"
    assert_fails_cleanly(result, 1, "out.json", "No space left on device")


# -- reading options and filters that are wrong: config errors, not internal errors -----------


def test_unknown_encoding_is_a_config_error(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, source={"encoding": "latin-nine"})
    assert_fails_cleanly(report("-c", config), 2, "latin-nine", "encoding")


def test_unknown_timezone_is_a_config_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "aware.csv", [("2024-01-05 10:00:00+01:00", "a", "email", 9, 5, 7)])
    config = write_config(tmp_path, path, source={"timezone": "Mars/Olympus"})
    assert_fails_cleanly(report("-c", config), 2, "Mars/Olympus", "timezone")


def test_bad_date_format_is_a_config_error(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, source={"date_format": "%Y-%Q"})
    assert_fails_cleanly(report("-c", config), 2, "%Y-%Q", "date_format")


def test_confidence_zero_is_a_usage_error(config: Path) -> None:
    assert_fails_cleanly(report("-c", config, "--confidence", "0"), 2, "--confidence")


def test_filter_on_an_unmapped_field_is_a_config_error(tmp_path: Path, data: Path) -> None:
    filters = [{"field": "customer_id", "eq": "a"}]
    config = write_config(tmp_path, data, source={"filters": filters})
    assert_fails_cleanly(report("-c", config), 2, "filters", "customer_id")


def test_missing_field_error_lists_the_columns_the_file_has(tmp_path: Path, data: Path) -> None:
    config = write_config(tmp_path, data, kpis=[{"kpi": "nps", "variant": "latest_per_customer"}])
    assert_fails_cleanly(report("-c", config), 2, "'customer_id'", "Customer", "Submitted At")


def test_cp1252_export_is_detected_and_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    text = "Submitted At,Customer,Channel,NPS,CSAT,CES\n2024-01-05,a,Café,9,5,7\n"
    path.write_bytes(text.encode("cp1252"))
    result = report("-c", write_config(tmp_path, path), "--by", "channel", "-f", "csv")
    assert result.exit_code == 0, result.output
    assert "Café" in result.stdout
    assert "read as cp1252" in result.stderr


def test_non_utf8_bytes_after_the_first_megabyte_name_the_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    ascii_rows = "2024-01-05,a,x,9,5,7\n" * 60_000  # > 1 MiB of plain ASCII first
    text = "Submitted At,Customer,Channel,NPS,CSAT,CES\n" + ascii_rows + "2024-01-06,b,Café,9,5,7\n"
    path.write_bytes(text.encode("cp1252"))
    result = report("-c", write_config(tmp_path, path), "--by", "channel")
    assert_fails_cleanly(result, 1, "late.csv", "encoding")


def test_utf16_export_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes(
        "Submitted At,Customer,Channel,NPS,CSAT,CES\n2024-01-05,a,x,9,5,7\n".encode("utf-16")
    )
    result = report("-c", write_config(tmp_path, path), "-f", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["inputs"][0]["encoding"] == "utf-16"
    assert document["results"][0]["n"] == 1


def test_a_field_larger_than_a_block_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("NPS,Comment\n10," + "x" * 9_000_000 + "\n0,short\n", encoding="utf-8")
    source = {
        "kind": "responses",
        "path": str(path),
        "columns": {"nps": "NPS", "comment": "Comment"},
    }
    config = tmp_path / "huge.yaml"
    config.write_text(yaml.safe_dump({"version": 1, "kpis": ["nps"], "sources": {"s": source}}))
    result = report("-c", config, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["value"] == 0.0  # one promoter, one detractor


def test_historical_clv_by_segment_over_an_empty_window_is_undefined_not_an_error() -> None:
    """No order falls after --since: the medians of no customers were taken on an empty
    object column and stopped the run ('internal error', exit 70)."""
    window = ["--by", "channel", "--since", "2030-01-01"]
    result = runner.invoke(
        app, ["report", "-c", EXAMPLE, "-q", "--kpi", "clv_orders", *window, "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    assert (row["value"], row["n"], row["segment"]) == (None, 0, {})


def test_medians_of_no_rows_are_null_not_zero() -> None:
    """A group without rows gets zero counts, but no median or p90 (they were 0.0)."""
    kpis = "aht,resolution_time,first_response_time,clv_orders"
    args = ["report", "-c", EXAMPLE, "-q", "--since", "2030-01-01", "--kpi", kpis, "-f", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["results"]
    assert {r["label"] for r in rows} == set(kpis.split(","))
    for row in rows:
        assert (row["n"], row["detail"]["median"], row["detail"]["p90"]) == (0, None, None), row
