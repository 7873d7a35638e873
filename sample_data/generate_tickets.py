"""Generate ``tickets.csv``: a seeded, realistic helpdesk ticket export for cxkpi.

Each ticket has a channel, priority, group and assignee; customer contacts and agent replies
(one-touch tickets are common on chat and phone, rarer for technical issues), a first reply and a
resolution whose delays follow the channel (minutes on chat and phone, hours on email and web,
waiting for office hours), reopens, and handle times (talk + hold + wrap on the phone). Tickets
created near the export date are still open or pending. A handful of data problems exercise the
tool's accounting: solved before created, a reply before creation, a negative and a junk handle
time, blank contacts on solved tickets, a blank status, statuses in capitals.
Stdlib only; the same seed always gives byte-identical output.

    python sample_data/generate_tickets.py --seed 20241101 --rows 3000
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from pathlib import Path

from samplegen import options, write_csv

HEADER = (
    "Ticket ID",
    "Created At",
    "First Reply At",
    "Solved At",
    "Status",
    "Channel",
    "Priority",
    "Group",
    "Assignee",
    "Agent Replies",
    "Customer Contacts",
    "Reopened",
    "Handle Time (s)",
    "Talk Time (s)",
    "Hold Time (s)",
    "Wrap Time (s)",
)
COLUMN = {name: i for i, name in enumerate(HEADER)}

START = dt.datetime(2024, 11, 1)
END = dt.datetime(2026, 1, 1)  # exclusive: the last ticket is created on 2025-12-31
EXPORTED_AT = dt.datetime(2026, 1, 1, 9, 0)  # tickets not solved by then are open or pending
AUTO_CLOSE = dt.timedelta(days=4)  # solved tickets become closed four days later
DEFAULT_SEED = 20241101
DEFAULT_ROWS = 3000
DEFAULT_OUT = Path(__file__).resolve().parent / "tickets.csv"
STAMP = "%Y-%m-%d %H:%M:%S"

CHANNEL_WEIGHTS = {"email": 0.40, "chat": 0.28, "phone": 0.18, "web": 0.14}
PRIORITY_WEIGHTS = {"low": 0.20, "normal": 0.55, "high": 0.20, "urgent": 0.05}
GROUP_WEIGHTS = {"Billing": 0.30, "Technical": 0.45, "Account": 0.25}
AGENTS = {
    "Billing": ("Ana Lima", "Ben Carter", "Chloé Martin", "Dev Patel"),
    "Technical": ("Eli Novak", "Fatima Zahra", "Greg Olsen", "Hana Sato", "Ivan Petrov"),
    "Account": ("Jia Wen", "Kofi Mensah", "Lena Fischer"),
}

# Chance that one contact settles the issue, per channel and group.
ONE_TOUCH = {"email": 0.58, "chat": 0.74, "phone": 0.78, "web": 0.52}
GROUP_ONE_TOUCH = {"Billing": 0.05, "Technical": -0.12, "Account": 0.08}
# Median first-reply delay in seconds per channel, and how priority scales it.
FIRST_REPLY = {"email": 3.5 * 3600, "chat": 90, "phone": 40, "web": 5 * 3600}
PRIORITY_SPEED = {"low": 1.6, "normal": 1.0, "high": 0.6, "urgent": 0.3}
OFFICE_HOURS = (8, 18)  # email and web wait for these on weekdays
REOPEN_RATE = 0.07
STUCK_RATE = 0.025  # old tickets that were never solved
NO_REPLY_SOLVED_RATE = 0.012  # solved without a public reply (spam, merged)


@dataclass(frozen=True)
class Ticket:
    """One ticket's facts before they are written as text."""

    created: dt.datetime
    channel: str
    priority: str
    group: str
    agent: str
    contacts: int
    replies: int
    first_reply: dt.datetime | None
    solved: dt.datetime | None
    status: str
    reopened: bool
    talk_hold_wrap: tuple[int, int, int] | None
    handle: int | None


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    """Draw one key of ``weights`` with probability proportional to its value."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A right-skewed positive value with the given median."""
    return median * math.exp(rng.gauss(0.0, sigma))


