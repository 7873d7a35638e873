"""Real-world exports and bad input: a corpus of small messy-but-valid files, and fuzzing.

Every file under tests/data/messy was written once (exact bytes: BOMs, cp1252, UTF-16, CR and
CRLF line endings, trailing blank lines; `.gitattributes` there keeps git from normalising them)
and is read here through a tiny config; each figure asserted was worked out by hand from the
file's rows, in the comments. The hypothesis tests at the end feed random bytes and random CSV
shapes through the command line: the only outcomes allowed are a report (exit 0) or one
`error:` line (exit 1 or 2), never a traceback or an "internal error".

Tests marked xfail(strict=True) document bugs found by this corpus; each reason names the bug.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gc
import json
import subprocess
import sys
import types
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from cx_cli.analysis import run
from cx_cli.cli import app
from cx_cli.config import parse_config
from cx_cli.errors import CxError, InputError
from cx_cli.report import InputSummary, Report
from cx_cli.report import Result as Row

DATA = Path(__file__).parent / "data" / "messy"
runner = CliRunner()

SATISFACTION = {
    "Very satisfied": 5,
    "Satisfied": 4,
    "Neither satisfied nor dissatisfied": 3,
    "Dissatisfied": 2,
    "Very dissatisfied": 1,
}


def document(name: str, kind: str, columns: dict[str, str], kpis: list[Any], **spec: Any) -> dict:
    """A one-source config for a corpus file."""
    source = {"kind": kind, "path": str(DATA / name), "columns": columns, **spec}
    return {"version": 1, "sources": {"s": source}, "kpis": kpis}


def report(
    name: str,
    kind: str,
    columns: dict[str, str],
    kpis: Sequence[Any] = ("nps",),
    *,
    period: str | None = None,
    by: Sequence[str] | None = None,
    **spec: Any,
) -> Report:
    return run(
        parse_config(document(name, kind, columns, list(kpis), **spec)), period=period, by=by
    )


def pick(result: Report, kpi: str = "nps", period: str | None = None, **segment: str) -> Row:
    """The one result row of a KPI for a period (None: overall) and segment."""
    (row,) = [
        r
        for r in result.results
        if r.kpi == kpi and r.period == period and dict(r.segment) == segment
    ]
    return row


def values(result: Report, kpi: str = "nps") -> dict[str | None, tuple[float | None, int]]:
    """(value, n) per period of a KPI's unsegmented rows, overall under None."""
    return {r.period: (r.value, r.n) for r in result.results if r.kpi == kpi and not r.segment}


def summary(result: Report) -> InputSummary:
    (item,) = result.inputs
    return item


def approx(expected: dict[Any, tuple[float | None, int]]) -> dict[Any, Any]:
    return {key: (pytest.approx(value), n) for key, (value, n) in expected.items()}


# -- the corpus is what it claims to be, byte for byte ------------------------------------------

BOM8 = codecs.BOM_UTF8
BYTES: dict[str, tuple[bytes, Sequence[bytes], Sequence[bytes]]] = {
    # name: (prefix, byte strings that must occur, byte strings that must not)
    "same_utf8_bom.csv": (BOM8 + b"Submitted At,", [b"Z\xc3\xbcrich", b"\n"], [b"\r"]),
    "same_utf8_crlf.csv": (b"Submitted At,", [b"\r\n", b"\xe2\x82\xac"], [BOM8]),
    "same_cp1252_semicolon.csv": (b"Submitted At;", [b"Z\xfcrich", b"\x80", b"\r\n"], [b"\xc3"]),
    "same_utf16_excel_unicode.txt": (b"\xff\xfeS\x00u\x00", [b"\t\x00", b"\r\x00\n\x00"], []),
    "same_pipe.csv": (b"Submitted At|", [], [b"\r"]),
    "same_tab.tsv": (b"Submitted At\t", [], [b"\r"]),
    "same_cr_only.csv": (b"Submitted At,", [b"\r"], [b"\n"]),
    "same_trailing_blank_lines.csv": (b"Submitted At,", [b"3,zu langsam\n\n\n\n"], [b"\r"]),
    "same_excel_empty_rows.csv": (b"Submitted At;", [b"langsam\r\n;;;\r\n;;;\r\n"], []),
    "qualtrics.csv": (BOM8 + b"StartDate,", [b"ImportId", b"colleague?\n0 ="], []),
    "orders_eur.csv": (b"Bestellnummer;", [b"1.234,50 \x80"], []),
}


@pytest.mark.parametrize("name", sorted(BYTES))
def test_corpus_files_have_their_exact_bytes(name: str) -> None:
    raw = (DATA / name).read_bytes()
    prefix, present, absent = BYTES[name]
    assert raw.startswith(prefix)
    assert all(part in raw for part in present)
    assert not any(part in raw for part in absent)


USED = {  # every corpus file, each read by a test below
    "same_utf8_bom.csv",
    "same_utf8_crlf.csv",
    "same_cp1252_semicolon.csv",
    "same_utf16_excel_unicode.txt",
    "same_pipe.csv",
    "same_tab.tsv",
    "same_cr_only.csv",
    "same_trailing_blank_lines.csv",
    "same_excel_empty_rows.csv",
    "semicolon_comma_header.csv",
    "quoted_fields.csv",
    "qualtrics.csv",
    "surveymonkey.csv",
    "units_row.csv",
    "orders_usd.csv",
    "orders_eur.csv",
    "tickets_durations.csv",
    "dates_offsets.csv",
    "dates_slashed.csv",
    "dates_excel_serial.csv",
    "dates_iso_and_serial.csv",
    "duplicates.csv",
}


def test_every_corpus_file_is_read_by_a_test_and_commit_sized() -> None:
    files = [p for p in DATA.iterdir() if p.suffix in (".csv", ".txt", ".tsv")]
    assert {p.name for p in files} == USED
    assert all(p.stat().st_size < 2048 for p in files)


# -- the same four answers in every dress: encodings, delimiters, line endings -----------------

SAME = {"submitted_at": "Submitted At", "nps": "NPS"}
# The rows of every same_* file (Note column unmapped; it holds €, – and „“ for the encodings):
#   2024-01-05 09:00  Zürich  10  promoter
#   2024-01-06 10:30  Zürich   9  promoter
#   2024-02-07 11:45  Köln     7  passive
#   2024-02-08 12:15  Köln     3  detractor
# overall 100 × (2 − 1) / 4 = +25; Zürich (both January) +100 of 2; Köln (both February) −50 of 2.
SAME_BY_PERIOD = {None: (25.0, 4), "2024-01": (100.0, 2), "2024-02": (-50.0, 2)}
SAME_BY_REGION = {"Zürich": (100.0, 2), "Köln": (-50.0, 2)}


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter"),
    [
        ("same_utf8_bom.csv", "utf-8", ","),
        ("same_utf8_crlf.csv", "utf-8", ","),
        ("same_cp1252_semicolon.csv", "cp1252", ";"),
        ("same_utf16_excel_unicode.txt", "utf-16", "\t"),
        ("same_pipe.csv", "utf-8", "|"),
        ("same_tab.tsv", "utf-8", "\t"),
        ("same_trailing_blank_lines.csv", "utf-8", ","),
        ("same_cr_only.csv", "utf-8", ","),
    ],
)
def test_same_answers_in_every_encoding_delimiter_and_line_ending(
    name: str, encoding: str, delimiter: str
) -> None:
    result = report(name, "responses", SAME, period="month", segments={"region": "Region"})
    assert values(result) == approx(SAME_BY_PERIOD)
    assert pick(result).detail == {"promoters": 2, "passives": 1, "detractors": 1}
    by_region = report(name, "responses", SAME, by=["region"], segments={"region": "Region"})
    for region, (value, n) in SAME_BY_REGION.items():  # decoded labels: ü and ö intact
        row = pick(by_region, region=region)
        assert (row.value, row.n) == (pytest.approx(value), n)
    item = summary(result)
    # detected, not configured (a UTF-16 BOM states the encoding: no guess, so no warning);
    # the BOM is not part of the first column's name; blank lines at the end are no rows
    guessed = name != "same_utf16_excel_unicode.txt"
    assert (item.encoding, item.encoding_detected, item.delimiter) == (encoding, guessed, delimiter)
    warned = [w for w in result.warnings if "not UTF-8" in w]
    assert len(warned) == (encoding == "cp1252")
    assert (item.rows_read, item.rows_used, dict(item.rows_dropped)) == (4, 4, {})


