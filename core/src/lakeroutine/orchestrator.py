"""Running a validated routine: executors in file order, tasks in listed order.

Stops at the first failure unless ``keep_going`` (then the failed executor's remaining
tasks are skipped and the next executor runs: its later tasks may depend on the failed one).
Retries as each task asks, enforces ``timeout_s``, and on Ctrl-C/SIGTERM cancels the
AWS-side work the running task registered. Logs; never prints.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lakeroutine import console
from lakeroutine.context import (
    ProgressFactory,
    RunContext,
    TaskCancelled,
    TaskContext,
    no_progress,
)
from lakeroutine.errors import PluginError, RoutineError, TaskError, TaskRefused, TaskTimeout
from lakeroutine.redact import Redactor, guard_loggers
from lakeroutine.results import (
    CANCELLED,
    DEFERRED,
    FAILED,
    PLANNED,
    REFUSED,
    SKIPPED,
    SUCCEEDED,
    RunResult,
    TaskResult,
)
from lakeroutine.routine import ExecutorStep, Routine, TaskStep, select_steps, validate_routine
from lakeroutine.service_errors import service_error_text
from lakeroutine.state.base import RUN_SCOPE, RunLock, StateError
from lakeroutine.state.lock import this_process
from lakeroutine.waiting import WaitPending

if TYPE_CHECKING:
    import datetime

    from lakeroutine.executor import Executor
    from lakeroutine.plugins import Registry
    from lakeroutine.waiting import Deferral

log = logging.getLogger("lakeroutine.run")
DAY_S = 24 * 3600.0  # how long wait_for_lock=True waits at most


def describe_error(exc: BaseException) -> str:
    """One line for the report: our own errors as they are, others with their type (a
    service's answer cut to status, code and a short message: never a raw HTML/XML body)."""
    if isinstance(exc, (TaskError, RoutineError)):
        return str(exc)
    return f"{type(exc).__name__}: {service_error_text(exc)}"


class Orchestrator:
    """Runs one validated routine with the plugins of one registry."""

    def __init__(
        self,
        routine: Routine,
        registry: Registry,
        *,
        progress_factory: ProgressFactory = no_progress,
    ) -> None:
        self.routine = routine
        self.registry = registry
        self.hook = registry.hook
        self.redactor = Redactor(routine.secrets)
        guard_loggers(["lakeroutine"])  # its records are masked for any handler, not the CLI's
        self.context = RunContext(
            routine_name=routine.name,
            run_id=routine.run_id,
            run_date=routine.run_date,
            base_dir=routine.base_dir,
            state_dir=routine.state_dir,
            storages=registry.storages(),
            redactor=self.redactor,
            progress_factory=progress_factory,
            state_store=(
                registry.state_stores().open(routine.state_url, routine.name)
                if routine.state_url
                else None
            ),
        )
        self._retries, self._preflight = True, True
        self._deferral: Deferral | None = None
        self._say: Callable[..., None] = log.info

    def preflight(self, *, only: list[str] | None = None, offline: bool = False) -> list[str]:
        """Build each executor and run its read-only preflight checks, then close them: what
        ``validate`` and ``--dry-run`` do. ``offline`` skips the executors whose checks need
        the network; their names are returned. Raises RoutineError as ``run`` would."""
        steps = select_steps(self.routine, only)
        skipped = [s.instance for s in steps if offline and s.cls.needs_network(s.params)]
        self._close(self._build_executors([s for s in steps if s.instance not in skipped]))
        return skipped

    def run(
        self,
        *,
        only: list[str] | None = None,
        keep_going: bool = False,
        dry_run: bool = False,
        offline: bool = False,
        wait_for_lock: bool | float = False,
        steps: Sequence[str | int] | None = None,
        retries: bool = True,
        preflight: bool = True,
        deferral: Deferral | None = None,
    ) -> RunResult:
        """Run the routine, or the blocks and tasks ``only`` names, or exactly the ``steps``
        (ids or positions, :mod:`lakeroutine.steps`). ``dry_run``: only the preflight
        checks, tasks listed as planned. ``retries=False``: one attempt per task, whatever
        its ``retries`` (a scheduler retries); ``preflight=False`` skips the executors'
        preflight checks; ``deferral``: hand long waits to a scheduler
        (:mod:`lakeroutine.waiting`)."""
        if steps is not None:
            from lakeroutine.steps import pick_steps

            if only:
                raise RoutineError("give either only= or steps=, not both")
            selected = pick_steps(self.routine, steps)
        else:
            selected = select_steps(self.routine, only)
        self._retries, self._preflight, self._deferral = retries, preflight, deferral
        # a scheduler's probe of a deferred wait runs every few seconds: its lines are debug;
        # under the CLI, a task's lines go straight to its console (lakeroutine.console)
        probe = deferral is not None and deferral.probe
        self._say = log.debug if probe else console.info_writer() or log.info
        started = time.perf_counter()
        result = RunResult(
            self.routine.name,
            self.routine.run_id,
            SUCCEEDED,
            dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        )
        if dry_run:
            self.preflight(only=only, offline=offline)
            result.status = PLANNED
            result.tasks = [
                TaskResult(step.instance, task.name, PLANNED, step=task.step_id)
                for step in selected
                for task in step.tasks
            ]
            return result

        what = self._what(steps, selected)
        lock = self._take_lock(result, wait_for_lock)
        executors: dict[str, Executor] = {}
        begun = False
        try:
            if steps is not None:
                self._check_steps_unchanged(selected)
            executors = self._build_executors(selected)
            self._say("%s started (run %s)", what, self.routine.run_id)
            begun = True
            self._notify("routine_started", routine=self.routine, run_id=self.routine.run_id)
            self._run_steps(selected, executors, result, keep_going)
        except PluginError:
            result.status = FAILED
            raise
        except RoutineError:  # a preflight check refused the run: nothing ran
            result.status = REFUSED
            raise
        finally:
            self._close(executors)
            self._let_go(lock, result)
            result.duration_s = time.perf_counter() - started
            self._log_end(what, result)
            if begun:  # a refused run never started: no routine_finished either
                try:
                    self._notify("routine_finished", routine=self.routine, result=result)
                except PluginError as exc:
                    log.error("%s", exc)
        return result

    def _check_steps_unchanged(self, selected: list[ExecutorStep]) -> None:
        """A scheduler runs one run's steps one by one, each reading the routine file again:
        the first step of a run records what each step id names; a later step whose id now
        names another task (the file changed: a task inserted before a duplicate ``#n``) is
        refused rather than run in place of the one the scheduler shows."""
        state = self.context.state
        current = {t.step_id: t.digest for block in self.routine.steps for t in block.tasks}
        record = state.get_values(RUN_SCOPE).get("steps")
        if not isinstance(record, dict) or record.get("run_id") != self.routine.run_id:
            state.set_value(RUN_SCOPE, "steps", {"run_id": self.routine.run_id, "of": current})
            return
        began = record.get("of") or {}
        for task in (t for block in selected for t in block.tasks):
            then = began.get(task.step_id)
            if then is None or then == task.digest:
                continue  # a step added since, or unchanged
            now_at = [step_id for step_id, d in current.items() if d == then]
            where = f"; the task it named is now step {now_at[0]!r}" if now_at else ""
            raise RoutineError(
                f"step {task.step_id!r} names another task than when run "
                f"{self.routine.run_id} began: the routine file changed since{where}. "
                "Refused: the scheduler shows the step as it was. Restore the file to end "
                "this run, or start a new run",
                file=self._file_label(),
            )

    def _what(self, steps: Sequence[str | int] | None, selected: list[ExecutorStep]) -> str:
        """How the log names this run: the routine, or the step a scheduler runs of it."""
        if steps is None:
            return f"routine {self.routine.name}"
        ids = [task.step_id for block in selected for task in block.tasks]
        noun = "step" if len(ids) == 1 else "steps"
        return f"{noun} {', '.join(ids)} (routine {self.routine.name})"

    def _log_end(self, what: str, result: RunResult) -> None:
        """The run's last line: its status and counts; a refused run says nothing ran."""
        level = logging.INFO if result.status == SUCCEEDED else logging.WARNING
        if self._say == log.debug:
            level = logging.DEBUG
        if result.status == REFUSED:
            log.log(level, "%s refused before its first task: nothing ran", what)
            return
        log.log(level, "%s %s: %s", what, result.status, result.summary())

    def _take_lock(self, result: RunResult, wait: bool | float) -> RunLock:
        """Hold the routine's run lock (LockHeld, nothing run, if another run holds it,
        after waiting ``wait`` seconds, or a day if True; StateError if the store cannot be
        used) and note the run in the state."""
        state = self.context.state
        lock = state.run_lock()
        lock.acquire(
            this_process(self.routine.run_id),
            wait_s=0.0 if wait is False else DAY_S if wait is True else float(wait),
            on_lost=self.context.cancel_event.set,
        )
        try:
            state.set_value(RUN_SCOPE, "last", self._run_record(result, "running"))
        except BaseException:
            lock.release()
            state.close()
            raise
        return lock

    def _let_go(self, lock: RunLock, result: RunResult) -> None:
        state = self.context.state
        try:
            if lock.lost():
                log.error("the run lock on %s was lost: the run stopped", state.where)
                result.status = FAILED  # its last writes may not have been saved
            else:
                state.set_value(RUN_SCOPE, "last", self._run_record(result, result.status))
                state.checkpoint()
        except StateError as exc:
            log.error("%s", self.redactor(str(exc)))
            result.status = FAILED  # state not saved: a rerun may redo work, never exit 0
        finally:
            lock.release()
            state.close()

    def _run_record(self, result: RunResult, status: str) -> dict[str, Any]:
        return {
            "run_id": self.routine.run_id,
            "started": result.started_at,
            "status": status,
            "finished": None
            if status == "running"
            else dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }

    def _close(self, executors: dict[str, Executor]) -> None:
        for executor in executors.values():
            try:
                executor.close()
            except Exception as exc:
                log.warning("closing %s failed: %s", executor.name, self.redactor(str(exc)))

    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook; an exception in a plugin's implementation becomes a
        PluginError that names the plugin and its distribution. A scheduler's probe of a
        deferred wait is not a run: it calls none."""
        if self._deferral is not None and self._deferral.probe:
            return
        caller = getattr(self.hook, hook_name)
        if not (self.registry.tracing or caller.get_hookimpls()):
            return  # no plugin implements it: pluggy's call would do nothing, slower
        try:
            caller(**kwargs)
        except Exception as exc:
            raise PluginError(
                f"{self._culprit(caller, exc)}: {hook_name} hook failed: "
                f"{self.redactor(describe_error(exc))}"
            ) from exc

    def _culprit(self, caller: Any, exc: BaseException) -> str:
        """The plugin whose hook implementation raised ``exc``, from its traceback."""
        owners = {}
        for impl in caller.get_hookimpls():
            code = getattr(impl.function, "__code__", None)
            if code is not None:
                owners[code] = impl.plugin_name
        for frame, _line in reversed(list(traceback.walk_tb(exc.__traceback__))):
            name = owners.get(frame.f_code)
            if name is not None:
                info = self.registry.plugins.get(name)
                return info.label if info else f"plugin {name!r}"
        return "a plugin"

    def _build_executors(self, steps: list[ExecutorStep]) -> dict[str, Executor]:
        """Build every executor and run its preflight checks before the first task runs, so
        a missing bucket or job is found before anything is moved."""
        executors: dict[str, Executor] = {}
        for step in steps:
            if not step.tasks:
                continue
            try:
                executor = step.cls(step.params, self.context)
                preflight = getattr(executor, "preflight", None) if self._preflight else None
                if preflight is not None:
                    preflight([task.name for task in step.tasks])
            except RoutineError as exc:
                raise exc.located(file=self._file_label(), executor=step.instance) from None
            except Exception as exc:
                raise RoutineError(
                    self.redactor(describe_error(exc)),
                    file=self._file_label(),
                    executor=step.instance,
                ) from exc
            executors[step.instance] = executor
        return executors

    def _file_label(self) -> str | None:
        return str(self.routine.path) if self.routine.path else None

    def _run_steps(
        self,
        steps: list[ExecutorStep],
        executors: dict[str, Executor],
        result: RunResult,
        keep_going: bool,
    ) -> None:
        stop = False
        for step in steps:
            failed_here = False
            for task in step.tasks:
                if stop or failed_here:
                    why = "interrupted" if result.status == CANCELLED else "an earlier task failed"
                    log.info("task %s.%s skipped: %s", step.instance, task.name, why)
                    result.tasks.append(
                        TaskResult(step.instance, task.name, SKIPPED, step=task.step_id)
                    )
                    continue
                task_result = self._run_task(step, task, executors[step.instance])
                task_result.step = task.step_id
                result.tasks.append(task_result)
                if task_result.status == DEFERRED:
                    result.status = DEFERRED
                    stop = True
                elif task_result.status == CANCELLED:
                    result.status = CANCELLED
                    stop = True
                elif task_result.status == FAILED:
                    result.status = FAILED
                    failed_here = True
                    stop = not keep_going

    def _run_task(self, step: ExecutorStep, task: TaskStep, executor: Executor) -> TaskResult:
        label = f"{step.instance}.{task.name}"
        started = time.perf_counter()
        attempts = task.retries + 1 if self._retries else 1
        error_text: str | None = None
        failed_output: Any = None
        refused = False
        for attempt in range(1, attempts + 1):
            attempt_started = time.perf_counter()
            ctx = TaskContext(
                self.context,
                step.instance,
                task.name,
                attempt=attempt,
                state_key=task.state_key,
                deferral=self._deferral,
                step=task.step_id,
            )
            self._say("task %s started%s", label, f" (attempt {attempt})" if attempt > 1 else "")
            try:
                self._notify("task_started", routine=self.routine, ctx=ctx)
                output = self._attempt(task, executor, ctx)
                self.context.state.checkpoint()  # the task's state is durable before it counts
            except KeyboardInterrupt:
                self.context.cancel_event.set()
                ctx.cancel_event.set()
                ctx.run_cancel_callbacks()
                log.error("task %s cancelled by interrupt", label)
                error = TaskCancelled(f"{label} was interrupted")
                self._notify_failure(ctx, error, False, time.perf_counter() - attempt_started)
                return TaskResult(
                    step.instance,
                    task.name,
                    CANCELLED,
                    time.perf_counter() - started,
                    error=str(error),
                    attempts=attempt,
                )
            except WaitPending as pending:  # the scheduler waits; the work runs on
                self._checkpoint_quietly(label)
                self._say("task %s deferred: %s", label, pending)
                return TaskResult(
                    step.instance,
                    task.name,
                    DEFERRED,
                    time.perf_counter() - started,
                    output=pending.to_dict(),
                    attempts=attempt,
                )
            except Exception as exc:
                self._checkpoint_quietly(label)
                failed_output = getattr(exc, "output", None)  # e.g. check outcomes
                refused = isinstance(exc, TaskRefused)  # its args are wrong: a retry cannot help
                if refused:
                    exc.located(file=self._file_label(), executor=step.instance, task=task.name)
                will_retry = (
                    not refused and attempt < attempts and not self.context.cancel_event.is_set()
                )
                error_text = self.redactor(describe_error(exc))
                if will_retry:
                    log.warning(
                        "task %s attempt %d of %d failed, retrying%s: %s",
                        label,
                        attempt,
                        attempts,
                        f" in {task.retry_delay_s:g} s" if task.retry_delay_s else "",
                        error_text,
                    )
                else:
                    log.error("task %s failed: %s", label, error_text)
                log.debug("traceback of %s:\n%s", label, self.redactor(traceback.format_exc()))
                self._notify_failure(ctx, exc, will_retry, time.perf_counter() - attempt_started)
                if will_retry:
                    if task.retry_delay_s and self.context.cancel_event.wait(task.retry_delay_s):
                        break
                    continue
                break
            else:
                if "state" in ctx.__dict__:
                    ctx.state.clear()  # done: the next run starts afresh
                duration = time.perf_counter() - started
                task_result = TaskResult(
                    step.instance,
                    task.name,
                    SUCCEEDED,
                    duration,
                    output=self.redactor.walk(output),
                    attempts=attempt,
                )
                self._say("task %s succeeded in %.2f s", label, duration)
                try:
                    self._notify("task_finished", routine=self.routine, ctx=ctx, result=task_result)
                except PluginError as exc:
                    log.error("task %s failed: %s", label, exc)
                    task_result.status, task_result.error = FAILED, str(exc)
                return task_result
        return TaskResult(
            step.instance,
            task.name,
            FAILED,
            time.perf_counter() - started,
            output=self.redactor.walk(failed_output) if failed_output is not None else None,
            error=error_text,
            attempts=attempt,
            refused=refused,
        )

    def _checkpoint_quietly(self, label: str) -> None:
        """Make the task's state durable after it failed or was deferred (logged if not)."""
        try:
            self.context.state.checkpoint()
        except Exception as exc:
            log.error("task %s: could not save its state: %s", label, self.redactor(str(exc)))

    def _notify_failure(
        self, ctx: TaskContext, error: BaseException, will_retry: bool, duration_s: float
    ) -> None:
        try:
            self._notify(
                "task_failed",
                routine=self.routine,
                ctx=ctx,
                error=error,
                will_retry=will_retry,
                duration_s=duration_s,
            )
        except PluginError as exc:  # the task has failed already; say so and go on
            log.error("%s", exc)

    def _attempt(self, task: TaskStep, executor: Executor, ctx: TaskContext) -> Any:
        if task.timeout_s is None:
            return task.definition.call(executor, task.args, ctx)
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"task-{task.name}")
        try:
            future = pool.submit(task.definition.call, executor, task.args, ctx)
            try:
                return future.result(timeout=task.timeout_s)
            except concurrent.futures.TimeoutError:
                ctx.cancel_event.set()
                ctx.run_cancel_callbacks()
                raise TaskTimeout(
                    f"{ctx.executor}.{ctx.task} did not finish within {task.timeout_s:g} s"
                ) from None
            except KeyboardInterrupt:
                ctx.cancel_event.set()
                raise
        finally:
            pool.shutdown(wait=False)


