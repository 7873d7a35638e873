"""cxkpi: customer-experience KPIs from CSV exports, with exact definitions and uncertainty.

The library works without the CLI::

    from cx_cli import load_config, run, render
    report = run(load_config("cxkpi.yaml"))
    print(render(report, "json"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cx_cli.config import Config
    from cx_cli.report import Report

# Bound eagerly: a lazy wrapper named `render` would be shadowed by the `cx_cli.render`
# subpackage as soon as it is imported. The subpackage itself imports nothing heavy.
from cx_cli.render import render

__all__ = ["__version__", "load_config", "render", "run"]


def load_config(path: Any, **overrides: Any) -> Config:
    """Read and validate a YAML config file (see `cx_cli.config.load_config`)."""
    from cx_cli.config import load_config as _load

    return _load(path, **overrides)


def run(config: Config, **options: Any) -> Report:
    """Compute the configured KPIs and return a Report (see `cx_cli.analysis.run`)."""
    from cx_cli.analysis import run as _run

    return _run(config, **options)
