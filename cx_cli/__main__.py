"""`python -m cx_cli` is the same as `cxkpi`."""

from cx_cli.launch import console

console()