def run_routine(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    vars: Mapping[str, Any] | None = None,
    only: list[str] | None = None,
    keep_going: bool = False,
    dry_run: bool = False,
    offline: bool = False,
    wait_for_lock: bool | float = False,
    registry: Registry | None = None,
    env: Mapping[str, str] | None = None,
    progress_factory: ProgressFactory = no_progress,
    base_dir: str | os.PathLike[str] | None = None,
    state: str | None = None,
    steps: Sequence[str | int] | None = None,
    run_id: str | None = None,
    run_date: str | datetime.date | None = None,
    retries: bool = True,
    preflight: bool = True,
    deferral: Deferral | None = None,
) -> RunResult:
    """Validate and run a routine (a file path or a dict) and return its result.

    ``dry_run`` validates and runs every executor's read-only preflight checks (``offline``:
    not those that need the network) and lists the tasks as planned. Raises
    :class:`lakeroutine.RoutineError` if the routine is invalid (nothing has run) or another
    run of it holds its lock (``wait_for_lock=True`` waits for that run to end, a number of
    seconds at most that long); a task failing is not an exception: see ``result.status``
    and ``result.tasks``. A dict's relative paths resolve against ``base_dir`` (default: the
    working folder); ``state`` overrides the routine's state store URL.

    For any scheduler that runs a routine's steps as its own tasks (:mod:`lakeroutine.steps`):
    ``steps`` runs exactly these steps (ids such as ``"athena.run_query#2"``, or positions);
    ``run_id`` and ``run_date`` (``YYYY-MM-DD``, a date or a datetime) make every step of
    one scheduled run share ``${run_id}``, ``${run_date}`` and its run state;
    ``retries=False`` runs each task once (the scheduler retries); ``preflight=False`` skips
    the executors' preflight checks; ``deferral`` hands long waits to the scheduler
    (:mod:`lakeroutine.waiting`). ``result.tasks`` has one entry per step run.
    """
    if registry is None:
        from lakeroutine.plugins import load_plugins

        registry = load_plugins(env=env)
    routine = validate_routine(
        source,
        registry=registry,
        variables=vars,
        env=env,
        base_dir=base_dir,
        run_id=run_id,
        run_date=run_date,
        state=state,
    )
    orchestrator = Orchestrator(routine, registry, progress_factory=progress_factory)
    return orchestrator.run(
        only=only,
        keep_going=keep_going,
        dry_run=dry_run,
        offline=offline,
        wait_for_lock=wait_for_lock,
        steps=steps,
        retries=retries,
        preflight=preflight,
        deferral=deferral,
    )


def interrupt_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt in the main thread, so a terminated run cancels
    its AWS-side work like Ctrl-C does."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