def test_excel_rows_of_empty_cells_at_the_end_are_read_and_dropped_as_undated() -> None:
    # same four answers, then two rows ";;;" that Excel writes for a used range past the data:
    # they are rows (read 6) without a date, so dropped as "submitted_at blank" (used 4)
    result = report("same_excel_empty_rows.csv", "responses", SAME, period="month")
    assert values(result) == approx(SAME_BY_PERIOD)
    item = summary(result)
    assert (item.rows_read, item.rows_used) == (6, 4)
    assert dict(item.rows_dropped) == {"submitted_at blank": 2}
    assert item.delimiter == ";"


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("same_utf8_bom.csv", "utf-8"),
        ("same_utf8_bom.csv", "UTF8"),
        ("same_utf8_bom.csv", "utf-8-sig"),
        ("same_cp1252_semicolon.csv", "cp1252"),
        ("same_cp1252_semicolon.csv", "windows-1252"),
        ("same_utf16_excel_unicode.txt", "utf-16"),
        ("same_utf16_excel_unicode.txt", "utf-16-le"),
    ],
)
def test_configured_encoding_reads_the_same_answers(name: str, encoding: str) -> None:
    result = report(name, "responses", SAME, period="month", encoding=encoding)
    assert values(result) == approx(SAME_BY_PERIOD)
    assert not summary(result).encoding_detected


# -- delimiters ---------------------------------------------------------------------------------

COMMA_HEADER = {
    "submitted_at": "When",
    "nps": "How likely, from 0 to 10, would you recommend us, honestly?",
}


def test_configured_delimiter_beats_a_header_full_of_commas() -> None:
    # semicolon file whose question header holds 3 commas (and the line only 2 semicolons);
    # answers 10, 6, 9: promoters 2, detractors 1 of 3 -> 100 × (2 − 1) / 3 = +33.3
    result = report("semicolon_comma_header.csv", "responses", COMMA_HEADER, delimiter=";")
    assert values(result) == approx({None: (100 / 3, 3)})
    assert (summary(result).delimiter, summary(result).rows_read) == (";", 3)


def test_sniffed_delimiter_on_a_header_full_of_commas_is_right_or_named() -> None:
    try:
        result = report("semicolon_comma_header.csv", "responses", COMMA_HEADER)
    except CxError as exc:
        assert "delimiter" in exc.message + (exc.hint or "")
    else:
        assert summary(result).delimiter == ";"
        assert values(result) == approx({None: (100 / 3, 3)})


@pytest.mark.parametrize(("name", "wrong"), [("same_pipe.csv", ","), ("same_tab.tsv", ";")])
def test_a_wrong_configured_delimiter_is_named_with_the_one_that_splits_the_header(
    name: str, wrong: str
) -> None:
    """New-user test 15: the hint named the whole header line as the column meant."""
    with pytest.raises(InputError) as caught:
        report(name, "responses", SAME, delimiter=wrong)
    assert f"is not in the file as read with delimiter {wrong!r}" in str(caught.value)
    right = "|" if name.endswith(".csv") else "\t"
    assert caught.value.hint is not None
    assert f"set delimiter: {right!r} under sources.s" in caught.value.hint


# -- quoting ------------------------------------------------------------------------------------


def test_quoted_commas_quotes_and_newlines_stay_inside_their_field() -> None:
    # five rows (CRLF), comments with ',', doubled quotes, an LF and a CRLF inside quotes:
    #   r1 04-01 10 P, r2 04-01 9 P, r3 04-02 6 D, r4 04-02 0 D, r5 04-03 10 P
    # overall 100 × (3 − 2) / 5 = +20; 04-01 +100 of 2; 04-02 −100 of 2; 04-03 +100 of 1
    columns = {
        "response_id": "Response ID",
        "submitted_at": "Submitted At",
        "comment": "Comment",
        "nps": "NPS",
    }
    result = report("quoted_fields.csv", "responses", columns, period="day")
    assert values(result) == approx(
        {
            None: (20.0, 5),
            "2024-04-01": (100.0, 2),
            "2024-04-02": (-100.0, 2),
            "2024-04-03": (100.0, 1),
        }
    )
    item = summary(result)
    assert (item.rows_read, item.rows_used) == (5, 5)  # no line inside a quote became a row
    assert item.fields["nps"] == {"valid": 5}


# -- survey tools' exports: extra header rows, text answers ------------------------------------

QUALTRICS = {
    "submitted_at": "EndDate",
    "response_id": "ResponseId",
    "nps": "Q1_NPS_GROUP",
    "csat": "Q2",
}
# qualtrics.csv (UTF-8 BOM, CRLF): ids row, question-text row (one question spans two lines
# inside quotes), ImportId JSON row, then six answers in March 2024:
#   R_1aB "10 - Extremely likely" P  Very satisfied 5
#   R_2cD "9"                      P  Satisfied 4
#   R_3eF "0 - Not at all likely"  D  Very dissatisfied 1
#   R_4gH "7"                      -  Neither ... 3
#   R_5iJ ""  (blank: not in n)       Satisfied 4
#   R_6kL "10 - Extremely likely"  P  Very satisfied 5
# NPS 100 × (3 − 1) / 5 = +40; CSAT top-2-box 4 of 6 answers are 4 or 5 -> 66.7 %.


@pytest.mark.parametrize("reading", [{"preset": "qualtrics"}, {"header_rows": 3}])
def test_qualtrics_export_three_header_rows_text_answers(reading: dict[str, Any]) -> None:
    result = report(
        "qualtrics.csv",
        "responses",
        QUALTRICS,
        ["nps", "csat"],
        period="month",
        values={"csat": SATISFACTION},
        **reading,
    )
    assert values(result, "nps") == approx({None: (40.0, 5), "2024-03": (40.0, 5)})
    assert pick(result, "nps").detail == {"promoters": 3, "passives": 1, "detractors": 1}
    assert values(result, "csat") == approx({None: (400 / 6, 6), "2024-03": (400 / 6, 6)})
    item = summary(result)
    assert (item.header_rows, item.rows_read, item.rows_used) == (3, 6, 6)
    assert item.fields["nps"] == {"blank": 1, "valid": 5}  # "10 - Extremely likely" is valid
    assert item.fields["csat"] == {"valid": 6}


