"""The survey job in as little Python as it takes: how close any pyarrow-based tool can get.

`run.py` measures cxkpi against DuckDB. This script answers the next question: how much of the
gap is cxkpi's, and how much is Python's and pyarrow's? It computes the survey job's figures
with nothing but pyarrow and numpy: no Typer, no config, no pandas, no row accounting, no
checks beyond DuckDB's SQL. It does what cxkpi's reader must do and no more: the same
streaming CSV parse (2 MiB blocks, quoted values may hold newlines) on a thread of its own,
the file's sha256 (the report's contract asks for it) as it is read, and one `bincount` per
statistic per batch on the main thread.

    python benchmarks/floor.py survey CSV OUT.json    # the figures, as duckdb_job.py writes them
    python benchmarks/floor.py --runs 7               # DuckDB, the floors and cxkpi, alternated

The second form times, on the 5M-row survey file, DuckDB, this floor, the floor with the import
cost of pandas (`--imports pandas`) and of cxkpi's whole stack (`--imports stack`: pandas,
Typer, pydantic, PyYAML), and cxkpi (one warm-up each, then alternated runs, medians; as
`run.py`). It exits 1 if any figure differs from DuckDB's. It is a measuring stick, not a
second implementation: nothing in cxkpi uses it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

MONTHS = 12 * 200  # a group number is channel * MONTHS + months since January 1900
SCALES = {  # the mapped score column, its scale, and the statistics counted from it
    "nps": ("How likely are you to recommend us?", 0, 10),
    "csat": ("Overall satisfaction", 1, 5),
    "ces": ("It was easy to get my issue resolved", 1, 7),
}
TIME, CHANNEL = "Submitted At", "Channel"
HERE = Path(__file__).resolve().parent


class HashingFile(io.RawIOBase):
    """A file whose bytes are hashed as Arrow reads them (on Arrow's I/O thread)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed with this object)
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = self._file.readinto(buffer)
        self.digest.update(memoryview(buffer)[:size])
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def batches(raw: HashingFile) -> Any:
    """The mapped columns' record batches, parsed ahead on a thread of their own."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    types = {TIME: pa.timestamp("s"), CHANNEL: pa.string()}
    types.update({column: pa.float64() for column, _, _ in SCALES.values()})
    reader = pacsv.open_csv(
        raw,
        read_options=pacsv.ReadOptions(block_size=2 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(types),
            column_types=types,
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )
    waiting: queue.Queue[Any] = queue.Queue(maxsize=8)

    def produce() -> None:
        try:
            for batch in reader:
                waiting.put(batch)
            waiting.put(None)
        except BaseException as exc:  # raised in the caller
            waiting.put(exc)

    threading.Thread(target=produce, daemon=True).start()
    while (batch := waiting.get()) is not None:
        if isinstance(batch, BaseException):
            raise batch
        yield batch


def as_numpy(array: Any, dtype: str) -> Any:
    """An Arrow array of fixed-width numbers as numpy's view of its data buffer (a null's
    slot holds any number). pyarrow's `to_numpy`, `pa.array` and `pa.scalar` import pandas
    when it is installed: 0.15 s this script does without."""
    import numpy as np

    return np.frombuffer(array.buffers()[1], dtype=dtype)[array.offset : array.offset + len(array)]


def present(array: Any) -> Any:
    """Which of an Arrow array's slots hold a value, from its validity bitmap."""
    import numpy as np

    bitmap = array.buffers()[0]
    if bitmap is None:
        return np.ones(len(array), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)].astype(bool)


