"""Generate ``subscriptions.csv``: a seeded, realistic billing export for cxkpi's retention KPIs.

Customers arrive over 2024-2025 (volume growing slowly), each on a plan and billing cycle. At
every monthly renewal a subscription may end (a plan-, channel- and tenure-dependent hazard, about
3-5 % a month overall); annual subscriptions can only end at their yearly renewal. A few
customers upgrade mid-cycle (the old subscription ends and the new one starts at the same
instant: one customer, two subscriptions, no gap), and some who left come back months later with
a new subscription. Subscriptions still running at the export time have a blank Ended At.
Stdlib only; the same seed always gives byte-identical output.

    python sample_data/generate_subscriptions.py --seed 20240101 --rows 1200
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from samplegen import options, write_csv

HEADER = ("Subscription ID", "Customer ID", "Plan", "Started At", "Ended At", "MRR", "Channel")

START = dt.datetime(2024, 1, 1)
EXPORTED_AT = dt.datetime(2025, 12, 31, 23, 59, 59)  # the moment the export was taken
DEFAULT_SEED = 20240101
DEFAULT_ROWS = 1200
SUBSCRIPTIONS_PER_CUSTOMER = 1.08  # upgrades and returns: about how many rows one customer makes
DEFAULT_OUT = Path(__file__).resolve().parent / "subscriptions.csv"

PRICE = {"Starter": 29.0, "Growth": 99.0, "Scale": 299.0}
PLAN_WEIGHTS = {"Starter": 0.55, "Growth": 0.35, "Scale": 0.10}
UPGRADE_TO = {"Starter": "Growth", "Growth": "Scale"}
CHANNEL_WEIGHTS = {
    "organic": 0.34,
    "paid_search": 0.26,
    "referral": 0.15,
    "partner": 0.15,
    "outbound": 0.10,
}

# Monthly hazard of ending at a renewal, by plan, scaled by channel and early tenure.
MONTHLY_CHURN = {"Starter": 0.052, "Growth": 0.034, "Scale": 0.018}
CHANNEL_CHURN = {
    "organic": 1.0,
    "paid_search": 1.35,
    "referral": 0.75,
    "partner": 0.85,
    "outbound": 1.15,
}
EARLY_MONTHS = 3
EARLY_FACTOR = 1.5
ANNUAL_SHARE = 0.18  # annual billing: two months free, ends only at a yearly renewal
ANNUAL_LOYALTY = 0.7  # annual payers end less often than twelve monthly renewals would
DISCOUNT_SHARE = 0.12  # a 20 % coupon for life
COMPED_SHARE = 0.01  # partner or employee accounts at 0.00
UPGRADE_RATE = 0.007  # per month, mid-cycle
RETURN_RATE = 0.17  # share of customers who come back after leaving
RETURN_GAP_MONTHS = (1, 9)


@dataclass(frozen=True)
class Subscription:
    """One row of the export before its id is assigned."""

    customer_id: str
    plan: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    mrr: float
    channel: str


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    """Draw one key of ``weights`` with probability proportional to its value."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    """The same day and time ``months`` later, clamped to the month's last day."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def arrival_times(rng: random.Random, count: int) -> list[dt.datetime]:
    """Sorted sign-up times over 2024-2025, weekdays and working hours more likely, growing."""
    days = (EXPORTED_AT - START).days + 1
    stamps: list[dt.datetime] = []
    while len(stamps) < count:
        day = START + dt.timedelta(days=int(days * rng.random() ** 0.85))
        if day.weekday() >= 5 and rng.random() < 0.5:
            continue
        hour = min(23, max(0, round(rng.gauss(14, 4))))
        stamps.append(day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60)))
    return sorted(stamps)


def price(plan: str, annual: bool, discount: bool, comped: bool) -> float:
    """Monthly recurring revenue of a plan: annual billing is ten months over twelve."""
    if comped:
        return 0.0
    mrr = PRICE[plan] * (10 / 12 if annual else 1.0) * (0.8 if discount else 1.0)
    return round(mrr, 2)


