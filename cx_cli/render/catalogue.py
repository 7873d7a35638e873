"""What `cxkpi kpis` prints: the registry, listed or one KPI explained. Imports no pandas."""

from __future__ import annotations

import dataclasses
import difflib

from cx_cli import kpis
from cx_cli.errors import UsageError


def list_kpis() -> str:
    lines = [f"{'KPI':<8} {'source kind':<12} {'unit':<7} {'better':<7} title (variants)"]
    for name in kpis.names():
        k = kpis.get(name)
        better = "higher" if k.higher_is_better else "lower"
        lines.append(
            f"{name:<8} {'/'.join(k.kinds):<12} {k.unit:<7} {better:<7} {k.title} "
            f"({', '.join(k.variants)})"
        )
    lines.append("")
    lines.append("cxkpi kpis NAME explains one: formula, fields, variants, options.")
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
