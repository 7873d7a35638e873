"""What `cxkpi kpis` prints: the registry, listed or one KPI explained. Imports no pandas."""

from __future__ import annotations

import dataclasses
import difflib

from cx_cli import kpis
from cx_cli.errors import UsageError


def list_kpis() -> str:
    rows = [("KPI", "source kinds", "unit", "better", "title (variants)")]
    for name in kpis.names():
        k = kpis.get(name)
        better = "higher" if k.higher_is_better else "lower"
        title = f"{k.title} ({', '.join(k.variants)})"
        rows.append((name, "/".join(k.kinds), k.unit, better, title))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4]
        for row in rows
    ]
    lines += ["", "cxkpi kpis NAME explains one: formula, fields, variants, options."]
    return "\n".join(lines) + "\n"


def describe_kpi(name: str) -> str:
    if name not in kpis.names():
        close = difflib.get_close_matches(name, kpis.names(), n=1)
        raise UsageError(
            f"unknown KPI '{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""),
            hint=f"known KPIs: {', '.join(kpis.names())}",
        )
    k = kpis.get(name)
    options = []
    for f in dataclasses.fields(k.Options):
        default = f.default if f.default is not dataclasses.MISSING else None
        options.append(f"  {f.name}: {f.type} (default: {default})")
    return "\n".join(
        [
            f"{k.name}: {k.title}",
            f"  source kinds: {', '.join(k.kinds)}",
            f"  fields: {', '.join(k.fields)}",
            f"  unit: {k.unit}; {'higher' if k.higher_is_better else 'lower'} is better",
            f"  variants: {', '.join(k.variants)} (default {k.variants[0]})",
            f"  formula: {k.formula}",
            f"  interval: {k.interval}",
            "options (in a config's long form, beside kpi, source and target):",
            *options,
            "",
        ]
    )
