"""KPIs of the support family (see KPIS.md); filled in by their definitions."""

from __future__ import annotations