def make_timestamps(rng: random.Random, count: int) -> list[dt.datetime]:
    """Sorted creation times: weekdays and working hours more likely, volume growing slowly."""
    days = (END - START).days
    stamps: list[dt.datetime] = []
    while len(stamps) < count:
        day = START + dt.timedelta(days=int(days * rng.random() ** 0.85))
        if day.weekday() >= 5 and rng.random() < 0.6:
            continue
        hour = min(23, max(0, round(rng.gauss(12.5, 3.8))))
        stamps.append(day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60)))
    return sorted(stamps)


def next_office_time(rng: random.Random, when: dt.datetime) -> dt.datetime:
    """``when`` if it is within office hours on a weekday, else soon after the next opening."""
    opening, closing = OFFICE_HOURS
    if when.weekday() < 5 and opening <= when.hour < closing:
        return when
    day = when.date() + dt.timedelta(days=0 if when.hour < opening else 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(opening))
    return start + dt.timedelta(seconds=rng.randrange(3600))


def make_contacts(rng: random.Random, channel: str, group: str) -> tuple[int, int]:
    """(customer contacts, agent replies) until the issue is settled."""
    if rng.random() < ONE_TOUCH[channel] + GROUP_ONE_TOUCH[group]:
        contacts = 1
    else:
        contacts = 2
        while rng.random() < 0.35 and contacts < 8:
            contacts += 1
    replies = contacts
    if contacts == 1 and rng.random() < 0.12:
        replies = 2  # the agent followed up without the customer writing again
    elif contacts > 1:
        replies = max(1, contacts + rng.choice((-1, 0, 0, 1)))
    return contacts, replies


def make_handle(
    rng: random.Random, channel: str, replies: int
) -> tuple[tuple[int, int, int] | None, int]:
    """Talk/hold/wrap seconds for phone calls, and the total handle time for every channel."""
    if channel == "phone":
        talk = sum(round(lognormal(rng, 330, 0.5)) for _ in range(replies))
        hold = 0 if rng.random() < 0.6 else round(lognormal(rng, 80, 0.7))
        wrap = round(lognormal(rng, 60, 0.4))
        return (talk, hold, wrap), talk + hold + wrap
    median = {"chat": 480, "email": 240, "web": 270}[channel]
    return None, sum(round(lognormal(rng, median, 0.55)) for _ in range(replies))


def make_ticket(rng: random.Random, created: dt.datetime) -> Ticket:
    """One ticket: segments, contacts, timeline, status, reopen and handle time."""
    channel = pick(rng, CHANNEL_WEIGHTS)
    priority = pick(rng, PRIORITY_WEIGHTS)
    group = pick(rng, GROUP_WEIGHTS)
    agent = rng.choice(AGENTS[group])
    contacts, replies = make_contacts(rng, channel, group)
    live = channel in ("chat", "phone")
    wait = lognormal(rng, FIRST_REPLY[channel] * PRIORITY_SPEED[priority], 0.9)
    reply_from = created if live else next_office_time(rng, created)
    first_reply: dt.datetime | None = reply_from + dt.timedelta(seconds=round(wait))
    if rng.random() < NO_REPLY_SOLVED_RATE:
        first_reply, replies = None, 0
    # After the first reply, each further contact adds a customer's and an agent's turn.
    settle = lognormal(rng, 600 if live else 2 * 3600, 0.8)
    settle += sum(lognormal(rng, 20 * 3600, 1.0) for _ in range(contacts - 1))
    solved: dt.datetime | None = (first_reply or created) + dt.timedelta(seconds=round(settle))
    reopened = False
    if rng.random() < REOPEN_RATE:
        reopened = True
        if rng.random() < 0.5:
            contacts += 1  # some helpdesks count the reopening message as a contact
        back = dt.timedelta(seconds=round(lognormal(rng, 3 * 86400, 0.8)))
        redo = dt.timedelta(seconds=round(lognormal(rng, 6 * 3600, 1.0)))
        solved = solved + back + redo if rng.random() < 0.8 else None
    if first_reply is not None and first_reply > EXPORTED_AT:
        first_reply, replies = None, 0
    if solved is not None and (solved > EXPORTED_AT or rng.random() < STUCK_RATE):
        solved = None
    if solved is None:
        status = "pending" if rng.random() < 0.4 else "open"
    else:
        status = "closed" if solved + AUTO_CLOSE <= EXPORTED_AT else "solved"
    parts, handle = make_handle(rng, channel, replies) if replies else (None, None)
    return Ticket(
        created,
        channel,
        priority,
        group,
        agent,
        contacts,
        replies,
        first_reply,
        solved,
        status,
        reopened,
        parts,
        handle,
    )


