"""What `cxkpi kpis` prints: the registry, listed or one KPI explained. Imports no pandas."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

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
    hints = typing.get_type_hints(k.Options)
    options = []
    for f in dataclasses.fields(k.Options):
        default = f.default if f.default is not dataclasses.MISSING else None
        shown = "unset" if default in (None, "") else _yaml(default)
        options.append(f"  {f.name}: {option_values(hints[f.name])} (default: {shown})")
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


PLAIN_TYPES = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def option_values(hint: Any) -> str:
    """What an option accepts, as a config writer reads it: choices, or the kind of value
    ("a number", "[low, high]"); unset (null) is always allowed where the default is unset."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args if a != "")
    if origin in (typing.Union, types.UnionType):
        return " or ".join(option_values(a) for a in args)
    if origin is tuple and args == [int, int]:
        return "[low, high] (whole numbers)"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"a list of {option_values(args[0]).removeprefix('a ')}s"
    return PLAIN_TYPES.get(hint, getattr(hint, "__name__", str(hint)))


def _yaml(value: Any) -> str:
    """A default as it would be written in the config."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)