SURVEYMONKEY = {
    "response_id": "Respondent ID",
    "submitted_at": "End Date",
    "nps": "How likely is it that you would recommend this company to a friend or colleague?",
    "csat": "How satisfied are you with our support?",
}


def test_surveymonkey_export_two_header_rows_month_first_12_hour_dates() -> None:
    # End Date, month first, 12-hour clock:
    #   03/02/2024 10:15:01 AM -> 2024-03-02   9 P  Very satisfied 5
    #   03/31/2024 11:59:59 PM -> 2024-03-31  10 P  Satisfied 4
    #   04/01/2024 12:00:01 AM -> 2024-04-01 00:00:01 (12 AM is midnight)  2 D  Dissatisfied 2
    # NPS overall 100 × (2 − 1) / 3 = +33.3; March +100 of 2; April −100 of 1
    # CSAT top-2-box overall 2/3 = 66.7; March 100; April 0
    result = report(
        "surveymonkey.csv",
        "responses",
        SURVEYMONKEY,
        ["nps", "csat"],
        period="month",
        preset="surveymonkey",
        date_format="%m/%d/%Y %I:%M:%S %p",
        values={"csat": SATISFACTION},
    )
    assert values(result, "nps") == approx(
        {None: (100 / 3, 3), "2024-03": (100.0, 2), "2024-04": (-100.0, 1)}
    )
    assert values(result, "csat") == approx(
        {None: (200 / 3, 3), "2024-03": (100.0, 2), "2024-04": (0.0, 1)}
    )
    item = summary(result)
    assert (item.header_rows, item.rows_read, item.rows_used) == (2, 3, 3)


def test_header_rows_skips_a_units_row() -> None:
    # header "date,csat", a units row "(ISO 8601),(1-5)", answers 5, 4, 2:
    # top-2-box 2 of 3 = 66.7 %; the units row is neither read nor dropped
    result = report(
        "units_row.csv",
        "responses",
        {"submitted_at": "date", "csat": "csat"},
        ["csat"],
        header_rows=2,
    )
    assert values(result, "csat") == approx({None: (200 / 3, 3)})
    item = summary(result)
    assert (item.header_rows, item.rows_read, dict(item.rows_dropped)) == (2, 3, {})


# -- money and durations ------------------------------------------------------------------------

ORDERS = {"order_id": "Order ID", "ordered_at": "Order Date", "amount": "Total"}


def test_us_money_symbols_thousands_accounting_negatives_and_refunds() -> None:
    # "$1,234.50" = 1234.50; "(12.00)" = −12.00; "-20.00" (a refund, kept) = −20.00;
    # "$45.50" = 45.50. Revenue 1234.50 − 12 − 20 + 45.50 = 1248.00 over 4 orders: AOV 312.00
    result = report("orders_usd.csv", "orders", ORDERS, ["aov"], period="month")
    assert values(result, "aov") == approx({None: (312.0, 4), "2024-07": (312.0, 4)})
    detail = pick(result, "aov").detail
    assert (detail["orders"], detail["revenue"]) == (4, pytest.approx(1248.0))
    assert summary(result).fields["amount"] == {"valid": 4}


def test_european_money_decimal_comma_in_a_cp1252_semicolon_file() -> None:
    # decimal: "," (thousands then "."): "1.234,50 €" = 1234.50 (€ is byte 0x80, so the file
    # is detected as cp1252); "12,00 EUR" = 12.00; "-46,50 EUR" (refund) = −46.50.
    # Revenue 1200.00 over 3 orders: AOV 400.00
    columns = {"order_id": "Bestellnummer", "ordered_at": "Datum", "amount": "Betrag"}
    result = report("orders_eur.csv", "orders", columns, ["aov"], decimal=",")
    assert values(result, "aov") == approx({None: (400.0, 3)})
    assert pick(result, "aov").detail["revenue"] == pytest.approx(1200.0)
    item = summary(result)
    assert (item.encoding, item.delimiter) == ("cp1252", ";")


def test_european_money_read_with_a_decimal_point_is_refused_not_misread() -> None:
    # The same file without decimal: ",". Before, "12,00 EUR" read as 1200 and "1.234,50 €" as
    # 1.2345 (revenue 1155.2345, AOV 385.08): a silently wrong figure. No value groups its
    # digits as a thousands comma must, so all 3 are not numbers; all 3 are numbers with
    # decimal ",", more than the 0 that read, so the column is refused.
    columns = {"order_id": "Bestellnummer", "ordered_at": "Datum", "amount": "Betrag"}
    with pytest.raises(InputError) as caught:
        report("orders_eur.csv", "orders", columns, ["aov"])
    assert str(caught.value).endswith(
        "column 'Betrag' (amount): 3 of 3 values are numbers only with decimal ',' "
        "(e.g. '1.234,50 €'), but the source reads decimal '.'"
    )
    assert caught.value.hint == 'set decimal: "," under sources.s'


