"""Logical fields, declared once per source kind: what config maps columns onto and KPIs read.

A field's type decides how its text is coerced (and why a value is dropped); a score field carries
its default scale, which a source may override with `scales:` in config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One logical field: its coercion type and, for scores, the default scale."""

    type: str  # timestamp | id | text | score | number | count | money | duration | bool
    scale: tuple[int, int] | None = None


SOURCE_KINDS: dict[str, dict[str, Field]] = {
    "responses": {
        "submitted_at": Field("timestamp"),
        "customer_id": Field("id"),
        "response_id": Field("id"),
        "nps": Field("score", (0, 10)),
        "csat": Field("score", (1, 5)),
        "ces": Field("score", (1, 7)),
        "comment": Field("text"),
    },
    "tickets": {
        "ticket_id": Field("id"),
        "created_at": Field("timestamp"),
        "first_reply_at": Field("timestamp"),
        "solved_at": Field("timestamp"),
        "status": Field("text"),
        "contacts": Field("number"),
        "replies": Field("number"),
        "reopened": Field("count"),  # a count, or true/false
        "first_contact_resolved": Field("bool"),
        "handle_seconds": Field("duration"),
        "talk_seconds": Field("duration"),
        "hold_seconds": Field("duration"),
        "wrap_seconds": Field("duration"),
    },
    "orders": {
        "order_id": Field("id"),
        "customer_id": Field("id"),
        "ordered_at": Field("timestamp"),
        "amount": Field("money"),
        "quantity": Field("number"),
        "unit_price": Field("money"),
        "status": Field("text"),
    },
    "subscriptions": {
        "customer_id": Field("id"),
        "started_at": Field("timestamp"),
        "ended_at": Field("timestamp"),
        "mrr": Field("money"),
    },
    "sessions": {
        "session_id": Field("id"),
        "user_id": Field("id"),
        "timestamp": Field("timestamp"),
        "pageviews": Field("number"),
        "converted": Field("bool"),
        "date": Field("timestamp"),
        "sessions": Field("number"),
        "users": Field("number"),
        "conversions": Field("number"),
    },
    "spend": {
        "date": Field("timestamp"),
        "amount": Field("money"),
        "channel": Field("text"),
    },
}

# The field whose date places a row in a period and in the --since/--until window.
TIME_FIELD: dict[str, tuple[str, ...]] = {
    "responses": ("submitted_at",),
    "tickets": ("created_at",),
    "orders": ("ordered_at",),
    "subscriptions": ("started_at",),
    "sessions": ("timestamp", "date"),
    "spend": ("date",),
}


def time_field(kind: str, mapped: set[str] | dict[str, str]) -> str | None:
    """The mapped field that dates a row of this kind, or None when none is mapped."""
    return next((f for f in TIME_FIELD[kind] if f in mapped), None)


# Date-time fields between which KPIs measure durations (first response, resolution time).
# They are kept on the local clock, like every date-time, and, when a `timezone` moved them
# there, with the shift that did (`shift_column`), so that a duration across a
# daylight-saving change is elapsed time, not clock time.
ELAPSED: dict[str, tuple[str, ...]] = {
    "tickets": ("created_at", "first_reply_at", "solved_at"),
}


def shift_column(field: str) -> str:
    """The frame column holding, per row, the shift (ns) that moved `field`'s date-time onto
    the source's clock (`coerce.NO_SHIFT` where none did: no offset, or no date)."""
    return f"shift:{field}"


# A field computed from others when it is not mapped itself (line-item exports).
DERIVED: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {"amount": ("quantity", "unit_price")},
}


def available(kind: str, mapped: set[str] | dict[str, str]) -> set[str]:
    """Fields a source of this kind can provide: mapped ones and those derivable from them."""
    derivable = {
        field
        for field, inputs in DERIVED.get(kind, {}).items()
        if all(name in mapped for name in inputs)
    }
    return set(mapped) | derivable
