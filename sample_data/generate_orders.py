"""Generate ``orders.csv``: a seeded, realistic web-shop line-item export for cxkpi.

One row per line item; an order spans consecutive rows sharing its Order ID. Customers follow a
realistic repeat pattern: most buy once, some come back a few times, and a loyal core orders
every few weeks. Demand grows slowly, peaks around Black Friday and before Christmas, and dips
in January. Some orders are refunded or cancelled (every line), a few paid orders have one
refunded line, and guest checkouts leave the customer id blank. Line Total is always
Quantity x Unit Price. Stdlib only; the same seed always gives byte-identical output.

    python sample_data/generate_orders.py --seed 20241101 --rows 2500
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from samplegen import options, write_csv

HEADER = (
    "Order ID",
    "Line",
    "Ordered At",
    "Customer ID",
    "SKU",
    "Product",
    "Quantity",
    "Unit Price",
    "Line Total",
    "Status",
    "Channel",
    "Country",
)

START = dt.datetime(2024, 11, 1)
END = dt.datetime(2026, 1, 1)  # exclusive: the last order is on 2025-12-31
DEFAULT_SEED = 20241101
DEFAULT_ROWS = 2500  # orders, approximately; about 2.5 lines each
CUSTOMERS_PER_ORDER = 0.4
GUEST_SHARE = 0.015  # checkouts without an account: blank customer id

# (share of customers, orders: (low, high) or None for "until the data ends", mean gap in days)
BUYER_TYPES = {
    "one_time": (0.56, (1, 1), 0),
    "occasional": (0.32, (2, 4), 75),
    "loyal": (0.12, None, 24),
}
CHANNEL_WEIGHTS = {"web": 0.52, "app": 0.30, "marketplace": 0.18}
COUNTRY_WEIGHTS = {
    "US": 0.34,
    "GB": 0.18,
    "DE": 0.15,
    "FR": 0.11,
    "CA": 0.09,
    "NL": 0.07,
    "AU": 0.06,
}
LINE_WEIGHTS = {1: 0.32, 2: 0.27, 3: 0.18, 4: 0.11, 5: 0.07, 6: 0.05}
QUANTITY_WEIGHTS = {1: 0.76, 2: 0.16, 3: 0.05, 4: 0.02, 6: 0.01}
STATUS_WEIGHTS = {"paid": 0.91, "refunded": 0.05, "cancelled": 0.04}
PARTIAL_REFUND_RATE = 0.03  # paid orders with several lines, one of them refunded

CATALOGUE = (
    ("TEA-001", "Sencha green tea 100 g", "8.50"),
    ("TEA-002", "Earl Grey loose leaf 250 g", "12.90"),
    ("TEA-003", "Rooibos vanilla 100 g", "7.90"),
    ("TEA-004", "Matcha ceremonial grade 30 g", "24.00"),
    ("TEA-005", "Chai spice blend 200 g", "11.50"),
    ("TEA-006", "Jasmine pearls 50 g", "16.80"),
    ("COF-001", "Espresso beans 1 kg", "29.90"),
    ("COF-002", "Single origin Ethiopia 250 g", "13.40"),
    ("COF-003", "Decaf Colombia 250 g", "11.90"),
    ("COF-004", "Cold brew pack (6 x 100 g)", "21.00"),
    ("ACC-001", "Glass teapot 1 l", "34.95"),
    ("ACC-002", "Stainless tea infuser", "6.99"),
    ("ACC-003", 'Hand grinder "Burr Pro"', "59.00"),
    ("ACC-004", "Pour-over dripper, ceramic", "27.50"),
    ("ACC-005", "Paper filters (100)", "4.99"),
    ("ACC-006", "Milk frother, battery", "18.75"),
    ("ACC-007", "Gooseneck kettle 0.8 l", "64.00"),
    ("GFT-001", "Tasting box: 12 teas", "39.00"),
    ("GFT-002", "Gift card 25", "25.00"),
    ("GFT-003", "Gift card 50", "50.00"),
    ("GFT-004", "Advent calendar, 24 teas", "44.90"),
    ("SUB-001", "Refill pouch, house blend", "9.50"),
)


@dataclass(frozen=True)
class Customer:
    """A customer with a home country, a preferred channel and a buying habit."""

    customer_id: str
    country: str
    channel: str
    kind: str


@dataclass(frozen=True)
class Order:
    """One order before it is written out as lines."""

    when: dt.datetime
    customer: Customer | None


def pick(rng: random.Random, weights: dict) -> object:
    """Draw one key of ``weights`` with probability proportional to its value."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def day_weight(day: dt.date) -> float:
    """Relative demand on a day: slow growth, Black Friday week, Christmas run-up, January dip."""
    years = (day - START.date()).days / 365.25
    weight = 1.0 + 0.35 * years
    if day.month == 11 and 22 <= day.day <= 30:
        weight *= 2.6
    elif day.month == 12 and day.day <= 20:
        weight *= 1.5
    elif day.month == 1:
        weight *= 0.75
    return weight * (1.15 if day.weekday() >= 5 else 1.0)


