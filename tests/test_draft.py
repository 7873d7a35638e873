"""`cxkpi init`'s drafting: guesses from headers and values, marked when unsure, valid YAML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cx_cli.config import parse_config
from cx_cli.draft import _scalar, draft_config
from cx_cli.errors import InputError

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "surveys.csv"


def write(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def source(text: str) -> dict:
    return yaml.safe_load(text)["sources"]["surveys"]


def lines_before(text: str, mapping_line: str) -> list[str]:
    """The comment lines directly above a line of the draft."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == mapping_line)
    above = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        above.append(line.strip())
    return above[::-1]


def test_sample_export_drafts_a_config_that_validates():
    text = draft_config(SAMPLE)
    config = parse_config(yaml.safe_load(text), path=Path("cxkpi.yaml"))
    spec = config.sources["surveys"]
    assert spec.kind == "responses"
    assert spec.path == str(SAMPLE)
    assert spec.columns == {
        "submitted_at": "Submitted At",
        "customer_id": "Customer ID",
        "response_id": "Response ID",
        "nps": "How likely are you to recommend us?",
        "csat": "Overall satisfaction",
        "ces": "It was easy to get my issue resolved",
        "comment": "Comments",
    }
    assert spec.segments == {"channel": "Channel", "region": "Region", "plan": "Plan"}
    assert [k.name for k in config.kpis] == ["nps", "csat", "ces"]
    assert config.report.period == "month"
    assert not [line for line in text.splitlines() if line.lstrip().startswith("# guess:")]
    assert "unmapped" not in text


def test_a_few_junk_answers_do_not_hide_a_score_column(tmp_path):
    rows = ["10", "9", "3", "11", "8", "6", "-1"] + ["9", "10", "7"] * 20
    path = write(tmp_path, "Likely to recommend\n" + "\n".join(rows) + "\n")
    assert source(draft_config(path))["columns"] == {"nps": "Likely to recommend"}


def test_a_0_10_column_without_a_telling_header_is_a_marked_guess(tmp_path):
    path = write(tmp_path, "Score,Channel\n10,web\n3,chat\n9,web\n6,email\n8,web\n")
    text = draft_config(path)
    assert source(text)["columns"] == {"nps": "Score"}
    above = " ".join(lines_before(text, "nps: Score"))
    assert above.startswith("# guess:")
    assert '"Score"' in above and "0-10" in above
    parse_config(yaml.safe_load(text), path=tmp_path / "cxkpi.yaml")


def test_two_equally_likely_columns_name_the_other_one(tmp_path):
    path = write(tmp_path, "Q1,Q2\n10,9\n2,3\n9,10\n5,6\n")
    text = draft_config(path)
    assert source(text)["columns"] == {"nps": "Q1"}
    assert any('"Q2"' in line for line in lines_before(text, "nps: Q1"))
    assert "# unmapped columns:" in text and "like nps" in text


def test_a_qualtrics_export_sets_the_preset_and_reads_the_question_row(tmp_path):
    path = write(
        tmp_path,
        "RecordedDate,ResponseId,Q1,Q2\n"
        "Recorded Date,Response ID,How likely are you to recommend us?,How satisfied are you?\n"
        '"{""ImportId"":""recordedDate""}","{""ImportId"":""_recordId""}",'
        '"{""ImportId"":""QID1""}","{""ImportId"":""QID2""}"\n'
        "2024-03-01 10:05:01,R_1,10,5\n2024-03-02 10:05:01,R_2,3,2\n2024-03-03 10:05:01,R_3,9,4\n",
    )
    text = draft_config(path)
    spec = source(text)
    assert spec["preset"] == "qualtrics"
    assert spec["columns"] == {
        "submitted_at": "RecordedDate",
        "response_id": "ResponseId",
        "nps": "Q1",
        "csat": "Q2",
    }
    assert "# guess:" not in text.split("version: 1")[1]
    parse_config(yaml.safe_load(text), path=tmp_path / "cxkpi.yaml")


