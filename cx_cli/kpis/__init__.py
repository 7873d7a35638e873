"""The KPI registry: every command, config check and report reads KPI definitions from here."""

from __future__ import annotations

# Importing a family module registers its KPIs.
from cx_cli.kpis import acquisition, commerce, retention, support, survey  # noqa: F401
from cx_cli.kpis.base import REGISTRY, Estimate, Kpi, Sums

__all__ = ["REGISTRY", "Estimate", "Kpi", "Sums", "get", "names"]


FAMILY_ORDER = ("responses", "tickets", "orders", "subscriptions", "spend", "sessions")


def names() -> list[str]:
    """KPI names users can choose, by family (surveys, support, orders, ...)."""
    visible = [name for name, k in REGISTRY.items() if not k.hidden]
    return sorted(visible, key=lambda name: FAMILY_ORDER.index(REGISTRY[name].kinds[0]))


def get(name: str) -> Kpi:
    """The KPI registered under `name` (KeyError when unknown)."""
    return REGISTRY[name]
