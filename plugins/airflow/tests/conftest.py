"""Real Airflow 3 for lakeroutine-airflow's tests: a throwaway AIRFLOW_HOME with a migrated
SQLite database and a dags folder the tests write DAG files into, and ``run_dag`` running a
DAG through ``dag.test()`` (tasks and triggers in this process, so moto's server here can
steer Athena). Airflow is imported on first use, and these tests run after the others:
importing Airflow configures logging for the whole process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HOME = Path(tempfile.mkdtemp(prefix="lakeroutine-airflow-"))
DAGS = HOME / "dags"
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
}
os.environ.update(AIRFLOW_ENV)  # before anything imports airflow
sys.path.insert(0, str(Path(__file__).parent))  # lr_airflow_routines, shared by the tests


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run Airflow's tests last: importing Airflow reconfigures logging process-wide."""
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(str(item.path)).parents]
    others = [item for item in items if item not in mine]
    items[:] = others + mine


def pytest_sessionfinish() -> None:
    shutil.rmtree(HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow database (about 5 s); returns the dags folder."""
    DAGS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **AIRFLOW_ENV},
        check=True,
        capture_output=True,
    )
    import airflow.dag_processing.dagbag  # noqa: F401 - configures logging now, not mid-test

    return DAGS


class DagFiles:
    """DAG files in Airflow's dags folder, and running them with ``dag.test()``."""

    def __init__(self, dags: Path) -> None:
        self.dags = dags

    def write(self, name: str, source: str) -> Path:
        path = self.dags / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def load(self, dag_id: str) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(self.dags))
        assert not bag.import_errors, bag.import_errors
        return bag.dags[dag_id]

    def test(self, dag_id: str, **kwargs: Any) -> Any:
        """Run the DAG once with ``dag.test()``; return its DagRun (not raising on failure)."""
        return self.load(dag_id).test(**kwargs)

    def xcoms(self, dag_run: Any, key: str = "return_value") -> dict[str, Any]:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(XComModel).filter(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.key == key,
            )
            return {row.task_id: XComModel.deserialize_value(row) for row in rows}

    def task_instances(self, dag_run: Any) -> dict[str, Any]:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(TaskInstance).filter(
                TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id
            )
            return {ti.task_id: (ti.state, ti.try_number) for ti in rows}


@pytest.fixture
def dag_files(airflow_db: Path) -> Iterator[DagFiles]:
    """The dags folder, emptied after each test (dag.test() re-parses all of it)."""
    yield DagFiles(airflow_db)
    for path in airflow_db.glob("*.py"):
        path.unlink()