def test_a_semicolon_delimited_file_is_read_and_the_delimiter_written(tmp_path):
    path = write(
        tmp_path,
        "Customer ID;How likely are you to recommend us?;Kanal;Submitted\n"
        "K1;10;Web;2024-01-02\nK2;3;E-Mail;2024-01-03\nK3;9;Web;2024-02-04\n",
    )
    text = draft_config(path)
    spec = source(text)
    assert spec["delimiter"] == ";"
    assert spec["columns"]["nps"] == "How likely are you to recommend us?"
    assert spec["columns"]["submitted_at"] == "Submitted"
    assert spec["columns"]["customer_id"] == "Customer ID"
    assert spec["segments"] == {"kanal": "Kanal"}
    parse_config(yaml.safe_load(text), path=tmp_path / "cxkpi.yaml")


def test_headers_with_yaml_syntax_round_trip_exactly(tmp_path):
    nps, region, note = 'Score: "NPS" #1', "Region # zone: 'x'", "- a: [b], {c} & *d |"
    path = write(
        tmp_path,
        f'"{nps.replace(chr(34), 2 * chr(34))}",{region},"{note}"\n10,N,x\n2,S,y\n9,N,x\n',
    )
    text = draft_config(path)
    spec = source(text)
    assert spec["columns"] == {"nps": nps}
    assert spec["segments"] == {"region_zone_x": region, "a_b_c_d": note}
    parse_config(yaml.safe_load(text), path=tmp_path / "cxkpi.yaml")


@given(st.text())
def test_any_text_is_written_as_one_line_that_reads_back_the_same(text):
    scalar = _scalar(text)
    assert "\n" not in scalar
    assert yaml.safe_load(f"key: {scalar}  # comment") == {"key": text}


def test_leading_number_answers_get_a_values_map(tmp_path):
    path = write(
        tmp_path,
        "How likely are you to recommend us?\n10 - Extremely likely\n0 - Not at all likely\n9\n6\n",
    )
    text = draft_config(path)
    spec = source(text)
    assert spec["values"] == {"nps": {"10 - Extremely likely": 10, "0 - Not at all likely": 0}}
    parse_config(yaml.safe_load(text), path=tmp_path / "cxkpi.yaml")


def test_a_header_that_names_the_score_sets_an_unusual_scale(tmp_path):
    path = write(tmp_path, "How satisfied were you?\n8\n3\n10\n1\n")
    text = draft_config(path)
    assert source(text)["scales"] == {"csat": [1, 10]}
    above = lines_before(text, "csat: How satisfied were you?")
    assert above[0].startswith("# guess:") and "1-10" in above[0]


def test_segment_names_avoid_report_columns(tmp_path):
    path = write(tmp_path, "NPS,Status,Source\n10,open,web\n2,closed,app\n9,open,web\n")
    spec = source(draft_config(path))
    assert spec["segments"] == {"status_segment": "Status", "source_segment": "Source"}


def test_day_first_dates_get_a_date_format(tmp_path):
    path = write(tmp_path, "Date,NPS\n13/02/2024 09:30,10\n01/03/2024 10:00,3\n")
    spec = source(draft_config(path))
    assert spec["date_format"] == "%d/%m/%Y %H:%M"
    assert spec["columns"]["submitted_at"] == "Date"


def test_a_cp1252_file_is_read_and_its_encoding_written(tmp_path):
    path = write(tmp_path, "Région,NPS\nZürich,10\nGenève,3\n", encoding="cp1252")
    spec = source(draft_config(path))
    assert spec["encoding"] == "cp1252"
    assert spec["segments"] == {"region": "Région"}


@pytest.mark.parametrize("packed", ["gzip", "bz2", "zstd"])
def test_a_compressed_export_is_judged_on_its_text(tmp_path, packed):
    """The encoding and delimiter come from the decompressed bytes, as the readers read them:
    judged on gzip's bytes, a UTF-8 file was drafted as cp1252 (Zürich read as ZÃ¼rich)."""
    import pyarrow as pa

    text = "Response ID;Région;NPS\n1;Zürich;10\n2;Genève;3\n3;Zürich;9\n"
    path = tmp_path / f"export.csv.{packed}"
    with pa.CompressedOutputStream(str(path), packed) as stream:
        stream.write(text.encode("utf-8"))
    spec = source(draft_config(path))
    assert "encoding" not in spec
    assert spec["delimiter"] == ";"
    assert spec["columns"]["nps"] == "NPS"
    assert spec["segments"] == {"region": "Région"}


def test_a_damaged_compressed_export_is_a_clear_error(tmp_path):
    path = tmp_path / "export.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"not gzip at all" * 10)
    with pytest.raises(InputError, match="cannot decompress it as gzip"):
        draft_config(path)


