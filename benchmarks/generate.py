"""Write seeded synthetic exports for the cxkpi-vs-DuckDB benchmark into benchmarks/data/.

Files (named by row count, so several scales can sit side by side):

- `survey_<N>.csv`: one row per survey response (N = 5,000,000 at scale 1), plus
  `survey_<N/4>.csv` for the bounded-memory check and `survey_1000.csv` for start-up timings.
- `orders_<N>.csv`: a shop's line-item export (N = 10,000,000 lines at scale 1), 1-4 lines per
  order, several hundred thousand repeat customers.

Everything is vectorised with numpy and written in blocks by pyarrow's CSV writer, so the full
scale takes well under a minute and little memory. The same seed gives the same bytes.

Modelling choices that the DuckDB side of `run.py` relies on (cxkpi folds line items taking the
*first* customer and channel per order, which SQL cannot see in file order):
customer id and channel are constant within an order; line timestamps and status are not (a line
may be refunded on its own, and lines are stamped a few seconds apart, so an order's earliest
line is not always its first).

Usage: python benchmarks/generate.py [--rows-scale 1.0] [--seed 7] [--data benchmarks/data]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

SURVEY_ROWS = 5_000_000
ORDER_ROWS = 10_000_000
STARTUP_ROWS = 1_000
BLOCK_ROWS = 1_000_000  # rows built and written at a time: bounds the generator's memory
START = np.datetime64("2024-01-01T00:00:00", "s")
SPAN_SECONDS = 731 * 86_400  # 2024-01-01 .. 2025-12-31: two calendar years, 24 months
DATA = Path(__file__).resolve().parent / "data"

SURVEY_CHANNELS = ["web", "email", "phone", "chat", "in-app"]
REGIONS = [
    "North America",
    "South America",
    "Western Europe",
    "Eastern Europe",
    "Middle East",
    "Africa",
    "South Asia",
    "East Asia & Pacific",
]
ORDER_CHANNELS = ["web", "app", "marketplace", "phone", "store"]
STATUSES = ["paid", "shipped", "refunded", "cancelled"]
STATUS_P = [0.55, 0.35, 0.06, 0.04]
LINE_REFUND_P = 0.015  # a single line refunded inside an otherwise kept order
BLANK_CUSTOMER_P = 0.002  # orders exported without a customer id (guest checkout)
PHRASES = [
    "Great service",
    "Fast delivery, well packed",
    'The "express" option was anything but express',
    "Support agent was helpful, polite and quick",
    "Too expensive for what it is",
    "Would recommend to friends, family and colleagues",
    'Best "oolong" I have had in years',
    "App crashed twice, so I had to call",
    "Nothing to add",
    "Delivery was three days late",
    "Checkout asked for my address, again, and again",
    'Website says "in stock" but it was not',
    "Easy",
    "The agent could not find my order number",
    "Refund took 2 weeks; not great",
    "Lovely packaging",
    "Hold music for 25 minutes, then cut off",
    'Five stars, "as always"',
    "Chat bot was useless, human was great",
    "Meh",
]


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Zero-padded text ids such as R-00000042, built without a Python loop."""
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _pick(labels: list[str], index: np.ndarray) -> pa.Array:
    """Labels chosen by an index array (a vectorised lookup)."""
    return pc.take(pa.array(labels), pa.array(index))


def _scores(latent: np.ndarray, centre: float, spread: float, low: int, high: int) -> np.ndarray:
    """Integer answers on a scale, from a shared latent sentiment so the KPIs move together."""
    return np.clip(np.rint(centre + spread * latent), low, high).astype(np.int8)


def _with_blanks(values: np.ndarray, blank: np.ndarray) -> pa.Array:
    """An integer column with blank (null) cells where `blank` is true."""
    return pa.array(values, mask=blank)


def _timestamps(seconds: np.ndarray) -> pa.Array:
    """Naive timestamps, which pyarrow writes as ISO 8601 (`2024-03-01 09:15:00`)."""
    return pa.array(START + seconds.astype("timedelta64[s]"), pa.timestamp("s"))


