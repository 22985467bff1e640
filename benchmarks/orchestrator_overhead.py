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
import logging
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

TARGET_US = 50.0


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


def best_of(repeat: int, function: Callable[[], Any]) -> tuple[float, float]:
    """(best, median) wall time of ``function`` in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def measure_orchestrator(registry: Registry, tasks: int, repeat: int) -> dict[str, tuple]:
    source = routine_of(tasks)

    def full() -> None:
        result = run_routine(source, registry=registry)
        assert result.status == "succeeded" and len(result.tasks) == tasks

    routine = validate_routine(source, registry=registry)

    def run_only() -> None:
        result = Orchestrator(routine, registry).run()
        assert result.status == "succeeded" and len(result.tasks) == tasks

    return {
        "run_routine (validation included)": best_of(repeat, full),
        "run only (validated routine)": best_of(repeat, run_only),
        "validation only": best_of(repeat, lambda: validate_routine(source, registry=registry)),
    }


def measure_bare_pluggy(tasks: int, repeat: int, with_impl: bool) -> tuple[float, float]:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    if with_impl:
        manager.register(ObserverPlugin())
    hook = manager.hook

    def calls() -> None:
        for _ in range(tasks):
            hook.task_started(routine=None, ctx=None)
            hook.task_finished(routine=None, ctx=None, result=None)

    return best_of(repeat, calls)


@contextlib.contextmanager
def info_logs_to_devnull() -> Any:
    """Log like ``lakeroutine run`` does (INFO, one line per event), into /dev/null."""
    logger = logging.getLogger("lakeroutine")
    with open(os.devnull, "w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
        saved = logger.handlers[:], logger.level, logger.propagate
        logger.handlers[:], logger.propagate = [handler], False
        logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            logger.handlers[:], logger.propagate = saved[0], saved[2]
            logger.setLevel(saved[1])  # setLevel, not assignment: it clears logging's cache


def report(label: str, timing: tuple[float, float], tasks: int) -> None:
    best, median = (t / tasks * 1e6 for t in timing)
    sys.stdout.write(f"  {label:<58} {best:9.2f} {median:9.2f}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="cProfile one run_routine")
    args = parser.parse_args(argv)

    plain = load_plugins(entry_points=False, plugins=[NoopPlugin()])
    observed = load_plugins(entry_points=False, plugins=[NoopPlugin(), ObserverPlugin()])

    sys.stdout.write(
        f"{args.tasks} no-op tasks, best of {args.repeat} (Python {sys.version.split()[0]}, "
        f"pluggy {pluggy.__version__})\n"
        f"  {'microseconds per task':<58} {'best':>9} {'median':>9}\n"
    )
    results = measure_orchestrator(plain, args.tasks, args.repeat)
    for label, timing in results.items():
        report(label, timing, args.tasks)
    for label, timing in measure_orchestrator(observed, args.tasks, args.repeat).items():
        if label != "validation only":
            report(f"{label}, with an observer", timing, args.tasks)
    with info_logs_to_devnull():
        for label, timing in measure_orchestrator(plain, args.tasks, args.repeat).items():
            if label != "validation only":
                report(f"{label}, INFO logs", timing, args.tasks)
    report(
        "bare pluggy: 2 hook calls, no impl",
        measure_bare_pluggy(args.tasks, args.repeat, False),
        args.tasks,
    )
    report(
        "bare pluggy: 2 hook calls, one impl each",
        measure_bare_pluggy(args.tasks, args.repeat, True),
        args.tasks,
    )

    full_us = results["run_routine (validation included)"][0] / args.tasks * 1e6
    verdict = "meets" if full_us < TARGET_US else "MISSES"
    sys.stdout.write(f"run_routine {verdict} the target of {TARGET_US:g} us per task\n")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_routine, routine_of(args.tasks), registry=plain)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0 if full_us < TARGET_US else 1


if __name__ == "__main__":
    sys.exit(main())