@pytest.mark.parametrize("ending", ["\r\n", "\n", "\r"])
def test_a_header_cell_with_a_line_break_drafts_a_config_that_reads(tmp_path, ending):
    """Survey tools break long questions in the header; in a Windows export the break inside
    the quotes is CRLF, as the line endings are. The header check once read it as LF while
    Arrow kept CRLF, so no spelling of the column could be read."""
    from cx_cli.analysis import run

    rows = ['Response ID,"How likely are you to recommend us?' + ending + '(0-10)",Channel']
    rows += ["1,10,web", "2,3,app", "3,9,app"]
    path = tmp_path / "export.csv"
    path.write_bytes(ending.join([*rows, ""]).encode("utf-8"))
    config = parse_config(yaml.safe_load(draft_config(path)), path=tmp_path / "cxkpi.yaml")
    assert (
        config.sources["surveys"].columns["nps"]
        == f"How likely are you to recommend us?{ending}(0-10)"
    )
    (nps,) = [r for r in run(config, period=None).results if r.kpi == "nps" and not r.segment]
    assert (nps.value, nps.n) == (pytest.approx(100 / 3), 3)  # P 10, 9; D 3


def test_excels_separator_line_above_cr_only_lines_is_skipped(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"sep=;\rid;When;NPS\r1;2025-01-01;10\r2;2025-01-02;3\r")
    spec = source(draft_config(path))
    assert spec["columns"] == {"submitted_at": "When", "response_id": "id", "nps": "NPS"}


def test_a_utf8_bom_is_not_part_of_the_first_header(tmp_path):
    path = write(tmp_path, "\ufeffNPS,Channel\n10,web\n3,chat\n")
    spec = source(draft_config(path))
    assert spec["columns"] == {"nps": "NPS"}
    assert "encoding" not in spec


def test_without_a_score_column_kpis_are_empty_and_say_why(tmp_path):
    path = write(tmp_path, "Plan,Notes\nFree,ok\nPro,fine\n")
    text = draft_config(path)
    assert yaml.safe_load(text)["kpis"] == []
    assert "no NPS/CSAT/CES column was recognised" in text
    assert "kpis: []  # add" in text


def test_the_path_written_can_differ_from_the_file_read(tmp_path):
    path = write(tmp_path, "NPS\n10\n3\n")
    assert source(draft_config(path, config_path=Path("data/export.csv")))["path"] == (
        str(Path("data/export.csv"))
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "file not found"), ("", "the file is empty"), ("A,B\n", "no data rows")],
)
def test_unusable_files_raise_input_errors_with_a_hint(tmp_path, content, message):
    path = tmp_path / "export.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        draft_config(path)
    assert caught.value.hint


def test_importing_the_module_does_not_import_pandas():
    code = "import sys, cx_cli.draft; assert 'pandas' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": str(SAMPLE.parent.parent)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("export", ["orders.csv", "tickets.csv"])
def test_an_export_that_is_no_survey_gets_a_warning_not_a_quiet_draft(export, tmp_path):
    """The sample orders export has a column of 1-5 line numbers, which would pass for CSAT;
    no header names a score, so the draft and stderr say init drafts survey exports only
    (the draft said nothing of it, and a report then showed "CSAT 13.8 %" for orders)."""
    from typer.testing import CliRunner

    from cx_cli.cli import app

    path = SAMPLE.parent / export
    target = tmp_path / "cxkpi.yaml"
    result = CliRunner().invoke(app, ["init", str(path), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "warning: no column header names an NPS, CSAT or CES question" in result.stderr
    assert "then run: cxkpi validate -c" in result.stderr
    text = target.read_text()
    assert text.splitlines()[1].startswith("# WARNING: no column header names an NPS, CSAT")
    assert "No guesses were needed" not in text
    survey = CliRunner().invoke(app, ["init", str(SAMPLE), "-o", "-"])
    assert "WARNING" not in survey.stdout and "warning" not in survey.stderr


def test_excels_separator_line_is_skipped_and_names_the_delimiter(tmp_path):
    text = "sep=;\r\nWhen;Likely to recommend\r\n2024-01-05;10\r\n2024-01-06;3\r\n2024-01-07;8\r\n"
    path = write(tmp_path, text)
    drafted = source(draft_config(path))
    assert drafted["delimiter"] == ";"
    assert drafted["columns"] == {"submitted_at": "When", "nps": "Likely to recommend"}
