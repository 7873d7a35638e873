"""Time one benchmark job from two source trees, runs alternated: the A/B of a change.

    git worktree add /tmp/before HEAD~1
    python benchmarks/ab.py /tmp/before . --job orders --runs 7

Each tree runs as `python -m cx_cli` with PYTHONPATH set to it, from a scratch folder:
`python -m` puts the current folder first on `sys.path`, so started from a checkout it would
time that checkout's code whatever PYTHONPATH says. Both trees are byte-compiled first (as
`pip install` leaves them). Prints each tree's median and fastest wall time and median peak
RSS, and exits 1 if the two reports' figures differ (value to 1e-9 relative, n exactly);
`tiny` is the start-up timing's 1,000-row survey report. Data from `generate.py`.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from generate import ORDER_ROWS, STARTUP_ROWS, SURVEY_ROWS, orders_path, survey_path
from run import CXKPI_ARGS, HERE, Sample, compare, cxkpi_figures, measure

JOB_FILES = {
    "survey": ("survey", lambda data: survey_path(data, SURVEY_ROWS)),
    "orders": ("orders", lambda data: orders_path(data, ORDER_ROWS)),
    "tiny": ("survey", lambda data: survey_path(data, STARTUP_ROWS)),
}


def tree_run(tree: Path, job: str, data: Path, out: Path) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run `job` with the cx_cli package of `tree`."""
    name, csv = JOB_FILES[job]
    config = HERE / f"{name}.yaml"
    args = CXKPI_ARGS[name].format(config=config, csv=csv(data), out=out).split()
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return [sys.executable, "-m", "cx_cli", *args], env


def summary(label: str, samples: Sequence[Sample]) -> str:
    median = statistics.median(s.seconds for s in samples)
    fastest = min(s.seconds for s in samples)
    rss = statistics.median(s.peak_rss_mb for s in samples)
    cpu = statistics.median(s.cpu_seconds for s in samples)
    return (
        f"{label}: median {median:.3f} s, fastest {fastest:.3f} s, CPU {cpu:.2f} s, "
        f"peak RSS {rss:.0f} MB"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="source tree A (holding cx_cli/)")
    parser.add_argument("b", type=Path, help="source tree B")
    parser.add_argument("--job", choices=sorted(JOB_FILES), default="survey")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each tree")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="generated CSV folder")
    args = parser.parse_args(argv)
    trees = [args.a.resolve(), args.b.resolve()]
    for tree in trees:
        if not (tree / "cx_cli" / "__init__.py").exists():
            parser.error(f"{tree}: holds no cx_cli package")
        compileall.compile_dir(tree / "cx_cli", quiet=1)
    with tempfile.TemporaryDirectory(prefix="cxkpi-ab-") as scratch:
        folder = Path(scratch)
        outs = [folder / "a.json", folder / "b.json"]
        runs = [
            tree_run(t, args.job, args.data.resolve(), o) for t, o in zip(trees, outs, strict=True)
        ]
        samples: list[list[Sample]] = [[], []]
        for turn in range(args.runs + 1):  # the first pair warms up, untimed
            for i in (0, 1) if turn % 2 else (1, 0):
                sample = measure(runs[i][0], cwd=folder, env=runs[i][1])
                if turn:
                    samples[i].append(sample)
        print(summary(f"A {trees[0]}", samples[0]))
        print(summary(f"B {trees[1]}", samples[1]))
        differences = compare(cxkpi_figures(outs[0]), cxkpi_figures(outs[1]))
    for line in differences[:20]:
        print(line.replace("cxkpi", "A").replace("DuckDB", "B"))
    print("figures agree" if not differences else f"{len(differences)} figures differ")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