def _comments(rng: np.random.Generator, n: int) -> pa.Array:
    """Free text: 1-3 phrases (some with commas and quotes), about 40 % blank."""
    parts = [_pick(PHRASES, rng.integers(0, len(PHRASES), n)) for _ in range(3)]
    count = rng.choice([1, 2, 3], size=n, p=[0.5, 0.3, 0.2])
    second = pc.if_else(pa.array(count >= 2), parts[1], pa.nulls(n, pa.string()))
    third = pc.if_else(pa.array(count >= 3), parts[2], pa.nulls(n, pa.string()))
    text = pc.binary_join_element_wise(parts[0], second, third, ". ", null_handling="skip")
    return pc.if_else(pa.array(rng.random(n) < 0.4), pa.nulls(n, pa.string()), text)


def survey_blocks(rows: int, seed: int) -> Iterator[pa.Table]:
    """Survey responses in blocks, sorted by submission time like a platform export."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, SPAN_SECONDS, rows))
    customers = max(1_000, rows // 12)
    for start in range(0, rows, BLOCK_ROWS):
        n = min(BLOCK_ROWS, rows - start)
        channel = rng.integers(0, len(SURVEY_CHANNELS), n)
        drift = seconds[start : start + n] / SPAN_SECONDS  # sentiment improves over two years
        latent = rng.normal(0.0, 1.0, n) + np.array([0.1, -0.1, -0.4, 0.2, 0.3])[channel]
        latent += 0.3 * drift
        yield pa.table(
            {
                "Response ID": _ids("R-", np.arange(start + 1, start + n + 1), 8),
                "Submitted At": _timestamps(seconds[start : start + n]),
                "Customer ID": _ids("C-", rng.integers(1, customers + 1, n), 7),
                "Channel": _pick(SURVEY_CHANNELS, channel),
                "Region": _pick(REGIONS, rng.integers(0, len(REGIONS), n)),
                "How likely are you to recommend us?": _with_blanks(
                    _scores(latent + rng.normal(0, 0.5, n), 7.6, 2.2, 0, 10), rng.random(n) < 0.08
                ),
                "Overall satisfaction": _with_blanks(
                    _scores(latent + rng.normal(0, 0.7, n), 3.9, 1.0, 1, 5), rng.random(n) < 0.12
                ),
                "It was easy to get my issue resolved": _with_blanks(
                    _scores(latent + rng.normal(0, 0.8, n), 4.9, 1.5, 1, 7), rng.random(n) < 0.18
                ),
                "Comments": _comments(rng, n),
            }
        )


def _order_sizes(rng: np.random.Generator, lines: int) -> np.ndarray:
    """Lines per order (1-4), the last order cut so the sizes add up to exactly `lines`."""
    sizes = rng.choice([1, 2, 3, 4], size=lines * 6 // 10 + 16, p=[0.4, 0.3, 0.2, 0.1])
    total = np.cumsum(sizes)
    count = int(np.searchsorted(total, lines)) + 1
    sizes = sizes[:count].copy()
    sizes[-1] -= int(total[count - 1] - lines)
    return sizes


def _order_customers(rng: np.random.Generator, orders: int, lines: int) -> np.ndarray:
    """Customer number per order (0 = no customer id): skewed, so most customers come back."""
    customers = max(1_000, lines * 3 // 100)  # 300,000 at 10M lines
    weights = rng.lognormal(0.0, 1.0, customers)
    chosen = rng.choice(customers, size=orders, p=weights / weights.sum()) + 1
    return np.where(rng.random(orders) < BLANK_CUSTOMER_P, 0, chosen)


def order_blocks(lines: int, seed: int) -> Iterator[pa.Table]:
    """Line items in blocks; an order's lines are contiguous, as in a shop's export."""
    rng = np.random.default_rng(seed)
    sizes = _order_sizes(rng, lines)
    orders = len(sizes)
    placed = np.sort(rng.integers(0, SPAN_SECONDS - 3_600, orders))
    customer = _order_customers(rng, orders, lines)
    channel = rng.choice(len(ORDER_CHANNELS), size=orders, p=[0.45, 0.3, 0.15, 0.05, 0.05])
    status = rng.choice(len(STATUSES), size=orders, p=STATUS_P)
    order_of_line = np.repeat(np.arange(orders), sizes)
    line_no = np.arange(lines) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1
    for start in range(0, lines, BLOCK_ROWS):
        n = min(BLOCK_ROWS, lines - start)
        order = order_of_line[start : start + n]
        line_status = np.where(rng.random(n) < LINE_REFUND_P, 2, status[order])
        quantity = rng.choice([1, 2, 3], size=n, p=[0.75, 0.18, 0.07])
        price_cents = np.rint(rng.lognormal(np.log(1_800), 0.7, n)).astype(np.int64) + 99
        total_cents = quantity * price_cents
        known = customer[order] > 0
        yield pa.table(
            {
                "Order ID": _ids("SO-", order + 1, 8),
                "Line": pa.array(line_no[start : start + n]),
                "Ordered At": _timestamps(placed[order] + rng.integers(0, 180, n)),
                "Customer ID": pc.if_else(
                    pa.array(known), _ids("C-", customer[order], 7), pa.nulls(n, pa.string())
                ),
                "SKU": _ids("SKU-", rng.integers(1, 501, n), 4),
                "Quantity": pa.array(quantity),
                "Unit Price": _money(price_cents),
                "Line Total": _money(total_cents),
                "Status": _pick(STATUSES, line_status),
                "Channel": _pick(ORDER_CHANNELS, channel[order]),
            }
        )


def _money(cents: np.ndarray) -> pa.Array:
    """Amounts with exactly two decimals (`18.90`), as shops export them: a decimal128(12, 2)
    array whose 16-byte little-endian values are the (non-negative) cents."""
    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    return pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), [None, pa.py_buffer(words)])


def write_csv(path: Path, blocks: Iterator[pa.Table]) -> int:
    """Write blocks to `path` atomically (a temp file renamed); returns the size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.partial")
    writer: pacsv.CSVWriter | None = None
    try:
        for table in blocks:
            if writer is None:
                writer = pacsv.CSVWriter(str(partial), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)
    return path.stat().st_size


