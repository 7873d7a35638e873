"""`python -m cx_cli` is the same as `cxkpi`."""

from cx_cli.cli import main

main()
