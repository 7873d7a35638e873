"""KPIs of the commerce family (see KPIS.md); filled in by their definitions."""

from __future__ import annotations
