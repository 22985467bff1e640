"""What the orchestrator costs per task, next to the bare pluggy hook calls it makes.

A routine of N no-op tasks (1,000 by default) on one executor is run with a registry built
in code (no entry points), so only lakeroutine's own work is timed:

- ``run_routine``: validating the routine dict, then running it (what a user pays);
- ``run only``: ``Orchestrator.run`` on an already validated routine;
- the same two with an observer plugin implementing the task lifecycle hooks, and with
  INFO logs written (as the CLI does) to ``os.devnull``;
- bare pluggy: the two hook calls a task makes (``task_started``, ``task_finished``) on a
  plain ``PluginManager``, with and without one implementation: the floor of any
  pluggy-based runner.

Each figure is the best of ``--repeat`` runs, in microseconds per task. The target is under
50 us per task. ``--profile`` prints where the time of ``run_routine`` goes (cProfile).

    .venv/bin/python benchmarks/orchestrator_overhead.py [--tasks 1000] [--repeat 7] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pluggy
from lakeroutine import hookimpl, hookspecs
from lakeroutine.executor import Executor, task
from lakeroutine.orchestrator import Orchestrator, run_routine
from lakeroutine.plugins import Registry, load_plugins
from lakeroutine.routine import validate_routine

TARGET_US = 10.0  # a run's own cost per no-op task, in process
TARGET_LOGGED = 1.5  # the same with the CLI's INFO logging, at most this many times it


class NoopExecutor(Executor):
    """An executor whose one task does nothing: only the orchestration is left to time."""

    name = "NoopExecutor"

    @task
    def noop(self) -> dict[str, Any]:
        return {}


class NoopPlugin:
    """Registers the no-op executor."""

    @hookimpl
    def register_executors(self, register: Callable[[type], None]) -> None:
        register(NoopExecutor)


class ObserverPlugin:
    """A third-party observer: counts task starts and finishes."""

    def __init__(self) -> None:
        self.started = self.finished = 0

    @hookimpl
    def task_started(self, routine: Any, ctx: Any) -> None:
        self.started += 1

    @hookimpl
    def task_finished(self, routine: Any, ctx: Any, result: Any) -> None:
        self.finished += 1


def routine_of(tasks: int) -> dict[str, Any]:
    return {
        "routine_name": "overhead",
        "executors": {"NoopExecutor": {"tasks": ["noop"] * tasks}},
    }


def cpu_seconds(function: Callable[[], Any]) -> float:
    """CPU time of one call (CPU, not wall-clock: it holds on a machine that other work
    keeps busy)."""
    started = time.process_time()
    function()
    return time.process_time() - started


def orchestrator_cases(registry: Registry, tasks: int) -> dict[str, Callable[[], Any]]:
    """``run_routine`` (validation included), a run of a validated routine, validation."""
    source = routine_of(tasks)
    routine = validate_routine(source, registry=registry)

    def full() -> None:
        result = run_routine(source, registry=registry)
        assert result.status == "succeeded" and len(result.tasks) == tasks

    def run_only() -> None:
        result = Orchestrator(routine, registry).run()
        assert result.status == "succeeded" and len(result.tasks) == tasks

    return {
        "run_routine (validation included)": full,
        "run only (validated routine)": run_only,
        "validation only": lambda: validate_routine(source, registry=registry),
    }


def logged(function: Callable[[], Any]) -> Callable[[], Any]:
    """``function`` run with the CLI's INFO logging (into /dev/null)."""

    def call() -> Any:
        with info_logs_to_devnull():
            return function()

    return call


def bare_pluggy(tasks: int, with_impl: bool) -> Callable[[], Any]:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if with_impl:
        manager.register(ObserverPlugin())
    hook = manager.hook

    def calls() -> None:
        for _ in range(tasks):
            hook.task_started(routine=None, ctx=None)
            hook.task_finished(routine=None, ctx=None, result=None)

    return calls


def measure(cases: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Every case once per round, ``repeat`` rounds, the order reversed every other round
    (so a change in the machine's load falls on all of them alike)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_ in range(repeat + 1):
        for name in reversed(names) if round_ % 2 else names:
            took = cpu_seconds(cases[name])
            if round_:  # the first round warms up
                times[name].append(took)
    return times


@contextlib.contextmanager
def info_logs_to_devnull() -> Any:
    """Log as ``lakeroutine run`` does (its own logging set-up: INFO, its handler, format
    and redacting filter, a line per event), into /dev/null instead of stderr."""
    from lakeroutine.cli import _cli_logging

    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stderr(sink),
        _cli_logging(debug=False, quiet=False),
    ):
        yield


ANCHOR = "bare pluggy: 2 hook calls, no impl"
RUN_ONLY = "run only (validated routine)"
RUN_ONLY_LOGGED = "run only (validated routine), INFO logs (as the CLI)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--profile", action="store_true", help="cProfile one run_routine")
    args = parser.parse_args(argv)

    plain = load_plugins(entry_points=False, plugins=[NoopPlugin()])
    observed = load_plugins(entry_points=False, plugins=[NoopPlugin(), ObserverPlugin()])
    cases = {ANCHOR: bare_pluggy(args.tasks, False)}
    cases["bare pluggy: 2 hook calls, one impl each"] = bare_pluggy(args.tasks, True)
    cases.update(orchestrator_cases(plain, args.tasks))
    for name, case in orchestrator_cases(observed, args.tasks).items():
        if name != "validation only":
            cases[f"{name}, with an observer"] = case
    for name, case in orchestrator_cases(plain, args.tasks).items():
        if name != "validation only":
            cases[f"{name}, INFO logs (as the CLI)"] = logged(case)
    times = measure(cases, args.repeat)

    per_task = {name: [t / args.tasks * 1e6 for t in runs] for name, runs in times.items()}
    sys.stdout.write(
        f"{args.tasks} no-op tasks, {args.repeat} rounds, every case once a round, CPU time "
        f"(Python {sys.version.split()[0]}, pluggy {pluggy.__version__}, load average "
        f"{os.getloadavg()[0]:.1f})\n"
        f"  {'microseconds per task':<58} {'best':>7} {'median':>7} {'x anchor':>9}\n"
    )
    for name, values in per_task.items():
        ratio = statistics.median(v / a for v, a in zip(values, per_task[ANCHOR], strict=True))
        sys.stdout.write(
            f"  {name:<58} {min(values):7.2f} {statistics.median(values):7.2f} {ratio:8.1f}x\n"
        )
    run_us = statistics.median(per_task[RUN_ONLY])
    logged_ratio = statistics.median(
        v / a for v, a in zip(per_task[RUN_ONLY_LOGGED], per_task[RUN_ONLY], strict=True)
    )
    ok = run_us <= TARGET_US and logged_ratio <= TARGET_LOGGED
    sys.stdout.write(
        f"run only: {run_us:.2f} us per task (target <= {TARGET_US:g}); with the CLI's INFO "
        f"logs {logged_ratio:.2f}x that, paired (target <= {TARGET_LOGGED:g}x): "
        f"{'met' if ok else 'MISSED'}\n"
    )

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_routine, routine_of(args.tasks), registry=plain)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