def statistics_of(batch: Any, channels: dict[str, int]) -> tuple[Any, dict[str, Any]]:
    """Each dated row's group number (month x channel) and its 0/1 statistics."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    batch = batch.filter(pc.is_valid(batch.column(TIME)))
    stamps = batch.column(TIME)
    seconds = as_numpy(stamps.cast(pa.int64()), "datetime64[s]")
    months = seconds.astype("datetime64[M]").astype(np.int64) + 70 * 12
    if len(months) and not (months.min() >= 0 and months.max() < MONTHS):
        raise SystemExit("floor.py counts months from 1900 to 2099 only")
    encoded = pc.utf8_trim_whitespace(batch.column(CHANNEL)).dictionary_encode("encode")
    names = [name or "(blank)" for name in encoded.dictionary.to_pylist()]
    codes = np.array([channels.setdefault(name, len(channels)) for name in names], dtype=np.int64)
    group = codes[as_numpy(encoded.indices, "int32")] * MONTHS + months
    counted: dict[str, Any] = {"rows": None}  # rows per group (bincount unweighted): a group
    # is reported with n = 0 when it has dated rows but no valid score, as DuckDB and cxkpi do
    for kpi, (column, low, high) in SCALES.items():
        cells = batch.column(column)
        score = as_numpy(cells, "float64")
        valid = present(cells) & (score == np.round(score)) & (score >= low) & (score <= high)
        counted[f"{kpi}_n"] = valid
        if kpi == "nps":
            counted["promoters"], counted["detractors"] = valid & (score >= 9), valid & (score <= 6)
        elif kpi == "csat":
            counted["satisfied"] = valid & (score >= high - 1)
        else:
            counted["agree"] = valid & (score > (low + high) / 2)
    return group, counted


def survey_figures(path: str, imports: str = "") -> tuple[list[dict[str, Any]], str]:
    """The survey job's rows (kpi, period, channel, value, n) and the file's sha256.

    `imports` adds the import cost of cxkpi's libraries to the floor, where cxkpi pays it:
    "pandas" imports pandas at the first batch (the parse running), "stack" also Typer,
    pydantic and PyYAML before the read starts (cxkpi's command line and config)."""
    import importlib

    import numpy as np

    if imports == "stack":
        for module in ("typer", "pydantic.main", "yaml"):  # pydantic.main: BaseModel, which
            importlib.import_module(module)  # the config's models load (`pydantic` is lazy)
    import pyarrow.csv  # noqa: F401 (as in cxkpi, the file is opened once the parser is in)

    channels: dict[str, int] = {}
    sums: dict[str, Any] = {}
    raw = HashingFile(path)
    for number, batch in enumerate(batches(raw)):
        if number == 0 and imports:
            importlib.import_module("pandas")
        group, counted = statistics_of(batch, channels)
        for name, flags in counted.items():
            total = np.bincount(group, weights=flags)
            kept = sums.setdefault(name, np.zeros(0))
            if len(total) > len(kept):
                kept = sums[name] = np.pad(kept, (0, len(total) - len(kept)))
            kept[: len(total)] += total
    raw.close()
    names = {code: name for name, code in channels.items()}
    finest = np.flatnonzero(sums["rows"]) if sums else np.zeros(0, dtype=np.int64)
    by_group: dict[tuple[str | None, str | None], dict[str, float]] = {}
    for number in finest:
        channel, month = divmod(int(number), MONTHS)
        period = f"{1900 + month // 12:04d}-{month % 12 + 1:02d}"
        for key in ((None, None), (period, None), (None, names[channel]), (period, names[channel])):
            into = by_group.setdefault(key, {})
            for name, kept in sums.items():
                into[name] = into.get(name, 0.0) + kept[number]
    return [row for key, s in by_group.items() for row in _rows(key, s)], raw.digest.hexdigest()


def _rows(key: tuple[str | None, str | None], s: dict[str, float]) -> list[dict[str, Any]]:
    """NPS, CSAT and CES of one group from its counts, as duckdb_job.py computes them."""
    period, channel = key
    rows = []
    for kpi, n, value in (
        ("nps", s["nps_n"], 100.0 * (s["promoters"] - s["detractors"]) / (s["nps_n"] or 1)),
        ("csat", s["csat_n"], 100.0 * s["satisfied"] / (s["csat_n"] or 1)),
        ("ces", s["ces_n"], 100.0 * s["agree"] / (s["ces_n"] or 1)),
    ):
        group = {"period": period, "channel": channel}
        rows.append({"kpi": kpi, **group, "value": value if n else None, "n": int(n)})
    return rows


def compute(csv: str, out: str, imports: str = "") -> int:
    """Write the figures of the survey job on `csv` to `out`, as duckdb_job.py does."""
    rows, _ = survey_figures(csv, imports)
    Path(out).write_text(json.dumps(rows))
    return 0


def time_all(runs: int, data: Path, rows_scale: float) -> int:
    """DuckDB, the floors and cxkpi on the survey file, alternated; a table; figures compared."""
    from generate import SURVEY_ROWS, survey_path
    from run import (
        compare,
        compile_cxkpi,
        cxkpi_figures,
        default_cxkpi,
        duckdb_figures,
        make_job,
        markdown,
        measure,
    )

    compile_cxkpi()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as cxkpi's console script sets it
    with tempfile.TemporaryDirectory() as scratch:
        job = make_job(
            "survey",
            survey_path(data, round(SURVEY_ROWS * rows_scale)),
            [default_cxkpi()],
            Path(scratch),
        )
        floors = {  # name: (where its figures go, the imports it adds)
            "floor (pyarrow + numpy)": (Path(scratch) / "floor.json", ""),
            "floor + pandas": (Path(scratch) / "pandas.json", "pandas"),
            "floor + pandas, Typer, pydantic, PyYAML": (Path(scratch) / "stack.json", "stack"),
        }
        tools = {"DuckDB": job.duckdb}
        for name, (out, imports) in floors.items():
            tools[name] = [sys.executable, __file__, "survey", str(job.csv), str(out)]
            tools[name] += ["--imports", imports] if imports else []
        tools["cxkpi"] = job.cxkpi
        for argv in tools.values():
            measure(argv)  # warm-up: page cache, bytecode
        samples: dict[str, list[Any]] = {name: [] for name in tools}
        for _ in range(runs):
            for name, argv in tools.items():
                samples[name].append(measure(argv))
        duck = duckdb_figures(job.duckdb_out)
        problems = compare(cxkpi_figures(job.cxkpi_out), duck)
        for out, _ in floors.values():
            problems += compare(duckdb_figures(out), duck)
    base = statistics.median(s.seconds for s in samples["DuckDB"])
    rows = [
        [
            name,
            statistics.median(s.seconds for s in taken),
            f"{statistics.median(s.seconds for s in taken) / base:.2f}x",
            statistics.median(s.cpu_seconds for s in taken),
            statistics.median(s.peak_rss_mb for s in taken),
        ]
        for name, taken in samples.items()
    ]
    header = ["survey job", "median s", "vs DuckDB", "CPU s", "peak RSS MB"]
    print(markdown(header, rows))
    verdict = "differ: " + "; ".join(problems) if problems else "agree with DuckDB's"
    print(f"\n{runs} alternated runs; figures {verdict}")
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("job", nargs="?", choices=["survey"])
    parser.add_argument("csv", nargs="?")
    parser.add_argument("out", nargs="?")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="generated CSV folder")
    parser.add_argument("--rows-scale", type=float, default=1.0, help="as given to generate.py")
    parser.add_argument(
        "--imports",
        choices=["pandas", "stack"],
        default="",
        help="with survey: add the import cost of pandas (or cxkpi's stack)",
    )
    args = parser.parse_args(argv)
    if args.job:
        if not (args.csv and args.out):
            parser.error("survey needs CSV and OUT.json")
        return compute(args.csv, args.out, args.imports)
    return time_all(args.runs, args.data, args.rows_scale)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
