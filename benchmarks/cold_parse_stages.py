"""Where a scheduler's cold parse of a routine spends its time, stage by stage.

A cold parse (the parse cache empty: the input's first parse) validates the routine and
records it valid (``lakeroutine.parse_steps``). This script runs that path in fresh
processes after ``import airflow.sdk`` and a first ``DAG()`` (``airflow``) or ``import
dagster`` and its first full collection (``dagster``), on the routine the integration's
benchmark writes (``airflow_parse.py``: DuckDB and Athena ``run_query`` blocks;
``dagster_definitions.py``: staging, then DuckDB ``create_table`` + ``run_query``), and
times each stage in CPU milliseconds, in the order a parse meets them (a module imported by
an earlier stage is not paid again by a later one), then what the integration builds
(Airflow's operators, Dagster's job). A last process counts the classes the parse creates:
pydantic models and dataclasses (each compiles code when its module is imported), with the
milliseconds spent creating them. Medians of ``--repeat`` processes; bytecode written and
used, as after a pip install. It measures; it sets no target (the two benchmarks do).

    .venv/bin/python benchmarks/cold_parse_stages.py airflow|dagster [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

PROBE = r"""
import importlib, json, os, sys, time
integration, count = sys.argv[1], sys.argv[2] == "count"
if integration == "airflow":
    import airflow.sdk
    airflow.sdk.DAG("first_dag", schedule=None)
else:
    import dagster, gc
    gc.collect()
created = {"pydantic models": [0, 0.0], "dataclasses": [0, 0.0]}
if count:  # wrap class creation: what each kind costs the parse
    import dataclasses
    from pydantic._internal import _model_construction
    def timed(kind, function, outer=[0]):
        def wrapper(*args, **kwargs):
            outer[0] += 1
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                outer[0] -= 1
                if outer[0] == 0:
                    created[kind][0] += 1
                    created[kind][1] += (time.process_time() - start) * 1e3
        return wrapper
    meta = _model_construction.ModelMetaclass
    meta.__new__ = timed("pydantic models", meta.__new__)
    dataclasses._process_class = timed("dataclasses", dataclasses._process_class)
clock = time.process_time
stages, last = {}, [clock()]
def stage(label):
    now = clock()
    stages[label] = stages.get(label, 0.0) + (now - last[0]) * 1e3
    last[0] = now
start = last[0]
for name in ("lakeroutine.errors", "lakeroutine.steps", "lakeroutine.parse_cache",
             "lakeroutine.validation_inputs", "lakeroutine.parse_steps"):
    importlib.import_module(name)
stage("import the parse's modules")
import hashlib
from pathlib import Path
from lakeroutine.parse_cache import ParseCache
from lakeroutine.steps import decode_data, steps_of
from lakeroutine import validation_inputs as inputs
path = Path("routine.json").resolve()
raw = path.read_bytes()
data = decode_data(path, raw)
cache = ParseCache.open()
name = cache.sign(["input", str(path), hashlib.sha256(raw).hexdigest(), {}, inputs.installed()])
stage("read, parse and key the file (installed() included)")
for name_ in ("lakeroutine.executor", "lakeroutine.storage.registry",
              "lakeroutine.state.registry", "lakeroutine.plugins"):
    importlib.import_module(name_)
stage("import plugin loading (executor, storage, state, plugins)")
from lakeroutine import plugins
from lakeroutine.entry_points import scan
found = scan((plugins.ENTRY_POINT_GROUP,))
stage("entry-point scan")
for ep in found.group(plugins.ENTRY_POINT_GROUP):
    ep.load()
importlib.import_module("lakeroutine.builtin")
stage("import the plugin modules")
recording = inputs.RecordingEnv(os.environ)
inputs.start_recording_files()
plugins.entry_points_scan = lambda *wanted: found
registry = plugins.load_plugins(env=recording)
stage("register the plugins (pluggy)")
for name_ in ("lakeroutine.lineage", "lakeroutine.context", "lakeroutine.redact",
              "lakeroutine.variables", "lakeroutine.routine"):
    importlib.import_module(name_)
stage("import validation (routine, context, lineage, variables)")
used = list(dict.fromkeys(
    block.get("executor") or key for key, block in data["executors"].items()))
for executor in used:
    registry.executors[executor].cls
    stage(f"import {executor}")
from lakeroutine import routine as routine_module
for model in (routine_module.RoutineFile, routine_module.ExecutorBlock, routine_module.TaskEntry):
    model.model_rebuild()
named = {item if isinstance(item, str) else item["task"]
         for block in data["executors"].values() for item in block["tasks"]}
for executor in used:
    registry.executors[executor].cls.Params.model_rebuild()
    for task_name, definition in registry.tasks_of(executor).items():
        if task_name in named and definition.args_model is not None:
            definition.args_model.model_rebuild()
stage("build the models used (pydantic schemas)")
routine = routine_module.validate_routine(
    path, registry=registry, env=recording, content=data)
opened = inputs.stop_recording_files()
stage("validate the routine")
steps = steps_of(routine)
stage("steps")
from lakeroutine.parse_steps import _record
_record(cache, name, path, routine, steps, recording, opened)
stage("record it valid (paths, HMACs, write)")
parse = (clock() - start) * 1e3
if integration == "airflow":
    from lakeroutine_airflow import dag as dags
    with airflow.sdk.DAG("stages", schedule=None) as dag:
        dags._add_steps(dag, path, steps, None, False, None, routine.name)
    stage(f"build {len(steps)} Airflow operators")
else:
    from lakeroutine_dagster import definitions
    definitions.load_steps = lambda *args: (routine.name, steps)  # the job only: loaded above
    definitions.routine_definitions(path).get_job_def(routine.name)
    stage("build the Dagster job")
print(json.dumps({"stages": stages, "parse": parse, "created": created}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("integration", choices=("airflow", "dagster"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tasks", type=int, default=200)
    options = parser.parse_args()
    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        if options.integration == "airflow":
            import airflow_parse

            routine = airflow_parse.routine(options.tasks, 20)
            (home / "routine.json").write_text(json.dumps(routine))
        else:
            import dagster_definitions

            dagster_definitions.write_routine(home, options.tasks)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env |= {"AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        runs = []
        for number in range(options.repeat + 2):  # the first writes bytecode; the last counts
            env["LAKEROUTINE_PARSE_CACHE"] = str(home / f"cache-{number}")  # empty: cold
            count = "count" if number == options.repeat + 1 else "time"
            out = subprocess.run(
                [sys.executable, "-c", PROBE, options.integration, count],
                cwd=home,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    timed, counted = runs[1:-1], runs[-1]
    print(
        f"{options.integration}: cold parse of {options.tasks} tasks, {options.repeat} fresh "
        f"processes, CPU ms (medians), load average {os.getloadavg()[0]:.1f}"
    )
    for label in timed[0]["stages"]:
        print(f"  {label:<62}{statistics.median(r['stages'][label] for r in timed):8.2f}")
    total = statistics.median(r["parse"] for r in timed)
    print(f"  {'the parse (lakeroutine), total':<62}{total:8.2f}")
    for kind, (number, ms) in counted["created"].items():
        print(f"  classes created by the parse: {number} {kind}, {ms:.1f} ms (one process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