def order_time(rng: random.Random, day: dt.date) -> dt.datetime:
    """A time of day: evenings busiest, nights quiet."""
    hour = min(23, max(0, round(rng.gauss(18.5, 4.0))))
    return dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60))


def make_customers(rng: random.Random, count: int) -> list[Customer]:
    """A pool of customers with unique ``C-012345`` style ids."""
    numbers = sorted(rng.sample(range(1, 1_000_000), count))
    kinds = {kind: share for kind, (share, _, _) in BUYER_TYPES.items()}
    return [
        Customer(
            f"C-{number:06d}",
            str(pick(rng, COUNTRY_WEIGHTS)),
            str(pick(rng, CHANNEL_WEIGHTS)),
            str(pick(rng, kinds)),
        )
        for number in numbers
    ]


def customer_orders(
    rng: random.Random, customer: Customer, days: list[dt.date], weights: list[float]
) -> list[Order]:
    """The customer's first order on a demand-weighted day, then repeats after random gaps."""
    _, counts, gap = BUYER_TYPES[customer.kind]
    wanted = rng.randint(*counts) if counts else 10_000
    first = rng.choices(days, weights=weights)[0]
    orders = [Order(order_time(rng, first), customer)]
    day = first
    while len(orders) < wanted:
        day += dt.timedelta(days=1 + int(rng.expovariate(1 / gap)))
        if day >= END.date():
            break
        orders.append(Order(order_time(rng, day), customer))
    return orders


def order_lines(rng: random.Random, number: int, order: Order) -> list[list[str]]:
    """The rows of one order: distinct products, quantities, status and segments."""
    customer = order.customer
    status = str(pick(rng, STATUS_WEIGHTS))
    channel = customer.channel if customer and rng.random() < 0.8 else pick(rng, CHANNEL_WEIGHTS)
    country = customer.country if customer else str(pick(rng, COUNTRY_WEIGHTS))
    products = rng.sample(CATALOGUE, int(pick(rng, LINE_WEIGHTS)))
    refunded_line = (
        rng.randrange(len(products))
        if status == "paid" and len(products) > 1 and rng.random() < PARTIAL_REFUND_RATE
        else None
    )
    rows = []
    for line, (sku, name, price) in enumerate(products, start=1):
        quantity = int(pick(rng, QUANTITY_WEIGHTS))
        cents = quantity * round(float(price) * 100)
        rows.append(
            [
                f"SO-{number:06d}",
                str(line),
                order.when.strftime("%Y-%m-%d %H:%M:%S"),
                customer.customer_id if customer else "",
                sku,
                name,
                str(quantity),
                price,
                f"{cents // 100}.{cents % 100:02d}",
                "refunded" if line - 1 == refunded_line else status,
                str(channel),
                country,
            ]
        )
    return rows


def generate(seed: int, rows: int) -> list[list[str]]:
    """All data rows (no header): orders sorted by time, each order's lines together."""
    rng = random.Random(seed)
    days = [START.date() + dt.timedelta(days=i) for i in range((END.date() - START.date()).days)]
    weights = [day_weight(day) for day in days]
    pool = make_customers(rng, round(rows * CUSTOMERS_PER_ORDER))
    orders = [order for customer in pool for order in customer_orders(rng, customer, days, weights)]
    guests = round(rows * GUEST_SHARE)
    orders += [
        Order(order_time(rng, rng.choices(days, weights=weights)[0]), None) for _ in range(guests)
    ]
    orders.sort(key=lambda order: order.when)  # stable: ties keep their generation order
    return [
        line
        for number, order in enumerate(orders, start=100_001)
        for line in order_lines(rng, number, order)
    ]


def main() -> None:
    """Parse options, generate the rows and write the file."""
    args = options(
        __doc__.splitlines()[0],
        seed=DEFAULT_SEED,
        rows=DEFAULT_ROWS,
        rows_help="approximate number of orders",
        out=Path(__file__).resolve().parent / "orders.csv",
        out_help="output CSV path",
    )
    rows = generate(args.seed, args.rows)
    write_csv(args.out, HEADER, rows)
    orders = len({row[0] for row in rows})
    print(f"wrote {orders} orders as {len(rows)} lines to {args.out}")


if __name__ == "__main__":
    main()
