"""The same routine run from the CLI, from Airflow (``airflow dags test``, real Airflow 3) and
from Dagster (``execute_in_process``, real Dagster) sends the same events: same jobs, runs,
parents, datasets and facets, apart from times and run ids, and under Airflow a root run
naming Airflow's DAG run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from lr_openlineage_helpers import read_events, validate_event

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
STEPS = [
    "StagingExecutor.transfer",
    "StagingExecutor.post_staging",
    "sales_tables.create_table",
    "sales_tables.run_query",
]


class Quickstart:
    """One copy of the quickstart, landed afresh before each run, so every run touches the
    same datasets under the same names; each run has its own state and events file."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.folder = tmp_path / "quickstart"
        shutil.copytree(EXAMPLES / "quickstart", self.folder, ignore=shutil.ignore_patterns("lake"))
        self.routine = self.folder / "routine.json"
        subprocess.run([sys.executable, str(self.folder / "land_files.py")], check=True)
        self.landed = tmp_path / "landed"  # the same files for every run (they are random)
        shutil.copytree(self.folder / "lake", self.landed)

    def prepare(self, name: str) -> dict[str, str]:
        """Land the same files again; the variables that send run ``name``'s events to its file."""
        shutil.rmtree(self.folder / "lake", ignore_errors=True)
        shutil.copytree(self.landed, self.folder / "lake")
        config = self.tmp / f"{name}.yml"
        config.write_text(
            f"transport:\n  type: file\n  log_file_path: {self.events(name)}\n  append: true\n"
        )
        return {
            "OPENLINEAGE_CONFIG": str(config),
            "LAKEROUTINE_STATE_DIR": str(self.tmp / f"state-{name}"),
        }

    def events(self, name: str) -> Path:
        return self.tmp / f"{name}.jsonl"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENLINEAGE", "AIRFLOW"))}
    return {**env, **extra}


def run_cli(quickstart: Quickstart) -> list[dict[str, Any]]:
    env = clean_env(**quickstart.prepare("cli"))
    command = [sys.executable, "-m", "lakeroutine.cli", "run", str(quickstart.routine)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return read_events(quickstart.events("cli"))


def run_airflow(quickstart: Quickstart) -> list[dict[str, Any]]:
    home = quickstart.tmp / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / "lineage_compare.py").write_text(
        textwrap.dedent(
            f"""
            import datetime as dt

            from lakeroutine_airflow import routine_dag

            dag = routine_dag(
                {str(quickstart.routine)!r},
                dag_id="lineage_compare",
                schedule=None,
                start_date=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
            )
            """
        )
    )
    env = clean_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        **quickstart.prepare("airflow"),
    )
    airflow = [sys.executable, "-m", "airflow"]
    migrate = subprocess.run([*airflow, "db", "migrate"], env=env, capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    done = subprocess.run(
        [*airflow, "dags", "test", "lineage_compare", "2026-11-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0 and "state=success" in log, log[-3000:]
    return read_events(quickstart.events("airflow"))


def run_dagster(quickstart: Quickstart, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from lakeroutine_dagster import routine_definitions

    for name, value in quickstart.prepare("dagster").items():
        monkeypatch.setenv(name, value)
    defs = routine_definitions(quickstart.routine)
    result = defs.get_job_def("quickstart_sales").execute_in_process()
    assert result.success
    return read_events(quickstart.events("dagster"))


def normalised(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The events without their times, run ids replaced by their order of appearance, and
    the parent facets' roots taken out (returned apart)."""
    tokens: dict[str, str] = {}

    def token(run_id: str) -> str:
        uuid.UUID(run_id)  # a valid UUID, whatever the scheduler
        return tokens.setdefault(run_id, f"run-{len(tokens)}")

    roots = []
    result = []
    for event in events:
        event = {k: v for k, v in event.items() if k != "eventTime"}
        event["run"] = {**event["run"], "runId": token(event["run"]["runId"])}
        facets = dict(event["run"]["facets"])
        parent = dict(facets["parent"])
        roots.append(parent.pop("root", None))
        parent["run"] = {**parent["run"], "runId": token(parent["run"]["runId"])}
        facets["parent"] = parent
        event["run"]["facets"] = facets
        result.append(event)
    return result, roots


@pytest.mark.slow
def test_cli_airflow_and_dagster_send_the_same_events(tmp_path, monkeypatch):
    quickstart = Quickstart(tmp_path)
    cli, cli_roots = normalised(run_cli(quickstart))
    airflow, airflow_roots = normalised(run_airflow(quickstart))
    dagster, dagster_roots = normalised(run_dagster(quickstart, monkeypatch))

    assert [(e["job"]["name"], e["eventType"]) for e in cli] == [
        (f"quickstart_sales.{step}", kind) for step in STEPS for kind in ("START", "COMPLETE")
    ]
    assert airflow == cli
    assert dagster == cli
    for event in [*read_events(quickstart.events("airflow"))]:
        validate_event(event)

    assert cli_roots == dagster_roots == [None] * 8
    # under Airflow, the routine's run sits under Airflow's DAG run: one root for all
    assert len({str(root) for root in airflow_roots}) == 1
    root = airflow_roots[0]
    assert root["job"] == {"namespace": "lakeroutine", "name": "lineage_compare", "facets": {}}
    uuid.UUID(root["run"]["runId"])