def as_row(index: int, t: Ticket) -> list[str]:
    """A ticket as the export's text cells; blanks where a value does not exist."""

    def stamp(when: dt.datetime | None) -> str:
        return when.strftime(STAMP) if when else ""

    talk, hold, wrap = (str(v) for v in t.talk_hold_wrap) if t.talk_hold_wrap else ("", "", "")
    return [
        f"T-{index:06d}",
        stamp(t.created),
        stamp(t.first_reply),
        stamp(t.solved),
        t.status,
        t.channel,
        t.priority,
        t.group,
        t.agent,
        str(t.replies),
        str(t.contacts),
        "1" if t.reopened else "0",
        "" if t.handle is None else str(t.handle),
        talk,
        hold,
        wrap,
    ]


def inject_problems(rng: random.Random, rows: list[list[str]]) -> None:
    """A few data problems real exports have, on distinct solved (or replied) tickets."""
    c = COLUMN
    solved = [i for i, r in enumerate(rows) if r[c["Solved At"]] and r[c["First Reply At"]]]
    chosen = rng.sample(solved, 11)
    for i in chosen[:2]:  # solved stamped before created (a clock or time zone slip)
        created = dt.datetime.strptime(rows[i][c["Created At"]], STAMP)
        early = created - dt.timedelta(hours=rng.randrange(1, 6), minutes=rng.randrange(60))
        rows[i][c["Solved At"]] = early.strftime(STAMP)
    created = dt.datetime.strptime(rows[chosen[2]][c["Created At"]], STAMP)
    rows[chosen[2]][c["First Reply At"]] = (created - dt.timedelta(minutes=17)).strftime(STAMP)
    rows[chosen[3]][c["Handle Time (s)"]] = "-42"
    rows[chosen[4]][c["Handle Time (s)"]] = "12m"
    for i in chosen[5:7]:  # the contact count was never filled in
        rows[i][c["Customer Contacts"]] = ""
    rows[chosen[7]][c["Status"]] = ""  # solved_at still says it is solved
    for i in chosen[8:11]:
        rows[i][c["Status"]] = rows[i][c["Status"]].capitalize()


def generate(seed: int, rows: int) -> list[list[str]]:
    """All data rows (no header), sorted by creation time."""
    rng = random.Random(seed)
    stamps = make_timestamps(rng, rows)
    data = [as_row(i, make_ticket(rng, when)) for i, when in enumerate(stamps, start=1)]
    inject_problems(rng, data)
    return data


def main() -> None:
    """Parse options, generate the rows and write the file."""
    args = options(
        __doc__.splitlines()[0],
        seed=DEFAULT_SEED,
        rows=DEFAULT_ROWS,
        rows_help="number of tickets",
        out=DEFAULT_OUT,
        out_help="output CSV path",
    )
    rows = generate(args.seed, args.rows)
    write_csv(args.out, HEADER, rows)
    print(f"wrote {len(rows)} tickets to {args.out}")


if __name__ == "__main__":
    main()
