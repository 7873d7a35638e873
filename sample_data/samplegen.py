"""What every sample generator shares: its command-line options and how it writes a CSV."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path


def options(
    description: str, *, seed: int, rows: int, rows_help: str, out: Path, out_help: str
) -> argparse.Namespace:
    """Parse --seed, --rows and --out (defaults: the committed sample)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seed", type=int, default=seed, help="random seed")
    parser.add_argument("--rows", type=int, default=rows, help=rows_help)
    parser.add_argument("--out", type=Path, default=out, help=out_help)
    return parser.parse_args()


def write_csv(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    """Write UTF-8 CSV with a header and ``\\n`` line endings, quoting only where needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
