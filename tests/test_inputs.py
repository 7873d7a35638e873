"""Where a source's rows come from: globs, lists, compressed files, Parquet files and folders.

The bundled sample exports (one per source kind, mapped by config.example.yaml) are split by rows
into parts, each part keeping the header, and written as a glob of CSV parts, a list mixing
gzip, zstd, bzip2 and plain CSV, a folder of Parquet parts and one Parquet file. Every layout
must give the report of the single file: the same results, the same row accounting, and a
`files` list naming each file read with the sha256 of its bytes as stored.

The survey and ticket samples get one repeated id appended (in the last part), with a changed
answer, so de-duplication across files and the reading order both show in the figures; the
orders sample is cut inside orders, so an order's line items straddle two files.
"""

from __future__ import annotations

import copy
import csv
import gzip
import hashlib
import io
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner, Result

from cx_cli import load_config, run
from cx_cli.cli import app
from tests.conftest import survey_config, write_config, write_csv

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
SOURCES = list(EXAMPLE["sources"])  # surveys tickets orders subscriptions spend web
RESULT_KEYS = ("kpi", "label", "period", "segment", "value", "n", "ci_low", "ci_high", "detail")
VARIANTS = ("glob", "list", "parquet_folder", "parquet_file")
# A repeated id with a changed answer, appended after the last row: (id column, changed column,
# new value). Kept by mistake, it would move the figures.
REPEATS = {
    "surveys": ("Response ID", "How likely are you to recommend us?", "0"),
    "tickets": ("Ticket ID", "Handle Time (s)", "86400"),
}
LIST_FILES = ("z-part1.csv.gz", "y-part2.csv.zst", "x-part3.csv.bz2", "w-part4.csv")
runner = CliRunner()


# -- writing exports ---------------------------------------------------------------------------


