"""KPIs of the acquisition family (see KPIS.md); filled in by their definitions."""

from __future__ import annotations
