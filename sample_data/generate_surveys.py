"""Generate ``surveys.csv``: a seeded, realistic survey-platform export for cxkpi.

Each response has a latent satisfaction (customer baseline + channel + time trend + noise)
from which the NPS, CSAT and CES answers are drawn, so the three scores move together.
Blanks mimic survey skip logic and a few junk values exercise the tool's row accounting.
Stdlib only; the same seed always gives byte-identical output.

    python sample_data/generate_surveys.py --seed 20241101 --rows 2400
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from samplegen import options, write_csv

HEADER = (
    "Response ID",
    "Submitted At",
    "Customer ID",
    "Channel",
    "Region",
    "Plan",
    "How likely are you to recommend us?",
    "Overall satisfaction",
    "It was easy to get my issue resolved",
    "Comments",
)

START = dt.datetime(2024, 11, 1)
END = dt.datetime(2026, 1, 1)  # exclusive: last response is on 2025-12-31
DEFAULT_SEED = 20241101
DEFAULT_ROWS = 2400
DEFAULT_CUSTOMERS = 1500
DEFAULT_OUT = Path(__file__).resolve().parent / "surveys.csv"

CHANNEL_WEIGHTS = {"email": 0.38, "chat": 0.30, "phone": 0.20, "web": 0.12}
REGION_WEIGHTS = {"North America": 0.40, "EMEA": 0.33, "APAC": 0.17, "LATAM": 0.10}
PLAN_WEIGHTS = {"Free": 0.50, "Pro": 0.35, "Enterprise": 0.15}

# Shifts of the latent satisfaction (in standard deviations) per segment.
CHANNEL_MOOD = {"email": -0.05, "chat": 0.25, "phone": -0.05, "web": -0.15}
CHANNEL_CSAT = {"email": 0.0, "chat": 0.25, "phone": 0.0, "web": -0.1}
CHANNEL_EASE = {"email": -0.1, "chat": 0.3, "phone": -0.6, "web": 0.0}
PLAN_MOOD = {"Free": -0.1, "Pro": 0.05, "Enterprise": 0.2}
REGION_MOOD = {"North America": 0.05, "EMEA": 0.0, "APAC": -0.05, "LATAM": 0.05}
TREND_PER_YEAR = 0.35  # mild improvement over the 14 months
INCIDENT_RATE = 0.04

BLANK_RATE = {"nps": 0.04, "csat": 0.06, "ces": 0.10}
JUNK = (("nps", "11"), ("nps", "-1"), ("csat", "n/a"), ("csat", "6"), ("ces", "N/A"))
COMMENT_RATE = 0.40

POSITIVE = (
    "Quick and friendly, thanks!",
    "Great support, the agent knew exactly what to do.",
    "Fixed in minutes. Very happy.",
    'The "reset sync" tip worked, problem solved.',
    "Love the product, keep it up 🙌",
    "Très bien, merci pour l'aide rapide.",
    "Super Service, vielen Dank für die schnelle Hilfe!",
    "Clear answer, no back-and-forth, exactly what I needed.",
    "Easy, fast, polite. 10/10",
)
NEUTRAL = (
    "OK overall, took a bit long to get a reply.",
    "Fine, but I had to explain the issue twice.",
    'Answer was correct, though the docs page said "coming soon".',
    "Solved eventually, after a couple of emails",
    "Decent. The app itself could be faster, though.",
    "Résumé: it works now, but it took 3 days.",
)
NEGATIVE = (
    "Waited 40 minutes on hold, then got disconnected.",
    "Still not fixed. Third ticket about the same bug!",
    'Was told "it works on our side", which did not help.',
    "Too expensive for what it does, and support is slow.",
    "Nobody read my message properly 😞",
    "Export to CSV keeps failing, and the agent closed the ticket anyway.",
    "Größtes Problem: billing charged me twice, refund still pending.",
)
FOLLOW_UPS = (
    "Please call me back.",
    "Ticket #48213, if that helps.",
    "P.S. the mobile app, not the website.",
    "Thanks, Anna",
)


@dataclass(frozen=True)
class Customer:
    """A customer with fixed segments and a baseline mood that recurs across responses."""

    customer_id: str
    region: str
    plan: str
    mood: float


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    """Draw one key of ``weights`` with probability proportional to its value."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_customers(rng: random.Random, count: int) -> list[Customer]:
    """Build a pool of customers with unique ``C-01234`` style ids."""
    numbers = sorted(rng.sample(range(1, 100_000), count))
    return [
        Customer(
            customer_id=f"C-{number:05d}",
            region=(region := pick(rng, REGION_WEIGHTS)),
            plan=(plan := pick(rng, PLAN_WEIGHTS)),
            mood=rng.gauss(0.0, 0.5) + PLAN_MOOD[plan] + REGION_MOOD[region],
        )
        for number in numbers
    ]


