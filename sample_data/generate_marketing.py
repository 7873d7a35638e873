"""Generate ``spend.csv`` and ``sessions.csv``: a seeded ad-spend export and web-analytics export.

``spend.csv`` is a daily spend report per marketing channel and campaign, as an ads manager or a
finance sheet exports it (Date, Channel, Spend, Campaign). ``sessions.csv`` is a session-level
web analytics export (Session ID, Started At, User ID, Channel, Pageviews, Converted), one row
per visit. Paid traffic follows the spend: more budget on a day brings more sessions from that
channel, and late November / December peak in both files. A few blanks, a platform credit
(negative spend) and duplicated session rows exercise the tool's row accounting.
Stdlib only; the same seed always gives byte-identical output.

    python sample_data/generate_marketing.py --seed 20241101 --rows 12000
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from pathlib import Path

from samplegen import options, write_csv

START = dt.date(2024, 11, 1)
END = dt.date(2026, 1, 1)  # exclusive: the last day is 2025-12-31
DEFAULT_SEED = 20241101
DEFAULT_ROWS = 12000  # sessions
DEFAULT_USERS = 7000
DEFAULT_OUT = Path(__file__).resolve().parent

SPEND_HEADER = ("Date", "Channel", "Spend", "Campaign")
SESSIONS_HEADER = ("Session ID", "Started At", "User ID", "Channel", "Pageviews", "Converted")

# Campaign -> (channel, average daily spend). Email is paid per send (Tuesdays and Thursdays),
# affiliate commissions accrue daily and are lumpy.
CAMPAIGNS = {
    "Search - Brand": ("search", 18.0),
    "Search - Generic": ("search", 34.0),
    "Social - Prospecting": ("social", 26.0),
    "Social - Retargeting": ("social", 11.0),
    "Email - Newsletter": ("email", 22.0),
    "Affiliate - Partners": ("affiliate", 14.0),
}
EMAIL_DAYS = (1, 3)  # Tuesday, Thursday
BFCM = {
    2024: (dt.date(2024, 11, 25), dt.date(2024, 12, 2)),
    2025: (dt.date(2025, 11, 24), dt.date(2025, 12, 1)),
}
BFCM_SPEND = {"search": 45.0, "social": 70.0}  # extra daily budget of the promotion campaigns
GROWTH_PER_YEAR = 0.18

# Traffic: share of sessions per channel on an average day, and how each converts.
TRAFFIC = {
    "organic": 0.30,
    "direct": 0.18,
    "search": 0.22,
    "social": 0.15,
    "email": 0.09,
    "affiliate": 0.06,
}
PAID = ("search", "social", "email", "affiliate")
CONVERSION = {
    "organic": 0.024,
    "direct": 0.038,
    "search": 0.032,
    "social": 0.012,
    "email": 0.055,
    "affiliate": 0.027,
}
BLANK_PAGEVIEWS_RATE = 0.004
BLANK_USER_RATE = 0.006
DUPLICATED_SESSIONS = 6


def season(day: dt.date) -> float:
    """Demand multiplier: growth over time, a gift-season peak, a summer lull, quiet weekends."""
    years = (day - START).days / 365.25
    peak = 1.0 + 0.55 * math.exp(-(((day.timetuple().tm_yday - 340) / 18.0) ** 2))
    summer = 1.0 - 0.12 * math.exp(-(((day.timetuple().tm_yday - 200) / 25.0) ** 2))
    weekend = 0.85 if day.weekday() >= 5 else 1.0
    return (1.0 + GROWTH_PER_YEAR * years) * peak * summer * weekend


def days() -> list[dt.date]:
    return [START + dt.timedelta(days=i) for i in range((END - START).days)]


def in_bfcm(day: dt.date) -> bool:
    first, last = BFCM.get(day.year, (None, None))
    return first is not None and first <= day <= last


def spend_rows(rng: random.Random) -> tuple[list[list[str]], dict[tuple[dt.date, str], float]]:
    """Daily spend per campaign, and the spend per (day, channel) that drives paid traffic."""
    rows: list[list[str]] = []
    per_channel: dict[tuple[dt.date, str], float] = {}
    for day in days():
        lines: list[tuple[str, str, float]] = []
        for campaign, (channel, average) in CAMPAIGNS.items():
            if channel == "email" and day.weekday() not in EMAIL_DAYS:
                continue
            noise = rng.lognormvariate(0.0, 0.45 if channel == "affiliate" else 0.2)
            lines.append((channel, campaign, average * season(day) * noise))
        if in_bfcm(day):
            for channel, extra in BFCM_SPEND.items():
                name = f"{channel.title()} - BFCM {day.year}"
                lines.append((channel, name, extra * rng.lognormvariate(0.0, 0.15)))
        for channel, campaign, amount in lines:
            per_channel[(day, channel)] = per_channel.get((day, channel), 0.0) + round(amount, 2)
            rows.append([day.isoformat(), channel, f"{amount:.2f}", campaign])
    add_spend_quirks(rng, rows)
    return rows, per_channel


def add_spend_quirks(rng: random.Random, rows: list[list[str]]) -> None:
    """A platform credit (negative spend) and one blank amount, as real exports carry."""
    credit_day = dt.date(2025, 3, 3).isoformat()
    at = next(i for i, row in enumerate(rows) if row[0] > credit_day)
    rows.insert(at, [credit_day, "search", "-120.00", "Search - Generic (invalid clicks credit)"])
    blank = rng.randrange(len(rows))
    rows[blank][2] = ""


def session_days(
    rng: random.Random, count: int, paid_spend: dict[tuple[dt.date, str], float]
) -> list[tuple[dt.date, str]]:
    """(day, channel) of each session: unpaid channels follow demand, paid ones their budget."""
    cells: list[tuple[dt.date, str]] = []
    weights: list[float] = []
    average = {c: sum(v for (_, ch), v in paid_spend.items() if ch == c) for c in PAID}
    n_days = len(days())
    for day in days():
        for channel, share in TRAFFIC.items():
            if channel in PAID:
                budget = paid_spend.get((day, channel), 0.0) / (average[channel] / n_days)
                weight = share * (0.35 * season(day) + 0.65 * budget)
            else:
                weight = share * season(day)
            cells.append((day, channel))
            weights.append(weight)
    return rng.choices(cells, weights=weights, k=count)


def start_time(rng: random.Random, day: dt.date) -> dt.datetime:
    """A visit time: afternoons and evenings busiest."""
    hour = min(23, max(0, round(rng.gauss(15.0, 4.5))))
    return dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60))


def pageviews(rng: random.Random, converted: bool) -> int:
    """Pages seen: 40 % bounce on one page; converting visits browse and check out (+3 pages)."""
    if not converted and rng.random() < 0.40:
        return 1
    pages = 2
    while rng.random() < 0.62 and pages < 60:
        pages += 1
    return pages + (3 if converted else 0)


def session_rows(
    rng: random.Random, count: int, users: int, paid_spend: dict[tuple[dt.date, str], float]
) -> list[list[str]]:
    """One row per session, sorted by start time; a few users return often."""
    pool = [f"U-{n:06d}" for n in sorted(rng.sample(range(1, 1_000_000), users))]
    visits = list(itertools.accumulate(1.0 / (rank + 8) ** 0.8 for rank in range(users)))
    drawn = sorted(
        (start_time(rng, day), channel) for day, channel in session_days(rng, count, paid_spend)
    )
    rows = []
    for index, (when, channel) in enumerate(drawn, start=1):
        converted = rng.random() < CONVERSION[channel]
        user = rng.choices(pool, cum_weights=visits)[0] if rng.random() >= BLANK_USER_RATE else ""
        pages = "" if rng.random() < BLANK_PAGEVIEWS_RATE else str(pageviews(rng, converted))
        rows.append(
            [
                f"S-{index:07d}",
                when.strftime("%Y-%m-%d %H:%M:%S"),
                user,
                channel,
                pages,
                "true" if converted else "false",
            ]
        )
    for at in sorted(rng.sample(range(len(rows)), DUPLICATED_SESSIONS), reverse=True):
        rows.insert(at + 1, list(rows[at]))  # the export repeated a row
    return rows


def generate(
    seed: int, rows: int, users: int = DEFAULT_USERS
) -> tuple[list[list[str]], list[list[str]]]:
    """(spend rows, session rows), without headers."""
    rng = random.Random(seed)
    spend, paid = spend_rows(rng)
    return spend, session_rows(rng, rows, users, paid)


def main() -> None:
    """Parse options, generate both files and write them into the output folder."""
    args = options(
        __doc__.splitlines()[0],
        seed=DEFAULT_SEED,
        rows=DEFAULT_ROWS,
        rows_help="number of sessions",
        out=DEFAULT_OUT,
        out_help="folder for spend.csv and sessions.csv",
    )
    spend, sessions = generate(args.seed, args.rows)
    write_csv(args.out / "spend.csv", SPEND_HEADER, spend)
    write_csv(args.out / "sessions.csv", SESSIONS_HEADER, sessions)
    print(f"wrote {len(spend)} spend rows and {len(sessions)} session rows to {args.out}")


if __name__ == "__main__":
    main()