def run_subscription(
    rng: random.Random, start: dt.datetime, plan: str, channel: str, annual: bool
) -> tuple[dt.datetime | None, str]:
    """When a subscription ends (None: still running at export) and why: churn or upgrade."""
    hazard = MONTHLY_CHURN[plan] * CHANNEL_CHURN[channel]
    cycle = 1
    while True:
        renewal = add_months(start, cycle)
        if renewal > EXPORTED_AT:
            return None, "active"
        if plan in UPGRADE_TO and rng.random() < UPGRADE_RATE:
            previous = add_months(start, cycle - 1)
            return previous + (renewal - previous) * rng.random(), "upgrade"
        if annual and cycle % 12:
            cycle += 1
            continue
        risk = hazard * (EARLY_FACTOR if cycle <= EARLY_MONTHS else 1.0)
        if annual:
            risk = (1 - (1 - hazard) ** 12) * ANNUAL_LOYALTY
        if rng.random() < risk:
            return renewal, "churn"
        cycle += 1


def customer_history(
    rng: random.Random, customer_id: str, joined: dt.datetime
) -> list[Subscription]:
    """Every subscription of one customer: the first, upgrades, and returns after leaving."""
    channel = pick(rng, CHANNEL_WEIGHTS)
    plan = pick(rng, PLAN_WEIGHTS)
    annual = rng.random() < ANNUAL_SHARE
    discount = rng.random() < DISCOUNT_SHARE
    comped = rng.random() < COMPED_SHARE
    history: list[Subscription] = []
    start: dt.datetime | None = joined
    while start is not None and start <= EXPORTED_AT:
        ended, why = run_subscription(rng, start, plan, channel, annual)
        mrr = price(plan, annual, discount, comped)
        history.append(Subscription(customer_id, plan, start, ended, mrr, channel))
        start = None
        if why == "upgrade" and ended is not None:
            plan, start = UPGRADE_TO[plan], ended
        elif why == "churn" and ended is not None and rng.random() < RETURN_RATE:
            gap = rng.randint(*RETURN_GAP_MONTHS)
            start = add_months(ended, gap) + dt.timedelta(
                days=rng.randrange(28), hours=rng.randrange(-6, 7)
            )
            plan = rng.choice(("Starter", "Starter", plan))
            annual = False
    return history


def generate(seed: int, rows: int) -> list[list[str]]:
    """All data rows (no header), in order of start time."""
    rng = random.Random(seed)
    customers = max(1, round(rows / SUBSCRIPTIONS_PER_CUSTOMER))
    numbers = sorted(rng.sample(range(10_000, 100_000), customers))
    ids = [f"CUS-{number}" for number in numbers]
    rng.shuffle(ids)
    subscriptions = [
        sub
        for customer_id, joined in zip(ids, arrival_times(rng, customers), strict=True)
        for sub in customer_history(rng, customer_id, joined)
    ]
    subscriptions.sort(key=lambda s: (s.started_at, s.customer_id))
    return [
        [
            f"sub_{index:06d}",
            sub.customer_id,
            sub.plan,
            sub.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            sub.ended_at.strftime("%Y-%m-%d %H:%M:%S") if sub.ended_at else "",
            f"{sub.mrr:.2f}",
            sub.channel,
        ]
        for index, sub in enumerate(subscriptions, start=1)
    ]


def main() -> None:
    """Parse options, generate the rows and write the file."""
    args = options(
        __doc__.splitlines()[0],
        seed=DEFAULT_SEED,
        rows=DEFAULT_ROWS,
        rows_help="about this many subscriptions",
        out=DEFAULT_OUT,
        out_help="output CSV path",
    )
    rows = generate(args.seed, args.rows)
    write_csv(args.out, HEADER, rows)
    print(f"wrote {len(rows)} subscriptions to {args.out}")


if __name__ == "__main__":
    main()