def make_timestamps(rng: random.Random, count: int) -> list[dt.datetime]:
    """Sorted timestamps, weekdays and working hours more likely, volume growing slowly."""
    days = (END - START).days
    stamps: list[dt.datetime] = []
    while len(stamps) < count:
        day = START + dt.timedelta(days=int(days * rng.random() ** 0.9))
        if day.weekday() >= 5 and rng.random() < 0.55:
            continue
        hour = min(23, max(0, round(rng.gauss(13.5, 3.5))))
        stamps.append(day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60)))
    return sorted(stamps)


def scale(
    rng: random.Random, latent: float, low: int, high: int, centre: float, spread: float
) -> int:
    """Map a latent value plus answer noise onto an integer scale, clamped to its ends."""
    value = round(centre + spread * (latent + rng.gauss(0.0, 0.45)))
    return min(high, max(low, value))


def comment_for(rng: random.Random, nps: int) -> str:
    """Free text whose tone follows the NPS answer, sometimes with a second line."""
    pool = POSITIVE if nps >= 9 else NEUTRAL if nps >= 7 else NEGATIVE
    text = rng.choice(pool)
    roll = rng.random()
    if roll < 0.06:
        text += "\n" + rng.choice(FOLLOW_UPS)
    elif roll < 0.16:
        text += " " + rng.choice(FOLLOW_UPS)
    return text


def make_row(rng: random.Random, index: int, when: dt.datetime, customer: Customer) -> list[str]:
    """One response: segments, three correlated scores, blanks and an optional comment."""
    channel = pick(rng, CHANNEL_WEIGHTS)
    years = (when - START).total_seconds() / (365.25 * 86400)
    latent = customer.mood + CHANNEL_MOOD[channel] + TREND_PER_YEAR * years + rng.gauss(0, 0.8)
    if rng.random() < INCIDENT_RATE:  # a bad incident: the long tail of 0-3 answers
        latent -= 2.5
    nps = scale(rng, latent, 0, 10, 7.9, 2.0)
    csat = scale(rng, latent + CHANNEL_CSAT[channel], 1, 5, 3.8, 0.9)
    ces = scale(rng, latent + CHANNEL_EASE[channel], 1, 7, 4.9, 1.3)
    scores = {"nps": str(nps), "csat": str(csat), "ces": str(ces)}
    for field, rate in BLANK_RATE.items():
        if rng.random() < rate:
            scores[field] = ""
    comment = comment_for(rng, nps) if rng.random() < COMMENT_RATE else ""
    return [
        f"R-{index:06d}",
        when.strftime("%Y-%m-%d %H:%M:%S"),
        customer.customer_id,
        channel,
        customer.region,
        customer.plan,
        scores["nps"],
        scores["csat"],
        scores["ces"],
        comment,
    ]


def inject_junk(rng: random.Random, rows: list[list[str]]) -> None:
    """Overwrite a handful of answered scores with out-of-range or non-numeric values."""
    column = {"nps": 6, "csat": 7, "ces": 8}
    targets = rng.sample(range(len(rows)), len(JUNK))
    for row_index, (field, value) in zip(sorted(targets), JUNK, strict=True):
        rows[row_index][column[field]] = value


def generate(seed: int, rows: int, customers: int = DEFAULT_CUSTOMERS) -> list[list[str]]:
    """All data rows (no header), sorted by submission time."""
    rng = random.Random(seed)
    pool = make_customers(rng, customers)
    stamps = make_timestamps(rng, rows)
    data = [make_row(rng, i, when, rng.choice(pool)) for i, when in enumerate(stamps, start=1)]
    inject_junk(rng, data)
    return data


def main() -> None:
    """Parse options, generate the rows and write the file."""
    args = options(
        __doc__.splitlines()[0],
        seed=DEFAULT_SEED,
        rows=DEFAULT_ROWS,
        rows_help="number of responses",
        out=DEFAULT_OUT,
        out_help="output CSV path",
    )
    rows = generate(args.seed, args.rows)
    write_csv(args.out, HEADER, rows)
    print(f"wrote {len(rows)} responses to {args.out}")


if __name__ == "__main__":
    main()
