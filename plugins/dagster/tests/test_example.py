"""examples/dagster runs as documented, with Dagster's own command line: ``dagster job
execute`` (the default multiprocess executor: each op in its own process) and ``dagster
definitions validate`` (what ``dagster dev`` does when it loads a code location)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def copy_examples(tmp_path: Path) -> Path:
    """The quickstart and the Dagster example, side by side as in the repository."""
    for name in ("quickstart", "dagster"):
        shutil.copytree(
            EXAMPLES / name, tmp_path / name, ignore=shutil.ignore_patterns("lake", "*.duckdb")
        )
    (tmp_path / "home").mkdir()
    return tmp_path


def dagster(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAGSTER_HOME": str(folder / "home")}
    return subprocess.run(
        [DAGSTER, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


def run_events(home: Path) -> tuple[set[str], list[str]]:
    """The steps that succeeded in the one run stored under ``home``, and its log messages."""
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        records = instance.all_logs(run.run_id)
    successes = {
        r.step_key
        for r in records
        if r.dagster_event and r.dagster_event.event_type == DagsterEventType.STEP_SUCCESS
    }
    return successes, [r.user_message for r in records]


@pytest.mark.slow
def test_dagster_job_execute_runs_the_quickstart(tmp_path):
    folder = copy_examples(tmp_path)
    landed = subprocess.run([sys.executable, str(folder / "quickstart" / "land_files.py")])
    assert landed.returncode == 0
    done = dagster(
        folder, "job", "execute", "-f", "dagster/definitions.py", "-j", "quickstart_sales"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Read from the run's event log in DAGSTER_HOME: the console's copy of the step processes'
    # lines can stop short when the run ends (seen under pytest-xdist), the stored log cannot.
    successes, messages = run_events(folder / "home")
    assert successes == {
        "StagingExecutor__transfer",
        "StagingExecutor__post_staging",
        "sales_tables__create_table",
        "sales_tables__run_query",
    }
    log = done.stdout + done.stderr + "\n".join(messages)
    assert "task StagingExecutor.transfer started" in log  # lakeroutine's own lines
    lake = folder / "quickstart" / "lake"
    assert len(list((lake / "staging" / "sales").iterdir())) == 3
    assert len(list((lake / "landing" / "sales_archive").iterdir())) == 3
    assert (lake / "reports" / "revenue_by_job.csv").read_text().startswith("job,sales,revenue")


@pytest.mark.slow
def test_dagster_loads_the_example_and_shows_an_invalid_routine_at_load(tmp_path):
    folder = copy_examples(tmp_path)
    valid = dagster(folder, "definitions", "validate", "-f", "dagster/definitions.py")
    assert valid.returncode == 0, valid.stderr[-3000:]

    routine = (folder / "quickstart" / "routine.json").read_text()
    (folder / "quickstart" / "bad.json").write_text(routine.replace('"archive"', '"archiv"'))
    defs = (folder / "dagster" / "definitions.py").read_text()
    (folder / "dagster" / "bad.py").write_text(defs.replace("routine.json", "bad.json"))
    invalid = dagster(folder, "definitions", "validate", "-f", "dagster/bad.py")
    assert invalid.returncode != 0
    bad = folder / "quickstart" / "bad.json"
    assert (
        f"RoutineError: {bad}, executor 'StagingExecutor', field 'params.archive_or_delete': "
        "Input should be 'archive' or 'delete'"
    ) in invalid.stdout + invalid.stderr
