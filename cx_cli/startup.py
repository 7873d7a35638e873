"""Garbage collection paused while a command loads its modules.

Importing Typer, pydantic, pyarrow and pandas creates some 80,000 lasting objects, and
Python's cyclic collector runs about 200 times while they load, scanning the young ones, and
now and then all of them: 35 ms of a 0.6 s report on a 1,000-row file (measured with
`gc.callbacks`: 194 young, 18 middle and 1 full collection). The console script pauses collection
as it starts (`pause_collection`); the code that starts a long piece of work calls
`modules_loaded` once the modules it needs are in (the reader, after its first frame; the
Dask engine, before it connects), which freezes what was loaded, so that later collections
skip it, and resumes collection, so that memory stays bounded on a long read. Short commands
(help, `kpis`, `init`) end before that point and exit without a collection.

Code that imports cx_cli as a library never pauses collection, and `modules_loaded` then
does nothing.

The console script also keeps OpenBLAS, numpy's linear algebra, to one thread
(`one_blas_thread`). cxkpi does no linear algebra, but OpenBLAS starts a thread per core as
numpy loads and keeps them spinning for a while: ~0.1 s of CPU on every run (a report on
1,000 rows: 0.76 -> 0.65 s of CPU; its wall time moved less than the host's noise), CPU that
a cron host or the reader's parse gets back. A value the user set is kept; child processes
(Dask's local workers) inherit it, as Dask would set it for them anyway.
"""

from __future__ import annotations

import gc
import os

_paused = False


def pause_collection() -> None:
    """Stop cyclic garbage collection until `modules_loaded` (the console script's start)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def modules_loaded() -> None:
    """Resume collection paused by `pause_collection`, leaving what is loaded out of it."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def one_blas_thread() -> None:
    """One OpenBLAS thread, unless OPENBLAS_NUM_THREADS is set (before numpy loads)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