def orders_file(folder: Path, name: str, totals: Sequence[str]) -> Path:
    """An orders CSV with one order per total (ids <file stem>1.., a day each in January)."""
    path = folder / name
    rows = [f'{path.stem}{i},2024-01-{i:02d},"{total}"' for i, total in enumerate(totals, 1)]
    path.write_text("id,when,total\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def aov_of(path: Path | list[str], **spec: Any) -> Report:
    columns = {"order_id": "id", "ordered_at": "when", "amount": "total"}
    where = str(path) if isinstance(path, Path) else path
    source = {"kind": "orders", "path": where, "columns": columns, **spec}
    return run(parse_config({"version": 1, "sources": {"s": source}, "kpis": ["aov"]}))


@pytest.mark.parametrize(
    ("totals", "decimal", "fix", "example"),
    [
        (["1234,50", "12,50", "(7,00)"], ".", ",", "1234,50"),  # no thousands at all
        (["n/a?", "1234,50", "12,50"], ".", ",", "1234,50"),  # a stray text value first
        (["1234.50", "12.50", "EUR 7.00"], ",", ".", "1234.50"),  # the other way round
    ],
)
def test_a_column_of_numbers_with_the_other_decimal_separator_is_refused(
    tmp_path: Path, totals: list[str], decimal: str, fix: str, example: str
) -> None:
    with pytest.raises(InputError) as caught:
        aov_of(orders_file(tmp_path, "o.csv", totals), decimal=decimal)
    assert f"values are numbers only with decimal '{fix}' (e.g. '{example}')" in str(caught.value)
    assert caught.value.hint == f'set decimal: "{fix}" under sources.s'


def test_the_decimal_check_adds_up_every_file(tmp_path: Path) -> None:
    # File 1: 10.00 and 20.00 read, "—" is not a number. File 2: three decimal-comma totals.
    # 3 values are numbers only with decimal "," against 2 that read: refused.
    first = orders_file(tmp_path, "a.csv", ["10.00", "20.00", "—"])
    second = orders_file(tmp_path, "b.csv", ["1,50", "2,50", "3,50"])
    with pytest.raises(InputError, match=r"3 of 6 values are numbers only with decimal ','"):
        aov_of([str(first), str(second)])
    # With one file more of good totals (2 + 3 = 5 read), the 3 are left out and counted.
    third = orders_file(tmp_path, "c.csv", ["30.00", "40.00", "50.00"])
    result = aov_of([str(first), str(second), str(third)])
    assert values(result, "aov") == approx({None: (30.0, 5)})  # (10+20+30+40+50) / 5
    assert summary(result).fields["amount"] == {"valid": 5, "not a number": 4}


def test_placeholders_that_are_no_numbers_are_counted_not_refused(tmp_path: Path) -> None:
    # Mostly "—" (no decimal separator issue): AOV over the one total that reads, as before.
    result = aov_of(orders_file(tmp_path, "o.csv", ["—", "—", "n.a.", "12.50"]))
    assert values(result, "aov") == approx({None: (12.5, 1)})
    assert summary(result).fields["amount"] == {"valid": 1, "not a number": 3}


def test_a_decimal_comma_among_decimal_points_is_left_out_and_counted(tmp_path: Path) -> None:
    # 12.50 and 1,234.50 read; "7,00" is no thousands grouping, so not a number (was 700).
    # AOV = (12.50 + 1234.50) / 2 = 623.50, n 2; the third order is counted as not a number.
    csv = tmp_path / "orders.csv"
    csv.write_text(
        'id,when,total\n1,2024-01-05,12.50\n2,2024-01-06,"1,234.50"\n3,2024-01-07,"7,00"\n'
    )
    source = {
        "kind": "orders",
        "path": str(csv),
        "columns": {"order_id": "id", "ordered_at": "when", "amount": "total"},
    }
    result = run(parse_config({"version": 1, "sources": {"s": source}, "kpis": ["aov"]}))
    assert values(result, "aov") == approx({None: (623.5, 2)})
    assert summary(result).fields["amount"] == {"valid": 2, "not a number": 1}
    assert "s: 1 amount value not a number, left out of n" in result.warnings


@pytest.mark.parametrize(
    ("cells", "decimal", "thousands", "kind", "expected"),
    [
        # money sheds currency; a comma groups thousands with decimal ".", a dot with ",";
        # plain numbers with thousands: " " (money would shed the spaces as noise)
        (
            ["$1,234.50", "12,50", "1.234,56", "(1,234.00)", "1,23,456.7", ",5", "1.5E+03"],
            ".",
            None,
            "money",
            [1234.5, None, None, -1234.0, 123456.7, None, 1500.0],
        ),
        (
            ["1.234,50 €", "12.50", "-46,50 EUR", "1.234.567,8", "12,00"],
            ",",
            None,
            "money",
            [1234.5, None, -46.5, 1234567.8, 12.0],
        ),
        (["1 234,5", "12 5", "1 234 567"], ",", " ", "number", [1234.5, None, 1234567.0]),
        (["1,234e3", "1,234.5E-1", "12,3e3"], ".", ",", "number", [1234000.0, 123.45, None]),
    ],
)
def test_thousands_separators_must_group_digits(
    cells: list[str],
    decimal: str,
    thousands: str | None,
    kind: str,
    expected: list[float | None],
) -> None:
    import pandas as pd

    from cx_cli.coerce import to_numbers

    read = to_numbers(pd.Series(cells), decimal, thousands, kind)
    assert [None if pd.isna(v) else v for v in read] == pytest.approx(expected)


@given(st.integers(-(10**9), 10**9))
@settings(max_examples=300, deadline=None)
def test_money_in_either_convention_is_exact_or_not_a_number(cents: int) -> None:
    """Two-decimal money written US-style ("1,234.50") or European-style ("1.234,50") reads
    exactly with its own decimal separator, and with the other one is never a number: a
    misread decimal separator is left out and counted, never a figure 100 times too big."""
    import pandas as pd

    from cx_cli.coerce import to_numbers

    us = f"{cents / 100:,.2f}"
    eu = us.translate(str.maketrans(",.", ".,"))
    assert to_numbers(pd.Series([us]), ".", None, "money")[0] == pytest.approx(cents / 100)
    assert to_numbers(pd.Series([eu]), ",", None, "money")[0] == pytest.approx(cents / 100)
    assert pd.isna(to_numbers(pd.Series([eu]), ".", None, "money")[0])
    assert pd.isna(to_numbers(pd.Series([us]), ",", None, "money")[0])


def test_handle_time_as_seconds_and_clock_times() -> None:
    # "300" = 300 s; "00:05:30" = 330 s; "1:02:03" = 3723 s; "04:30" (MM:SS) = 270 s
    # mean (300 + 330 + 3723 + 270) / 4 = 4623 / 4 = 1155.75 s; median (300 + 330) / 2 = 315
    # 2024-08-01: (300 + 330) / 2 = 315; 2024-08-02: (3723 + 270) / 2 = 1996.5
    columns = {"ticket_id": "Ticket", "created_at": "Created", "handle_seconds": "Handle Time"}
    result = report("tickets_durations.csv", "tickets", columns, ["aht"], period="day")
    assert values(result, "aht") == approx(
        {None: (1155.75, 4), "2024-08-01": (315.0, 2), "2024-08-02": (1996.5, 2)}
    )
    assert pick(result, "aht").detail["median"] == pytest.approx(315.0)
    assert pick(result, "aht").unit == "seconds"


# -- dates --------------------------------------------------------------------------------------

OFFSETS = {"submitted_at": "Submitted", "nps": "NPS"}
# dates_offsets.csv, as UTC and as Europe/Berlin (CET +1; CEST +2 from 2024-03-31 01:00 UTC):
#   2024-01-15T10:00:00+01:00  10 P  UTC 01-15 09:00 Jan | Berlin 01-15 10:00 Jan
#   2024-01-31T23:30:00Z        9 P  UTC 01-31 23:30 Jan | Berlin 02-01 00:30 Feb
#   2024-01-31T20:00:00-05:00   3 D  UTC 02-01 01:00 Feb | Berlin 02-01 02:00 Feb
#   2024-02-15T12:00:00+0100   10 P  UTC 02-15 11:00 Feb | Berlin 02-15 12:00 Feb
#   2024-03-31T22:30:00+00:00   8 -  UTC 03-31 22:30 Mar | Berlin 04-01 00:30 Apr (CEST)
#   2024-03-31 23:30:00 naive   0 D  kept as given: Mar in both
#   2024-03-31T00:30:00.000Z    6 D  UTC 03-31 00:30 Mar | Berlin 03-31 01:30 Mar (still CET)
# overall P 3, D 3 of 7 -> 0 either way.
# UTC:    Jan 10, 9 -> +100 of 2; Feb 3, 10 -> 0 of 2; Mar 8, 0, 6 -> 100 × (0 − 2) / 3
# Berlin: Jan 10 -> +100 of 1; Feb 9, 3, 10 -> +33.3 of 3; Mar 0, 6 -> −100 of 2; Apr 8 -> 0


def test_mixed_utc_offsets_land_in_utc_months_by_default() -> None:
    result = report("dates_offsets.csv", "responses", OFFSETS, period="month")
    assert values(result) == approx(
        {None: (0.0, 7), "2024-01": (100.0, 2), "2024-02": (0.0, 2), "2024-03": (-200 / 3, 3)}
    )
    assert summary(result).fields["submitted_at"] == {"valid": 7}


def test_mixed_utc_offsets_normalised_to_berlin_move_late_evenings_into_the_next_month() -> None:
    result = report(
        "dates_offsets.csv", "responses", OFFSETS, period="month", timezone="Europe/Berlin"
    )
    assert values(result) == approx(
        {
            None: (0.0, 7),
            "2024-01": (100.0, 1),
            "2024-02": (100 / 3, 3),
            "2024-03": (-100.0, 2),
            "2024-04": (0.0, 1),
        }
    )


def test_offsets_of_hours_alone_are_offsets() -> None:
    """PostgreSQL writes timestamptz as "2025-03-04 10:15:00+01": 09:15 UTC, 10:15 in Berlin."""
    import pandas as pd

    from cx_cli.coerce import parse_timestamps

    text = pd.Series(["2025-03-04 10:15:00+01", "2025-03-04 10:15:00.5+00", "2025-03-04 10:15-08"])
    utc, _ = parse_timestamps(text, None, None)
    assert [str(t) for t in utc] == [
        "2025-03-04 09:15:00",
        "2025-03-04 10:15:00.500000",
        "2025-03-04 18:15:00",
    ]
    berlin, shift = parse_timestamps(text, None, "Europe/Berlin")
    assert str(berlin[0]) == "2025-03-04 10:15:00"
    assert shift is not None and (shift == 3600 * 10**9).all()


@pytest.mark.parametrize(
    ("winter", "summer", "date_format", "utc"),
    [
        ("20250304101500+0100", "20250704101500+0200", "%Y%m%d%H%M%S%z", "09:15 08:15"),
        ("03/04/2025 10:15 AM +0100", "07/04/2025 10:15 AM +0200", "%m/%d/%Y %I:%M %p %z",
         "09:15 08:15"),
        ("20250304T101500+0100", "20250704T101500+0200", None, "09:15 08:15"),  # ISO basic
        ("2025-03-04T10+01:00", "2025-07-04T10+02:00", None, "09:00 08:00"),  # hours alone
    ],
)  # fmt: skip
def test_offsets_in_any_form_convert_each_value_from_its_own(
    winter: str, summer: str, date_format: str | None, utc: str
) -> None:
    """Two offsets in one column (a zone with summer time): each value from its own offset,
    never "Mixed timezones" for the whole column."""
    import pandas as pd

    from cx_cli.coerce import parse_timestamps

    when, _ = parse_timestamps(pd.Series([winter, summer]), date_format, None)
    march, july = utc.split()
    assert [str(t) for t in when] == [f"2025-03-04 {march}:00", f"2025-07-04 {july}:00"]


@settings(max_examples=40, deadline=None)
@given(
    st.dates(dt.date(1990, 1, 1), dt.date(2060, 12, 31)),
    st.sampled_from(["%m-%d-%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"]),
    st.sampled_from([None, "UTC", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati"]),
)
def test_a_date_without_a_time_keeps_its_day_in_every_zone(
    day: dt.date, date_format: str, zone: str | None
) -> None:
    """Invariant: a date has no offset, whatever its format; its year after a dash ("-2025")
    was once read as a -20:25 offset, which moved the date to the day before under a timezone."""
    import pandas as pd

    from cx_cli.coerce import parse_timestamps

    when, _ = parse_timestamps(pd.Series([day.strftime(date_format)]), date_format, zone)
    assert when[0] == pd.Timestamp(day)


SLASHED = {"submitted_at": "Date", "nps": "NPS"}
# dates_slashed.csv: 03/02/2024 10 P, 04/02/2024 9 P, 02/03/2024 0 D; overall +33.3 of 3


def test_day_first_date_format() -> None:
    # 3 Feb, 4 Feb, 2 Mar: February +100 of 2, March −100 of 1
    result = report(
        "dates_slashed.csv", "responses", SLASHED, period="month", date_format="%d/%m/%Y"
    )
    assert values(result) == approx(
        {None: (100 / 3, 3), "2024-02": (100.0, 2), "2024-03": (-100.0, 1)}
    )


def test_month_first_date_format() -> None:
    # 2 Mar, 2 Apr, 3 Feb: February −100 of 1, March +100 of 1, April +100 of 1
    result = report(
        "dates_slashed.csv", "responses", SLASHED, period="month", date_format="%m/%d/%Y"
    )
    assert values(result) == approx(
        {None: (100 / 3, 3), "2024-02": (-100.0, 1), "2024-03": (100.0, 1), "2024-04": (100.0, 1)}
    )


def test_slashed_dates_without_a_format_stop_the_run_naming_the_column() -> None:
    with pytest.raises(InputError) as caught:
        report("dates_slashed.csv", "responses", SLASHED)
    assert "'Date'" in caught.value.message and "03/02/2024" in caught.value.message
    assert "date_format" in (caught.value.hint or "")


EXCEL = {"submitted_at": "Day", "nps": "NPS"}


@pytest.mark.parametrize("date_format", ["excel", None])
def test_excel_serial_day_numbers(date_format: str | None) -> None:
    # serial days from 1899-12-30: 45292 = 2024-01-01 (10 P); 45322.5 = 2024-01-31 12:00 (9 P);
    # 45323 = 2024-02-01 (8 passive); 45351.99999 = 2024-02-29 23:59:59.1, rounded to the
    # second, still 29 Feb (2 D). Jan +100 of 2; Feb (0 − 1) / 2 = −50; overall +25 of 4.
    # Without date_format the serials are recognised among (here: instead of) ISO dates.
    spec = {"date_format": date_format} if date_format else {}
    result = report("dates_excel_serial.csv", "responses", EXCEL, period="day", **spec)
    assert values(result) == approx(
        {
            None: (25.0, 4),
            "2024-01-01": (100.0, 1),
            "2024-01-31": (100.0, 1),
            "2024-02-01": (0.0, 1),
            "2024-02-29": (-100.0, 1),
        }
    )


def test_excel_serials_among_iso_dates_are_recognised() -> None:
    # 2024-01-10 (10 P); 45323 = 2024-02-01 (0 D); 2024-02-20 08:00 (10 P)
    # Jan +100 of 1; Feb (1 − 1) / 2 = 0; overall 100 × (2 − 1) / 3 = +33.3
    result = report("dates_iso_and_serial.csv", "responses", EXCEL, period="month")
    assert values(result) == approx(
        {None: (100 / 3, 3), "2024-01": (100.0, 1), "2024-02": (0.0, 2)}
    )
    assert summary(result).rows_used == 3


def test_a_date_outside_pandas_range_is_not_a_date(tmp_path: Path) -> None:
    # 0 D, 1 D kept; "0202-01-05" (a typo) and "2300-01-03" are beyond datetime64[ns]
    # (1677-2262): not dates, dropped; "+02:00" 10 P kept. NPS 100 × (1 − 2) / 3 = −33.3
    path = tmp_path / "typo.csv"
    path.write_bytes(
        b"Submitted At,NPS\n2024-01-01 10:00:00,0\n2024-01-02 10:00:00,1\n"
        b"0202-01-05 10:00:00,5\n2024-01-03 10:00:00+02:00,10\n2300-01-03,9\n"
    )
    columns = {"submitted_at": "Submitted At", "nps": "NPS"}
    result = run(parse_config(document(str(path), "responses", columns, ["nps"])))
    assert values(result) == approx({None: (-100 / 3, 3)})
    assert dict(summary(result).rows_dropped) == {"submitted_at not a date": 2}


# -- duplicates ---------------------------------------------------------------------------------


def test_duplicate_rows_removed_by_dedupe_and_counted() -> None:
    # R1 10, R2 9, R2 9 (repeat), R3 0, R1 10 (repeat), "" 6 (no id: never a duplicate)
    # kept 10, 9, 0, 6: 100 × (2 − 2) / 4 = 0; read 6, used 4, 2 dropped as duplicates
    columns = {"response_id": "Response ID", "submitted_at": "Submitted At", "nps": "NPS"}
    result = report("duplicates.csv", "responses", columns, dedupe="response_id")
    assert values(result) == approx({None: (0.0, 4)})
    item = summary(result)
    assert (item.rows_read, item.rows_used) == (6, 4)
    assert dict(item.rows_dropped) == {"duplicate response_id": 2}
    # without dedupe every row counts: 10, 9, 9, 0, 10, 6 -> 100 × (4 − 2) / 6 = +33.3
    assert values(report("duplicates.csv", "responses", columns)) == approx({None: (100 / 3, 6)})


@pytest.mark.parametrize(
    ("rows", "window", "reason"),
    [
        # X1's first answer (10, January) is before --since; its February copy (0) is a repeat
        (
            "X1,2025-01-31 10:00,10\nX1,2025-02-02 10:00,0\n",
            ["--since", "2025-02-01"],
            "before --since",
        ),
        # the file lists X1's March answer first: after --until, it still makes February's a copy
        (
            "X1,2025-03-05 10:00,10\nX1,2025-02-02 10:00,0\n",
            ["--until", "2025-02-28"],
            "after --until",
        ),
    ],
)
def test_dedupe_judges_repeats_among_rows_outside_the_window_too(
    tmp_path: Path, rows: str, window: list[str], reason: str
) -> None:
    """February is X2's 9 alone (+100, n 1) whatever the window: X1's February row repeats an
    earlier row of the file, inside the window or not (audit 18 found it kept, NPS 0, n 2)."""
    (tmp_path / "dup.csv").write_text(
        "Response ID,Submitted At,NPS\n" + rows + "X2,2025-02-03 10:00,9\n", encoding="utf-8"
    )
    columns = {"response_id": "Response ID", "submitted_at": "Submitted At", "nps": "NPS"}
    source = {"kind": "responses", "path": "dup.csv", "columns": columns, "dedupe": "response_id"}
    config = str(write_config(tmp_path, source))
    args = ["report", "-c", config, "--period", "month", "-f", "json", "-q"]
    for extra in ([], window):
        result = runner.invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        got = json.loads(result.stdout)
        february = [r for r in got["results"] if r["period"] == "2025-02"]
        assert [(r["value"], r["n"]) for r in february] == [(100.0, 1)]
        outside = {reason: 1} if extra else {}
        assert got["inputs"][0]["rows_dropped"] == {"duplicate response_id": 1, **outside}


# -- the same through the command line ----------------------------------------------------------


def write_config(folder: Path, source: dict[str, Any], kpis: Sequence[Any] = ("nps",)) -> Path:
    path = folder / "cxkpi.yaml"
    body = {"version": 1, "sources": {"s": source}, "kpis": list(kpis)}
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def test_cli_reads_excel_unicode_text_through_input_override(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "kind": "responses",
            "path": "elsewhere.csv",
            "columns": SAME,
            "segments": {"r": "Region"},
        },
    )
    result = runner.invoke(
        app,
        [
            *("report", "-c", str(config), "-f", "json", "--period", "month", "--by", "r"),
            *("--input", f"s={DATA / 'same_utf16_excel_unicode.txt'}"),
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    (item,) = body["inputs"]
    assert (item["encoding"], item["delimiter"], item["rows_read"]) == ("utf-16", "\t", 4)
    figures = {(r["period"], r["segment"].get("r")): (r["value"], r["n"]) for r in body["results"]}
    assert figures[(None, None)] == (pytest.approx(25.0), 4)
    assert figures[("2024-01", "Zürich")] == (pytest.approx(100.0), 2)
    assert figures[("2024-02", "Köln")] == (pytest.approx(-50.0), 2)


# -- bugs found by the fuzz tests below and by probing the reader's edges ----------------------

WHEN_NPS = {"submitted_at": "When", "nps": "NPS"}


def test_truncated_utf16_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes((DATA / "same_utf16_excel_unicode.txt").read_bytes() + b"\x00")
    with pytest.raises(InputError):
        run(parse_config(document(str(path), "responses", SAME, ["nps"])))


def test_byte_undefined_in_configured_cp1252_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"When,NPS,Note\r\n2024-01-01,10,caf\xe9 \x81\r\n")
    with pytest.raises(InputError):
        run(parse_config(document(str(path), "responses", WHEN_NPS, ["nps"], encoding="cp1252")))


def test_a_missing_column_error_closes_the_input_file(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_bytes(b"When,Score\n2024-01-01,10\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InputError):
            run(parse_config(document(str(path), "responses", WHEN_NPS, ["nps"])))
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


NOT_UTF8_RAGGED = b"When;NPS\n2024-01-01;10\n2024-01-02;9;caf\xe9\n"  # cp1252 é, one extra field


@pytest.mark.parametrize("bad_rows", ["skip", "error"])
def test_a_ragged_row_that_is_not_utf8_names_the_encoding(tmp_path: Path, bad_rows: str) -> None:
    # Found by fuzzing (once an xfail): pyarrow decodes a ragged row as UTF-8 before calling
    # the bad-row handler, so with encoding: utf-8 on a cp1252 file it printed "Exception
    # ignored ... Traceback" and stopped on "Expected 2 columns, got 3". The row can be neither
    # skipped nor shown as read; the encoding is wrong, and the error says so (decisions.md).
    (tmp_path / "export.csv").write_bytes(NOT_UTF8_RAGGED)
    source = {"kind": "responses", "path": "export.csv", "columns": WHEN_NPS}
    config = write_config(tmp_path, {**source, "encoding": "utf-8", "bad_rows": bad_rows})
    done = subprocess.run(
        [sys.executable, "-m", "cx_cli", "report", "-c", str(config), "-f", "json"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert (done.returncode, done.stdout) == (1, "")
    error, hint = done.stderr.splitlines()
    assert error.startswith("error: ")
    assert "export.csv: line 3 has byte b'\\xe9', not valid utf-8, and a different number" in error
    assert "2024-01-02;9;caf" in error
    assert hint.startswith("hint: set encoding under sources.") and "cp1252" in hint


def test_an_undecodable_row_leaves_other_unraisable_exceptions_to_the_hook_before(
    tmp_path: Path,
) -> None:
    """The hook that catches those rows is there only while a CSV is read, and hands every
    other unraisable exception on."""
    from cx_cli.sources import _undecodable_rows

    seen: list[object] = []
    other = types.SimpleNamespace(object=print, exc_value=ValueError("x"))
    before = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        _undecodable_rows.start()
        sys.unraisablehook(other)
        ours = sys.unraisablehook
        _undecodable_rows.stop()
        assert sys.unraisablehook == seen.append
        sys.unraisablehook = ours  # code that had saved the hook during a read puts it back
        _undecodable_rows.start()  # and the next read must not chain the hook to itself
        sys.unraisablehook(other)
        _undecodable_rows.stop()
    finally:
        sys.unraisablehook = before
    assert len(seen) == 2


TICKETS = {"ticket_id": "Ticket", "created_at": "Created", "handle_seconds": "Handle Time"}


def test_non_finite_handle_time_is_not_a_number(tmp_path: Path) -> None:
    # T1 300 s; T2 "1e309" left out: AHT 300 s over n = 1
    path = tmp_path / "tickets.csv"
    path.write_bytes(b"Ticket,Created,Handle Time\nT1,2024-08-01,300\nT2,2024-08-01,1e309\n")
    source = {"kind": "tickets", "path": str(path), "columns": TICKETS}
    table = runner.invoke(app, ["report", "-c", str(write_config(tmp_path, source, ["aht"]))])
    assert table.exit_code == 0, table.stderr
    result = run(parse_config(document(str(path), "tickets", TICKETS, ["aht"])))
    assert (pick(result, "aht").value, pick(result, "aht").n) == (300.0, 1)
    assert summary(result).fields["handle_seconds"] == {"not a number": 1, "valid": 1}


def test_money_in_scientific_notation_is_not_misread(tmp_path: Path) -> None:
    # "1e3" = 1000 and "20": AOV 510 over 2 orders; or "1e3" left out: AOV 20 over 1
    path = tmp_path / "orders.csv"
    path.write_bytes(b"Order ID,Order Date,Total\nA1,2024-07-01,1e3\nA2,2024-07-02,20\n")
    result = run(parse_config(document(str(path), "orders", ORDERS, ["aov"])))
    row = pick(result, "aov")
    assert (row.value, row.n) in [(pytest.approx(510.0), 2), (pytest.approx(20.0), 1)]


RAGGED_ONLY = b"Order,Date,Amount\nA1,2024-01-01,10,extra\nA2,2024-01-02,20,extra\n"


def test_every_row_skipped_orders_report_or_error(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(RAGGED_ONLY)
    columns = {"order_id": "Order", "ordered_at": "Date", "amount": "Amount"}
    doc = document(str(path), "orders", columns, ["aov"], bad_rows="skip")
    try:
        result = run(parse_config(doc))
    except CxError:
        return  # an error saying no row was usable is fine too
    assert (pick(result, "aov").value, pick(result, "aov").n) == (None, 0)


def test_every_row_skipped_responses_still_has_the_overall_row(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"When,NPS\n2024-01-01,10,extra\n2024-01-02,9,extra\n")
    doc = document(str(path), "responses", WHEN_NPS, ["nps"], bad_rows="skip")
    try:
        result = run(parse_config(doc))
    except CxError:
        return  # an error saying no row was usable is fine too
    assert dict(summary(result).rows_dropped) == {"wrong number of fields": 2}
    assert [(r.value, r.n) for r in result.results if r.period is None] == [(None, 0)]


# -- fuzzing: random bytes and random CSV shapes through the command line -----------------------

# Known bugs, each covered by an xfail test above: an example that hits one is set aside, so
# these tests keep guarding everything else. Remove an entry when its bug is fixed.
KNOWN_BUGS: tuple[tuple[str, str | None, str], ...] = (
    # (signature on stderr or in an exception Python could only print, source option the bug
    # needs or None, the xfail test covering it); none known now
)


def known_bug(texts: Sequence[str], source: dict[str, Any]) -> bool:
    return any(
        sign in text and (option is None or option in source)
        for sign, option, _ in KNOWN_BUGS
        for text in texts
    )


fuzz = settings(max_examples=40, deadline=None)


def invoke(
    folder: Path, data: bytes, source: dict[str, Any], kpis: Sequence[Any], *args: str
) -> tuple[Result, list[str]]:
    """Run `cxkpi report` on data; also return the exceptions Python could only print (a
    failing callback or __del__: "Exception ignored in ... Traceback" on a real stderr)."""
    path = folder / "export.csv"
    path.write_bytes(data)
    config = write_config(folder, {**source, "path": str(path)}, kpis)
    ignored: list[str] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: ignored.append(
        f"{type(u.exc_value).__name__}: {u.exc_value} in {u.object!r:.60}"
    )
    try:
        return runner.invoke(app, ["report", "-c", str(config), *args]), ignored
    finally:
        sys.unraisablehook = hook


def no_nan(name: str) -> None:
    raise AssertionError(f"{name} in JSON output")


def assert_report_or_error(
    outcome: tuple[Result, list[str]], fmt: str, source: dict[str, Any]
) -> None:
    """Exit 0 with a report (JSON: strict, an overall row per KPI), or exit 1/2 with an
    `error:` line; never a crash."""
    result, ignored = outcome
    event(f"exit {result.exit_code}")  # pytest --hypothesis-show-statistics shows the mix
    internal = result.exit_code == 70 or "internal error" in result.stderr
    assume(not (internal and known_bug([result.stderr], source)))
    assume(not known_bug(ignored, source))
    assert not ignored, ignored
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code == 0:
        assert result.stdout.strip()
        if fmt == "json":
            body = json.loads(result.stdout, parse_constant=no_nan)
            (item,) = body["inputs"]
            # known bug (test_every_row_skipped_responses_...): no rows left, no overall row
            assume(not (source.get("bad_rows") and item["rows_used"] == 0))
            overall = {r["label"] for r in body["results"] if r["period"] is None}
            assert overall == {d["label"] for d in body["definitions"]}
    else:
        assert result.stdout == ""
        assert any(line.startswith("error: ") for line in result.stderr.splitlines())


HEADS = [
    b"",
    b"When,NPS\n",
    b"When;NPS\r\n",
    BOM8 + b"When|NPS\n",
    "When\tNPS\r\n".encode("utf-16"),
]
FORMATS = st.sampled_from(["json", "table", "csv", "markdown"])


@fuzz
@given(head=st.sampled_from(HEADS), body=st.binary(max_size=400), fmt=FORMATS)
def test_random_bytes_give_a_report_or_an_error(
    tmp_path_factory: pytest.TempPathFactory, head: bytes, body: bytes, fmt: str
) -> None:
    source = {"kind": "responses", "columns": WHEN_NPS}
    folder = tmp_path_factory.mktemp("bytes")
    outcome = invoke(folder, head + body, source, ["nps"], "-f", fmt, "--period", "month")
    assert_report_or_error(outcome, fmt, source)


TOKENS = [
    *"ab1 9,;|\t\"'\n\r\x00é€–\ufeff-:/.()$\\",
    "10",
    "2024-01-05",
    "45292",
    "10 - Extremely likely",
    "1.234,50 €",
    "01:02:03",
    "NA",
]
noise = st.lists(st.sampled_from(TOKENS), max_size=4).map("".join) | st.text(max_size=5)
POOLS = {
    # column type: plausible cells of that type, messy but mostly valid
    "date": [
        *("2024-01-05", "2024-01-31T23:30:00Z", "2024-03-31T22:30:00+02:00", "2024-02-29 23:59"),
        *("45292", "45322.5", "03/02/2024", "", "NA"),
    ],
    "score": [*map(str, range(11)), "10 - Extremely likely", "Very satisfied", "", "n/a", "11"],
    "money": ["$1,234.50", "(12.00)", "-20.00", "1.234,50 €", "12,00 EUR", "0", "45.5", ""],
    "duration": ["300", "00:05:30", "1:02:03", "04:30", "0", "-5", "", "n/a"],
    "id": ["A1", "A2", "A3", " A1", ""],
    "text": ["email", "chat", "NA", "", "Zürich", "=1+1", "-x"],
}
FIELD_TYPES = {
    **dict.fromkeys(["submitted_at", "ordered_at", "created_at"], "date"),
    **dict.fromkeys(["nps", "csat"], "score"),
    **dict.fromkeys(["response_id", "customer_id", "order_id", "ticket_id"], "id"),
    "amount": "money",
    "handle_seconds": "duration",
}
KINDS = {
    # kind: (fields always mapped, fields sometimes mapped, KPI lists that fit them)
    "responses": (
        ("nps", "csat"),
        ("submitted_at", "response_id", "customer_id"),
        (["nps"], ["csat"], ["nps", "csat"], [{"kpi": "csat", "variant": "mean"}]),
    ),
    "orders": (
        ("order_id", "amount", "customer_id"),
        ("ordered_at",),
        (["aov"], ["repeat_rate"], ["aov", "repeat_rate"]),
    ),
    "tickets": (("handle_seconds",), ("ticket_id", "created_at"), (["aht"],)),
}
READING = {
    "encoding": st.sampled_from(["utf-8", "cp1252", "utf-16", "latin-1"]),
    "delimiter": st.sampled_from([",", ";", "\t", "|"]),
    "header_rows": st.integers(1, 3),
    "decimal": st.just(","),
    "bad_rows": st.just("skip"),
    "timezone": st.just("Europe/Berlin"),
    "date_format": st.sampled_from(["excel", "%d/%m/%Y"]),
    "preset": st.sampled_from(["qualtrics", "surveymonkey"]),
    "values": st.just({"csat": SATISFACTION}),
}


def typed(kind: str) -> st.SearchStrategy[str]:
    """A cell of a column type: nine times in ten from its pool, else noise."""
    return st.tuples(st.integers(0, 9), st.sampled_from(POOLS[kind]), noise).map(
        lambda t: t[2] if t[0] == 0 else t[1]
    )


@fuzz
@given(data=st.data())
def test_random_csv_shapes_give_a_report_or_an_error(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    types = data.draw(st.lists(st.sampled_from(sorted(POOLS)), min_size=1, max_size=5), "types")
    names = noise | st.sampled_from(["When", "NPS", "Order ID", "Region"])
    header = data.draw(st.lists(names, min_size=len(types), max_size=len(types)), "header")
    row = st.tuples(*map(typed, types)).map(list)
    shift = st.sampled_from([0] * 8 + [-1, 1])  # mostly as wide as the header, or ragged
    rows = data.draw(st.lists(st.tuples(row, shift, noise), max_size=8), "rows")
    cells = [r[: len(r) - 1] if k < 0 else [*r, extra] if k else r for r, k, extra in rows]
    delimiter = data.draw(st.sampled_from([",", ";", "\t", "|"]), "delimiter")
    newline = data.draw(st.sampled_from(["\n", "\r\n", "\r"]), "newline")
    quoted = data.draw(st.booleans(), "quote every cell")

    def line(values: list[str]) -> str:
        return delimiter.join('"' + v.replace('"', '""') + '"' if quoted else v for v in values)

    text = newline.join(map(line, [header, *cells])) + newline * data.draw(st.integers(0, 3))
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]), "encoding")
    kind = data.draw(st.sampled_from(sorted(KINDS)), "kind")
    always, sometimes, kpi_lists = KINDS[kind]
    columns = {}
    for name in [*always, *(f for f in sometimes if data.draw(st.booleans(), f"map {f}"))]:
        fitting = [h for h, t in zip(header, types, strict=True) if t == FIELD_TYPES[name]]
        columns[name] = data.draw(st.sampled_from(fitting or header), name)
    source: dict[str, Any] = {"kind": kind, "columns": columns}
    reading = st.just({}) | st.fixed_dictionaries({}, optional=READING)
    source.update(data.draw(reading, "reading options"))
    if "csat" not in columns:
        source.pop("values", None)
    if "response_id" in columns and data.draw(st.booleans(), "dedupe"):
        source["dedupe"] = "response_id"
    args = ["-f", data.draw(FORMATS, "format")]
    if data.draw(st.booleans(), "by"):
        source["segments"] = {"seg": data.draw(st.sampled_from(header), "segment")}
        args += ["--by", "seg"]
    if {"submitted_at", "ordered_at", "created_at"} & set(columns) and data.draw(st.booleans()):
        args += ["--period", data.draw(st.sampled_from(["day", "week", "month"]), "period")]
    folder = tmp_path_factory.mktemp("shapes")
    raw = text.encode(encoding, errors="replace")
    outcome = invoke(folder, raw, source, data.draw(st.sampled_from(kpi_lists), "kpis"), *args)
    assert_report_or_error(outcome, args[1], source)


@given(st.lists(st.none() | st.text(alphabet=" \t\r\u00a0\u3000aB1-", max_size=4), max_size=12))
@settings(max_examples=200, deadline=None)
def test_ids_are_trimmed_and_blank_ids_are_no_ids(cells: list[str | None]) -> None:
    """`coerce.clean_ids` (run on the parse thread) against Python's own strip."""
    import pyarrow as pa

    from cx_cli.coerce import clean_ids

    expected = [None if c is None or not c.strip() else c.strip() for c in cells]
    assert clean_ids(pa.array(cells, pa.string())).to_pylist() == expected


@pytest.mark.parametrize("from_stdin", [False, True])
def test_excels_separator_line_above_the_header_sets_the_delimiter(
    tmp_path: Path, from_stdin: bool
) -> None:
    # Excel writes "sep=;" above the header of a CSV saved for another locale. NPS answers
    # 10, 9, 3, 7 (and a blank): 2 promoters, 1 detractor of 4 = +25; the line is no row.
    rows = ["When;NPS;Comment", "2024-01-05;10;gut", "2024-01-06;9;", "2024-01-07;3;langsam"]
    rows += ["2024-01-08;7;ok", "2024-01-09;;"]
    raw = ("sep=;\r\n" + "\r\n".join(rows) + "\r\n").encode()
    path = tmp_path / "excel.csv"
    path.write_bytes(raw)
    source = {"kind": "responses", "path": "-" if from_stdin else str(path)}
    source["columns"] = {"submitted_at": "When", "nps": "NPS"}
    config = write_config_file(tmp_path, {"version": 1, "sources": {"s": source}, "kpis": ["nps"]})
    result = runner.invoke(app, ["report", "-c", str(config), "-f", "json"], input=raw)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    (overall,) = [r for r in body["results"] if r["period"] is None]
    assert (overall["value"], overall["n"]) == (pytest.approx(25.0), 4)
    assert (body["inputs"][0]["delimiter"], body["inputs"][0]["rows_read"]) == (";", 5)


def write_config_file(folder: Path, document: dict[str, Any]) -> Path:
    path = folder / "cxkpi.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path
