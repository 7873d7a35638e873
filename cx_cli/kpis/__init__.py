"""The KPI registry: every command, config check and report reads KPI definitions from here."""

from __future__ import annotations

# Importing a family module registers its KPIs.
from cx_cli.kpis import acquisition, commerce, retention, support, survey  # noqa: F401
from cx_cli.kpis.base import REGISTRY, Estimate, Kpi, Sums

__all__ = ["REGISTRY", "Estimate", "Kpi", "Sums", "get", "names"]


def names() -> list[str]:
    """Registered KPI names users can choose, in registration order."""
    return [name for name, k in REGISTRY.items() if not k.hidden]


def get(name: str) -> Kpi:
    """The KPI registered under `name` (KeyError when unknown)."""
    return REGISTRY[name]