def read_records(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as stream:
        header, *records = csv.reader(stream)
    return header, records


def csv_bytes(header: Sequence[str], records: Sequence[Sequence[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return text.getvalue().encode("utf-8")


def write_compressed(path: Path, data: bytes, codec: str | None) -> Path:
    """The bytes as they are (codec None) or through pyarrow's gzip, bz2 or zstd stream."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if codec is None:
        path.write_bytes(data)
    else:
        with pa.CompressedOutputStream(str(path), codec) as out:
            out.write(data)
    return path


def codec_of(name: str) -> str | None:
    return {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2"}.get(Path(name).suffix)


def string_table(path: Path) -> pa.Table:
    """A CSV file with every column read as text, exactly as written (blank cells are "")."""
    header = next(csv.reader(path.open(newline="", encoding="utf-8")))
    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )


def write_parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def cut_points(records: Sequence[Sequence[str]], parts: int, inside: int | None) -> list[int]:
    """Where to split rows into `parts`; with `inside` (an id column), each cut falls between
    two lines of the same paid order, so that order straddles two files."""
    cuts = []
    for k in range(1, parts):
        cut = k * len(records) // parts
        while inside is not None and not (
            records[cut - 1][inside] == records[cut][inside] and "paid" in records[cut]  # Status
        ):
            cut += 1
        cuts.append(cut)
    return cuts


def split(records: Sequence[Sequence[str]], cuts: Sequence[int]) -> list[Sequence[Sequence[str]]]:
    bounds = [0, *cuts, len(records)]
    return [records[a:b] for a, b in itertools.pairwise(bounds)]


def with_repeat(name: str, header: list[str], records: list[list[str]]) -> list[list[str]]:
    """The sample's rows plus, after the last, a 2025 row from the middle again, one answer
    changed (only for the sources that dedupe)."""
    if name not in REPEATS:
        return records
    _, column, new = REPEATS[name]
    changed, dated = header.index(column), 1  # Submitted At, Created At
    middle = next(
        r
        for r in records[len(records) // 2 :]
        if r[dated].startswith("2025") and r[changed] not in ("", new)
    )
    repeat = list(middle)
    repeat[changed] = new
    return [*records, repeat]


@dataclass
class Corpus:
    """One folder per layout, each with a config (the example's mapping) and its exports."""

    folders: dict[str, Path] = field(default_factory=dict)
    written: dict[str, dict[str, str | list[str]]] = field(default_factory=dict)
    files: dict[str, dict[str, list[Path]]] = field(default_factory=dict)
    rows: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # data rows per file
    records: dict[str, tuple[list[str], list[list[str]]]] = field(default_factory=dict)

    def config(self, layout: str) -> Path:
        return self.folders[layout] / "cxkpi.yaml"

    def add(
        self,
        layout: str,
        source: str,
        written: str | list[str],
        files: list[Path],
        rows: list[int],
    ) -> None:
        self.written.setdefault(layout, {})[source] = written
        self.files.setdefault(layout, {})[source] = files
        self.rows.setdefault(layout, {})[source] = rows


def write_layouts(corpus: Corpus, base: Path, name: str) -> None:
    """One source's rows in the single file and in every layout."""
    header, records = corpus.records[name]
    inside = header.index("Order ID") if name == "orders" else None
    single = write_compressed(base / "single" / f"{name}.csv", csv_bytes(header, records), None)
    corpus.add("single", name, f"{name}.csv", [single], [len(records)])

    thirds = split(records, cut_points(records, 3, inside))
    parts = [
        write_compressed(base / "glob" / name / f"part-{i}.csv", csv_bytes(header, rows), None)
        for i, rows in enumerate(thirds, start=1)
    ]
    thirds_rows = [len(rows) for rows in thirds]
    corpus.add("glob", name, f"{name}/part-*.csv", parts, thirds_rows)

    quarters = split(records, cut_points(records, 4, inside))
    listed = [
        write_compressed(base / "list" / name / file, csv_bytes(header, rows), codec_of(file))
        for file, rows in zip(LIST_FILES, quarters, strict=True)
    ]
    written = [f"{name}/{file}" for file in LIST_FILES]
    corpus.add("list", name, written, listed, [len(rows) for rows in quarters])

    folder = base / "parquet_folder" / name
    places = [folder / "a.parquet", folder / "b" / "c.parquet", folder / "b" / "d.parquet"]
    tables = [string_table(part) for part in parts]
    corpus.add(
        "parquet_folder",
        name,
        name,
        [write_parquet(p, t) for p, t in zip(places, tables, strict=True)],
        thirds_rows,
    )
    (folder / "b" / "notes.txt").write_text("not Parquet: never read\n")

    whole = write_parquet(base / "parquet_file" / f"{name}.parquet", string_table(single))
    corpus.add("parquet_file", name, f"{name}.parquet", [whole], [len(records)])


def write_example_config(folder: Path, paths: dict[str, str | list[str]]) -> Path:
    document = copy.deepcopy(EXAMPLE)
    for name, path in paths.items():
        document["sources"][name]["path"] = path
    return write_config(folder, document)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    base = tmp_path_factory.mktemp("inputs").resolve()
    corpus = Corpus()
    for name in SOURCES:
        header, records = read_records(ROOT / EXAMPLE["sources"][name]["path"])
        corpus.records[name] = (header, with_repeat(name, header, records))
        write_layouts(corpus, base, name)
    for layout, paths in corpus.written.items():
        corpus.folders[layout] = base / layout
        write_example_config(base / layout, paths)
    return corpus


# -- running -----------------------------------------------------------------------------------


def invoke(*args: str | Path, **kwargs: Any) -> Result:
    return runner.invoke(app, [*map(str, args)], **kwargs)


def report_json(config: Path, *args: str, **kwargs: Any) -> dict[str, Any]:
    result = invoke("report", "-c", config, "-f", "json", *args, **kwargs)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rounded(value: Any) -> Any:
    """Floats to 12 significant digits (sums over other batches may differ in the last bit)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


def results_of(document: dict[str, Any], source: str | None = None) -> list[dict[str, Any]]:
    """The results (of the KPIs reading `source`, when given), compared fields only."""
    return [
        rounded({key: row[key] for key in RESULT_KEYS})
        for row in document["results"]
        if source is None or source in row["source"].split("+")
    ]


def input_of(document: dict[str, Any], source: str) -> dict[str, Any]:
    (summary,) = [s for s in document["inputs"] if s["source"] == source]
    return summary


def accounting(summary: dict[str, Any]) -> tuple[Any, ...]:
    return summary["rows_read"], summary["rows_used"], summary["rows_dropped"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_fails_cleanly(result: Result, *fragments: str) -> str:
    """Exit 1 or 2, nothing on stdout, one `error:` line and one `hint:` line, no traceback."""
    assert result.exit_code in (1, 2), result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return result.stderr


@pytest.fixture(scope="module")
def reports(corpus: Corpus) -> dict[str, dict[str, Any]]:
    """The JSON report of every layout, computed once."""
    return {layout: report_json(corpus.config(layout)) for layout in corpus.folders}


# -- every layout, every source kind -----------------------------------------------------------


def test_the_fixture_exercises_dedupe_straddling_orders_order_and_codecs(
    corpus: Corpus, reports: dict[str, dict[str, Any]]
) -> None:
    single = reports["single"]
    assert input_of(single, "surveys")["rows_dropped"]["duplicate response_id"] == 1
    assert input_of(single, "tickets")["rows_dropped"]["duplicate ticket_id"] == 1
    header, records = corpus.records["orders"]
    order, when, status = (header.index(c) for c in ("Order ID", "Ordered At", "Status"))
    for parts in (3, 4):
        for cut in cut_points(records, parts, order):
            before, after = records[cut - 1], records[cut]
            assert before[order] == after[order], "an order's lines are in two files"
            assert after[when] >= "2025" and after[status] == "paid"
    assert {r["kpi"] for r in single["results"]} >= {"nps", "fcr", "aov", "churn", "cac"}
    # the list is read as listed, not in name order (the files test checks the order read)
    assert (
        [p.name for p in corpus.files["list"]["surveys"]] == list(LIST_FILES) != sorted(LIST_FILES)
    )
    magic = [p.read_bytes()[:4] for p in corpus.files["list"]["orders"]]
    assert [magic[0][:2], magic[1], magic[2][:3], magic[3]] == [
        b"\x1f\x8b",
        b"\x28\xb5\x2f\xfd",
        b"BZh",
        b"Orde",
    ]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("layout", VARIANTS)
def test_results_equal_those_of_the_single_file(
    reports: dict[str, dict[str, Any]], layout: str, source: str
) -> None:
    expected = results_of(reports["single"], source)
    assert expected
    assert results_of(reports[layout], source) == expected


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("layout", VARIANTS)
def test_row_accounting_equals_that_of_the_single_file(
    reports: dict[str, dict[str, Any]], layout: str, source: str
) -> None:
    expected = accounting(input_of(reports["single"], source))
    assert accounting(input_of(reports[layout], source)) == expected


@pytest.mark.parametrize("source", ["surveys", "tickets"])
@pytest.mark.parametrize("layout", VARIANTS)
def test_a_repeated_id_in_a_later_part_is_dropped(
    reports: dict[str, dict[str, Any]], layout: str, source: str
) -> None:
    dedupe = EXAMPLE["sources"][source]["dedupe"]
    dropped = input_of(reports[layout], source)["rows_dropped"]
    assert dropped[f"duplicate {dedupe}"] == 1


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("layout", ["single", *VARIANTS])
def test_files_lists_every_file_read_with_its_stored_sha256(
    corpus: Corpus, reports: dict[str, dict[str, Any]], layout: str, source: str
) -> None:
    summary = input_of(reports[layout], source)
    files = corpus.files[layout][source]
    assert summary["files"] == [
        {
            "path": str(path),
            "sha256": sha256(path),
            "size_bytes": path.stat().st_size,
            "rows_read": n,
        }
        for path, n in zip(files, corpus.rows[layout][source], strict=True)
    ]
    assert sum(corpus.rows[layout][source]) == summary["rows_read"]
    assert summary["size_bytes"] == sum(path.stat().st_size for path in files)
    if len(files) == 1:
        assert summary["sha256"] == sha256(files[0])
    else:
        digests = "".join(f"{sha256(path)}\n" for path in files)
        assert summary["sha256"] == hashlib.sha256(digests.encode()).hexdigest()


@pytest.mark.parametrize("layout", ["single", *VARIANTS])
def test_input_path_is_the_path_as_written_relative_to_the_config(
    corpus: Corpus, reports: dict[str, dict[str, Any]], layout: str
) -> None:
    folder = corpus.folders[layout]
    for source, written in corpus.written[layout].items():
        items = [written] if isinstance(written, str) else written
        shown = ", ".join(str(folder / item) for item in items)
        assert input_of(reports[layout], source)["path"] == shown


# -- typed Parquet -----------------------------------------------------------------------------


def whole_numbers(column: pa.ChunkedArray) -> pa.Array:
    """Text answers as int64: whole numbers kept, anything else (blank, n/a) null."""
    values = column.to_pylist()
    return pa.array([int(v) if v.lstrip("-").isdigit() else None for v in values], pa.int64())


def typed_table(
    path: Path, ints: Sequence[str], floats: Sequence[str], times: Sequence[str]
) -> pa.Table:
    """The CSV file as Parquet would hold it from a typed export: ints, floats, timestamps."""
    table = string_table(path)
    for name in table.column_names:
        column = table.column(name)
        if name in ints:
            column = whole_numbers(column)
        elif name in floats:
            column = column.cast(pa.float64())
        elif name in times:
            column = column.cast(pa.timestamp("s"))
        else:
            continue
        table = table.set_column(table.column_names.index(name), name, column)
    return table


def test_parquet_with_typed_columns_gives_the_same_figures(
    corpus: Corpus, reports: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    single = corpus.folders["single"]
    surveys = typed_table(
        single / "surveys.csv",
        ints=[EXAMPLE["sources"]["surveys"]["columns"][f] for f in ("nps", "csat", "ces")],
        floats=[],
        times=["Submitted At"],
    )
    orders = typed_table(
        single / "orders.csv",
        ints=["Quantity", "Line"],
        floats=["Line Total", "Unit Price"],
        times=["Ordered At"],
    )
    assert surveys.schema.field("Submitted At").type == pa.timestamp("s")
    assert orders.schema.field("Line Total").type == pa.float64()
    paths: dict[str, str | list[str]] = {name: str(single / f"{name}.csv") for name in SOURCES}
    paths["surveys"] = str(write_parquet(tmp_path / "surveys.parquet", surveys))
    paths["orders"] = str(write_parquet(tmp_path / "orders.parquet", orders))
    typed = report_json(write_example_config(tmp_path, paths))
    for source in ("surveys", "orders"):
        assert results_of(typed, source) == results_of(reports["single"], source)
        assert accounting(input_of(typed, source)) == accounting(
            input_of(reports["single"], source)
        )


# -- validate ----------------------------------------------------------------------------------


def validation(config: Path) -> dict[str, dict[str, Any]]:
    result = invoke("validate", "-c", config, "-f", "json")
    assert result.exit_code == 0, result.output
    return {s["source"]: s for s in json.loads(result.stdout)["sources"]}


def test_validate_reads_a_glob_path(corpus: Corpus) -> None:
    single, glob = validation(corpus.config("single")), validation(corpus.config("glob"))
    for source in SOURCES:
        assert accounting(glob[source]) == accounting(single[source])
        assert glob[source]["fields"] == single[source]["fields"]
        assert len(glob[source]["files"]) == 3
    assert single["surveys"]["rows_dropped"] == {"duplicate response_id": 1}


# -- compression recognised by the first bytes -------------------------------------------------


@pytest.mark.parametrize("codec", ["gzip", "bz2", "zstd"])
def test_compression_is_recognised_by_first_bytes_in_a_file_and_on_stdin(
    tmp_path: Path, tiny_survey: Path, codec: str
) -> None:
    plain = report_json(write_config(tmp_path, survey_config(tiny_survey)))
    packed = write_compressed(tmp_path / "looks-plain.csv", tiny_survey.read_bytes(), codec)
    from_file = report_json(write_config(tmp_path, survey_config(packed), name="packed.yaml"))
    assert results_of(from_file) == results_of(plain)
    assert from_file["inputs"][0]["sha256"] == sha256(packed)
    config = write_config(tmp_path, survey_config("-"), name="stdin.yaml")
    from_stdin = report_json(config, input=packed.read_bytes())
    assert results_of(from_stdin) == results_of(plain)
    assert from_stdin["inputs"][0]["files"] == [
        {
            "path": "<stdin>",
            "sha256": sha256(packed),
            "size_bytes": packed.stat().st_size,
            "rows_read": from_stdin["inputs"][0]["rows_read"],
        }
    ]


# -- errors ------------------------------------------------------------------------------------


def tiny_rows(count: int) -> list[tuple[Any, ...]]:
    """`count` answers in the conftest HEADER layout."""
    return [
        (i, f"2024-0{1 + i % 3}-{1 + i % 28:02d} 10:00", f"c{i}", "email", i % 11, 1 + i % 5, 7)
        for i in range(count)
    ]


def run_survey(tmp_path: Path, path: str | list[str]) -> Result:
    config = write_config(tmp_path, survey_config("x.csv"))
    document = yaml.safe_load(config.read_text())
    document["sources"]["surveys"]["path"] = path
    return invoke("report", "-c", write_config(tmp_path, document), "-f", "json")


def test_a_glob_matching_no_files_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    write_csv(tmp_path / "exports" / "other.txt", tiny_rows(3))
    result = run_survey(tmp_path, "exports/*.csv")
    assert_fails_cleanly(result, str(tmp_path / "exports" / "*.csv"), "no files match")
    assert result.exit_code == 1


def rows_read(result: Result) -> int:
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["inputs"][0]["rows_read"])


def test_a_glob_reads_the_parquet_folders_it_matches(tmp_path: Path) -> None:
    """Spark writes `name.parquet/` folders of parts: a glob matching them and a file beside
    them read every row (it read the file's alone, and no folder-only match at all)."""
    table = string_table(write_csv(tmp_path / "answers.csv", tiny_rows(9)))
    write_parquet(tmp_path / "out" / "h1.parquet" / "part-0.parquet", table.slice(0, 4))
    write_parquet(tmp_path / "out" / "h2.parquet" / "part-0.parquet", table.slice(4, 3))
    write_parquet(tmp_path / "out" / "tail.parquet", table.slice(7))
    (tmp_path / "out" / "h1.parquet" / "_SUCCESS").write_bytes(b"")  # as Spark writes it
    (tmp_path / "out" / "notes").mkdir()  # another folder: passed over, as `**` needs
    assert rows_read(run_survey(tmp_path, "out/*.parquet")) == 9
    assert rows_read(run_survey(tmp_path, "out/h*.parquet")) == 7
    assert rows_read(run_survey(tmp_path, "out/*")) == 9
    assert rows_read(run_survey(tmp_path, "out/**")) == 9  # not _SUCCESS as an empty CSV


def test_a_glob_matching_a_dangling_link_is_an_input_error(tmp_path: Path) -> None:
    """A month whose file is a broken link stops the run, as the link named alone does."""
    (tmp_path / "exports").mkdir()
    write_csv(tmp_path / "exports" / "2025-01.csv", tiny_rows(3))
    (tmp_path / "exports" / "2025-02.csv").symlink_to(tmp_path / "gone" / "2025-02.csv")
    result = run_survey(tmp_path, "exports/*.csv")
    stderr = assert_fails_cleanly(result, "2025-02.csv: a link to a file that does not exist")
    assert "remove the link" in stderr
    assert result.exit_code == 1


def test_a_folder_without_parquet_files_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "exports" / "deeper").mkdir(parents=True)
    write_csv(tmp_path / "exports" / "deeper" / "answers.csv", tiny_rows(3))
    result = run_survey(tmp_path, "exports")
    assert_fails_cleanly(result, str(tmp_path / "exports"), "no Parquet files")
    assert result.exit_code == 1


def test_a_folder_mixing_parquet_and_csv_is_an_input_error(tmp_path: Path) -> None:
    """Its CSV rows would be left out without a word (a writer's _SUCCESS or a .txt is fine)."""
    table = string_table(write_csv(tmp_path / "answers.csv", tiny_rows(3)))
    (tmp_path / "parts").mkdir()
    write_parquet(tmp_path / "parts" / "1.parquet", table)
    (tmp_path / "parts" / "_SUCCESS").write_bytes(b"")
    write_csv(tmp_path / "parts" / "2.csv.gz", tiny_rows(3))
    result = run_survey(tmp_path, "parts")
    stderr = assert_fails_cleanly(result, "holds Parquet files and CSV files (2.csv.gz)")
    assert "move the CSV files aside" in stderr
    assert result.exit_code == 1


def test_a_truncated_gzip_file_cannot_be_decompressed(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "answers.csv", tiny_rows(2000)).read_bytes()
    packed = gzip.compress(data)
    (tmp_path / "answers.csv.gz").write_bytes(packed[: len(packed) // 2])
    result = run_survey(tmp_path, "answers.csv.gz")
    assert_fails_cleanly(result, str(tmp_path / "answers.csv.gz"), "cannot decompress")
    assert result.exit_code == 1


def test_a_truncated_gzip_part_among_others_is_named(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "answers.csv", tiny_rows(2000)).read_bytes()
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "1.csv.gz").write_bytes(gzip.compress(data))
    packed = gzip.compress(data)
    (tmp_path / "parts" / "2.csv.gz").write_bytes(packed[: len(packed) // 2])
    result = run_survey(tmp_path, "parts/*.csv.gz")
    assert_fails_cleanly(result, str(tmp_path / "parts" / "2.csv.gz"), "cannot decompress")


def test_a_file_named_parquet_that_is_not_parquet_is_an_input_error(tmp_path: Path) -> None:
    write_csv(tmp_path / "answers.parquet", tiny_rows(3))
    result = run_survey(tmp_path, "answers.parquet")
    assert_fails_cleanly(result, str(tmp_path / "answers.parquet"), "not a readable Parquet")
    assert result.exit_code == 1


@pytest.mark.parametrize("engine", [[], ["--engine", "dask", "--scheduler", "synchronous"]])
def test_damaged_parquet_data_is_an_input_error_naming_the_part(
    tmp_path: Path, engine: list[str]
) -> None:
    """The footer reads, the pages do not (here: bytes overwritten inside snappy pages)."""
    (tmp_path / "parts").mkdir()
    table = string_table(write_csv(tmp_path / "answers.csv", tiny_rows(2000)))
    pq.write_table(table, tmp_path / "parts" / "1.parquet", compression="snappy")
    damaged = tmp_path / "parts" / "2.parquet"
    pq.write_table(table, damaged, compression="snappy")
    data = bytearray(damaged.read_bytes())
    pages = slice(len(data) // 4, len(data) // 2)  # column chunks; the footer is at the end
    data[pages] = b"\xff" * (pages.stop - pages.start)
    damaged.write_bytes(bytes(data))
    config = write_config(tmp_path, survey_config("parts"))
    result = invoke("report", "-c", config, "-f", "json", *engine)
    stderr = assert_fails_cleanly(result, str(damaged), "its data is damaged")
    assert "copy or export it again" in stderr
    assert result.exit_code == 1


def test_parquet_on_stdin_or_under_another_name_says_what_to_do(tmp_path: Path) -> None:
    table = string_table(write_csv(tmp_path / "answers.csv", tiny_rows(3)))
    parquet = write_parquet(tmp_path / "answers.parquet", table)
    config = write_config(tmp_path, survey_config("-"), name="stdin.yaml")
    result = invoke("report", "-c", config, "-f", "json", input=parquet.read_bytes())
    stderr = assert_fails_cleanly(result, "stdin holds a Parquet file")
    assert "--input surveys=FILE.parquet" in stderr
    (tmp_path / "answers.bin").write_bytes(parquet.read_bytes())
    result = run_survey(tmp_path, "answers.bin")
    stderr = assert_fails_cleanly(result, "answers.bin", "is a Parquet file")
    assert "rename it to end in .parquet" in stderr


def test_a_csv_whose_header_starts_with_par1_is_a_csv(tmp_path: Path, tiny_survey: Path) -> None:
    text = tiny_survey.read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    (tmp_path / "answers.csv").write_text(f"PAR1{header}\n{rest}", encoding="utf-8")
    document = yaml.safe_load(write_config(tmp_path, survey_config("answers.csv")).read_text())
    first = header.split(",")[0]
    document["sources"]["surveys"]["columns"] = {
        field: (f"PAR1{column}" if column == first else column)
        for field, column in document["sources"]["surveys"]["columns"].items()
    }
    result = invoke("report", "-c", write_config(tmp_path, document), "-f", "json")
    assert result.exit_code == 0, result.output


def test_parquet_missing_a_mapped_column_names_it_and_lists_the_columns(tmp_path: Path) -> None:
    table = string_table(write_csv(tmp_path / "answers.csv", tiny_rows(3))).drop_columns(["ces"])
    write_parquet(tmp_path / "answers.parquet", table)
    result = run_survey(tmp_path, "answers.parquet")
    stderr = assert_fails_cleanly(result, str(tmp_path / "answers.parquet"), "'ces'")
    assert "id, when, customer, channel, nps, csat" in stderr.splitlines()[1]
    assert result.exit_code == 1


def test_a_header_only_part_among_others_is_fine(tmp_path: Path, tiny_survey: Path) -> None:
    whole = report_json(write_config(tmp_path, survey_config(tiny_survey), name="whole.yaml"))
    (tmp_path / "parts").mkdir()
    write_csv(tmp_path / "parts" / "1.csv", [])
    (tmp_path / "parts" / "2.csv").write_bytes(tiny_survey.read_bytes())
    write_compressed(
        tmp_path / "parts" / "3.csv.gz", csv_bytes(read_records(tiny_survey)[0], []), "gzip"
    )
    result = run_survey(tmp_path, "parts/*")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert results_of(document) == results_of(whole)
    assert accounting(document["inputs"][0]) == accounting(whole["inputs"][0])
    assert len(document["inputs"][0]["files"]) == 3


def test_a_zero_byte_part_among_others_is_named(tmp_path: Path, tiny_survey: Path) -> None:
    """A header-only part is an export of no rows; a 0-byte one wrote nothing at all, most
    likely a failed export, so the run stops and names it (README, "Many files")."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "1.csv").write_bytes(tiny_survey.read_bytes())
    (tmp_path / "parts" / "2.csv").write_bytes(b"")
    result = run_survey(tmp_path, "parts/*.csv")
    assert_fails_cleanly(result, str(tmp_path / "parts" / "2.csv"), "the file is empty")
    assert result.exit_code == 1


def test_all_parts_header_only_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    for name in ("1.csv", "2.csv"):
        write_csv(tmp_path / "parts" / name, [])
    result = run_survey(tmp_path, ["parts/1.csv", "parts/2.csv"])
    assert_fails_cleanly(result, "parts/1.csv", "none of its 2 files has data rows")
    assert result.exit_code == 1


@pytest.mark.parametrize("engine", [[], ["--engine", "dask", "--scheduler", "synchronous"]])
def test_a_copy_of_a_part_under_another_name_stops_the_run(
    tmp_path: Path, tiny_survey: Path, engine: list[str]
) -> None:
    """A second download of one export (`1 (1).csv`) would count its rows twice, and nothing
    in the figures would show it."""
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "1.csv").write_bytes(tiny_survey.read_bytes())
    (tmp_path / "parts" / "1 (1).csv").write_bytes(tiny_survey.read_bytes())
    config = write_config(tmp_path, survey_config("parts/*.csv"))
    result = invoke("report", "-c", config, "-f", "json", *engine)
    stderr = assert_fails_cleanly(result, "1 (1).csv", "1.csv", "hold the same bytes")
    assert "move the copy aside" in stderr
    assert result.exit_code == 1


def test_a_copy_is_dropped_as_repeats_when_the_source_dedupes(
    tmp_path: Path, tiny_survey: Path
) -> None:
    """With `dedupe:` every row of the copy is a repeat: dropped, counted, figures unchanged."""
    whole = report_json(write_config(tmp_path, survey_config(tiny_survey), name="whole.yaml"))
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "1.csv").write_bytes(tiny_survey.read_bytes())
    (tmp_path / "parts" / "1 (1).csv").write_bytes(tiny_survey.read_bytes())
    document = survey_config("parts/*.csv")
    document["sources"]["surveys"]["dedupe"] = "response_id"
    document_whole = survey_config(tiny_survey)
    document_whole["sources"]["surveys"]["dedupe"] = "response_id"
    deduped = report_json(write_config(tmp_path, document_whole, name="whole-dedupe.yaml"))
    both = report_json(write_config(tmp_path, document, name="parts.yaml"))
    assert results_of(both) == results_of(deduped) == results_of(whole)
    assert both["inputs"][0]["rows_dropped"] == {"duplicate response_id": 10}


def test_identical_header_only_parts_are_fine(tmp_path: Path, tiny_survey: Path) -> None:
    """Months without answers export the same header-only file: no rows to count twice."""
    whole = report_json(write_config(tmp_path, survey_config(tiny_survey), name="whole.yaml"))
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "2.csv").write_bytes(tiny_survey.read_bytes())
    for name in ("1.csv", "3.csv"):
        write_csv(tmp_path / "parts" / name, [])
    result = run_survey(tmp_path, "parts/*.csv")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert results_of(document) == results_of(whole)
    assert [f["rows_read"] for f in document["inputs"][0]["files"]] == [0, 10, 0]


def test_a_file_named_by_several_entries_is_read_once(tmp_path: Path, tiny_survey: Path) -> None:
    whole = report_json(write_config(tmp_path, survey_config(tiny_survey), name="whole.yaml"))
    header, records = read_records(tiny_survey)
    (tmp_path / "parts").mkdir()
    for name, rows in (("1.csv", records[:4]), ("2.csv", records[4:7]), ("3.csv", records[7:])):
        (tmp_path / "parts" / name).write_bytes(csv_bytes(header, rows))
    overlapping = ["parts/[12].csv", "parts/[23].csv", "parts/3.csv"]
    result = run_survey(tmp_path, overlapping)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert results_of(document) == results_of(whole)
    files = [Path(f["path"]).name for f in document["inputs"][0]["files"]]
    assert files == ["1.csv", "2.csv", "3.csv"]


def test_a_file_whose_name_holds_pattern_characters_is_read_as_named(
    tmp_path: Path, tiny_survey: Path
) -> None:
    whole = report_json(write_config(tmp_path, survey_config(tiny_survey), name="whole.yaml"))
    (tmp_path / "Survey export [2025].csv").write_bytes(tiny_survey.read_bytes())
    result = run_survey(tmp_path, "Survey export [2025].csv")
    assert result.exit_code == 0, result.output
    assert results_of(json.loads(result.stdout)) == results_of(whole)


def test_a_pattern_matching_nothing_says_how_to_match_a_bracket(tmp_path: Path) -> None:
    result = run_survey(tmp_path, "Survey export [2024].csv")
    stderr = assert_fails_cleanly(result, "no files match")
    assert "write [[] to match a [" in stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_named_pipe_is_refused_with_the_stdin_way(tmp_path: Path) -> None:
    """A pipe cannot be read twice (the header for the checks, then the rows)."""
    os.mkfifo(tmp_path / "answers.csv")
    result = run_survey(tmp_path, "answers.csv")
    stderr = assert_fails_cleanly(result, str(tmp_path / "answers.csv"), "is a pipe or device")
    assert "--input surveys=-" in stderr
    assert result.exit_code == 1


# -- chunked reading ---------------------------------------------------------------------------


def sliced_config(corpus: Corpus, folder: Path, glob: bool) -> Path:
    """Surveys (every 16th answer) and a run of 300 order lines cut inside orders, as one file
    each, or as a glob of gzip, bzip2 and zstd parts."""
    samples = {
        "surveys": corpus.records["surveys"][1][::16],
        "orders": corpus.records["orders"][1][3000:3300],
    }
    document = copy.deepcopy(EXAMPLE)
    document["sources"] = {name: document["sources"][name] for name in samples}
    document["kpis"] = ["nps", "csat", "ces", "aov", "repeat_rate", "mau"]
    document["report"] = {"period": "quarter", "by": ["channel"]}
    for name, records in samples.items():
        header = corpus.records[name][0]
        inside = header.index("Order ID") if name == "orders" else None
        parts = split(records, cut_points(records, 3, inside)) if glob else [records]
        suffixes = [".gz", ".bz2", ".zst"] if glob else [""]
        for i, (rows, suffix) in enumerate(zip(parts, suffixes, strict=True), start=1):
            file = folder / name / f"part-{i}.csv{suffix}"
            write_compressed(file, csv_bytes(header, rows), codec_of(file.name))
        document["sources"][name]["path"] = f"{name}/part-*"
    return write_config(folder, document)


def comparable(report: Any) -> list[Any]:
    return [rounded([getattr(r, key) for key in RESULT_KEYS]) for r in report.results]


@pytest.mark.parametrize(
    "batch_bytes",
    [
        64,  # smaller than the header: the reader retries the file with a larger block
        1024,
    ],
)
def test_tiny_batches_over_compressed_parts_give_the_same_results(
    corpus: Corpus, tmp_path_factory: pytest.TempPathFactory, batch_bytes: int
) -> None:
    folder = tmp_path_factory.mktemp("sliced")
    whole = run(load_config(sliced_config(corpus, folder / "whole", glob=False)))
    config = load_config(sliced_config(corpus, folder / "parts", glob=True))
    chunked = run(config, batch_bytes=batch_bytes)
    assert len(whole.results) > 40
    assert comparable(chunked) == comparable(whole)
    (orders,) = [s for s in chunked.inputs if s.source == "orders"]
    assert len(orders.files) == 3


# -- a row larger than the reader's block ------------------------------------------------------

# Arrow reads 2 MB blocks; a first row over about twice that fails in the first block, and the
# reader reads the file again with a larger block (a 3 MB row fits without a retry).
MB = 1_000_000


def huge_first_row(size: int) -> bytes:
    return ("NPS,Comment\n10," + "x" * size + "\n0,short\n").encode()


def huge_row_config(folder: Path, path: str) -> Path:
    source = {"kind": "responses", "path": path, "columns": {"nps": "NPS", "comment": "Comment"}}
    return write_config(folder, {"version": 1, "sources": {"s": source}, "kpis": ["nps"]})


@pytest.mark.parametrize(
    ("size", "codec"), [(3 * MB, "gzip"), (5 * MB, None), (5 * MB, "gzip"), (5 * MB, "zstd")]
)
def test_a_first_row_larger_than_the_block_is_read(
    tmp_path: Path, size: int, codec: str | None
) -> None:
    path = write_compressed(tmp_path / "huge.csv", huge_first_row(size), codec)
    document = report_json(huge_row_config(tmp_path, str(path)))
    assert (document["results"][0]["value"], document["results"][0]["n"]) == (0.0, 2)
    assert document["inputs"][0]["sha256"] == sha256(path)


@pytest.mark.parametrize("codec", [None, "gzip"])
def test_a_row_larger_than_the_block_on_stdin_is_a_clear_error(
    tmp_path: Path, codec: str | None
) -> None:
    """stdin cannot be read twice, so no retry: the error says to give the file's path."""
    path = write_compressed(tmp_path / "huge.csv", huge_first_row(5 * MB), codec)
    result = invoke(
        "report", "-c", huge_row_config(tmp_path, "-"), "-f", "json", input=path.read_bytes()
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "larger than the reader's block" in result.stderr
    assert "instead of stdin" in result.stderr
    assert "Traceback" not in result.output


def test_parquet_dates_beyond_nanoseconds_are_not_dates(tmp_path: Path) -> None:
    """A Parquet date column with a typo year (0202) and a far one (2300): not dates, dropped
    and counted, the rest used. By hand: NPS of 10 and 0 = 100 × (1 − 1) / 2 = 0 over 2."""
    import datetime as dt

    table = pa.table(
        {
            "when": pa.array(
                [dt.date(2024, 1, 1), dt.date(202, 1, 5), dt.date(2024, 1, 2), dt.date(2300, 1, 3)]
            ),
            "nps": pa.array([10, 9, 0, 9]),
        }
    )
    path = write_parquet(tmp_path / "dates.parquet", table)
    config = {
        "version": 1,
        "sources": {
            "surveys": {
                "kind": "responses",
                "path": str(path),
                "columns": {"submitted_at": "when", "nps": "nps"},
            }
        },
        "kpis": ["nps"],
    }
    report = run(load_config(write_config(tmp_path, config)))
    (overall,) = [r for r in report.results if r.kpi == "nps" and not r.period]
    assert (overall.value, overall.n) == (0.0, 2)
    assert dict(report.inputs[0].rows_dropped) == {"submitted_at not a date": 2}
