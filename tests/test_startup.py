"""What the console script sets as it starts (`cx_cli.startup`): garbage collection paused
while a command loads its modules, and one OpenBLAS thread."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cx_cli import launch, load_config, run, startup
from tests.conftest import survey_config, write_config


@pytest.fixture
def collection_restored() -> Iterator[None]:
    """Whatever a test does to the collector, the next test finds it as Python starts it."""
    yield
    startup._paused = False
    gc.unfreeze()
    gc.enable()


def test_the_console_script_runs_its_command_with_collection_paused(
    collection_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []
    monkeypatch.setattr(launch, "main", lambda: seen.append(gc.isenabled()))
    monkeypatch.setattr(launch, "exit_now", lambda code: None)  # stay in the test process
    launch.console()
    assert seen == [False]


def test_a_read_resumes_collection_once_its_first_frame_is_clean(
    collection_restored: None, tiny_survey: Path, tmp_path: Path
) -> None:
    config = load_config(write_config(tmp_path, survey_config(tiny_survey, kpis=["nps"])))
    startup.pause_collection()
    assert not gc.isenabled()
    report = run(config)
    assert report.results  # the read happened
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what start-up loaded is left out of later collections


def test_library_use_leaves_the_collector_as_the_caller_set_it(
    collection_restored: None, tiny_survey: Path, tmp_path: Path
) -> None:
    config = load_config(write_config(tmp_path, survey_config(tiny_survey, kpis=["nps"])))
    gc.disable()  # the caller's own choice, not cxkpi's pause
    run(config)
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


def _blas_setting_seen_by_a_command(env_value: str | None) -> str:
    """OPENBLAS_NUM_THREADS as a `cxkpi` command sees it, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if env_value is not None:
        env["OPENBLAS_NUM_THREADS"] = env_value
    code = (
        "import os\n"
        "from cx_cli import launch\n"
        "launch.main = lambda: print(os.environ.get('OPENBLAS_NUM_THREADS'))\n"
        "launch.console()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_console_script_keeps_openblas_to_one_thread() -> None:
    assert _blas_setting_seen_by_a_command(None) == "1"


def test_the_console_script_keeps_a_blas_thread_count_the_user_set() -> None:
    assert _blas_setting_seen_by_a_command("4") == "4"


def test_library_use_leaves_the_blas_setting_alone(
    monkeypatch: pytest.MonkeyPatch, tiny_survey: Path, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    run(load_config(write_config(tmp_path, survey_config(tiny_survey, kpis=["nps"]))))
    assert "OPENBLAS_NUM_THREADS" not in os.environ