def survey_path(data: Path, rows: int) -> Path:
    """Where the survey export with `rows` responses lives (run.py finds it the same way)."""
    return data / f"survey_{rows}.csv"


def orders_path(data: Path, rows: int) -> Path:
    """Where the line-item export with `rows` lines lives."""
    return data / f"orders_{rows}.csv"


def _timed(label: str, path: Path, make: Callable[[], Iterator[pa.Table]]) -> None:
    """Write one export and print its name, size and how long it took."""
    began = time.perf_counter()
    size = write_csv(path, make())
    print(f"{label:<32} {path.name:<24} {size / 1e6:9.1f} MB {time.perf_counter() - began:7.1f} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options (see --help)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows-scale", type=float, default=1.0, help="1.0: 5M survey rows, 10M lines"
    )
    parser.add_argument("--survey-rows", type=int, help="survey rows (overrides the scale)")
    parser.add_argument("--order-rows", type=int, help="order lines (overrides the scale)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=DATA, help="output folder")
    parser.add_argument("--only", choices=["survey", "orders"], help="write one export only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Write every export the benchmark needs at the chosen scale."""
    args = parse_args(argv)
    survey_rows = args.survey_rows or round(SURVEY_ROWS * args.rows_scale)
    order_rows = args.order_rows or round(ORDER_ROWS * args.rows_scale)
    began = time.perf_counter()
    if args.only in (None, "survey"):
        for label, rows, seed in (
            ("survey", survey_rows, args.seed),
            ("survey (memory check, 1/4)", survey_rows // 4, args.seed + 1),
            ("survey (start-up timing)", STARTUP_ROWS, args.seed + 2),
        ):
            _timed(label, survey_path(args.data, rows), lambda r=rows, s=seed: survey_blocks(r, s))
    if args.only in (None, "orders"):
        _timed(
            "orders (line items)",
            orders_path(args.data, order_rows),
            lambda: order_blocks(order_rows, args.seed + 3),
        )
    print(f"total {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
