"""Where a per-file transformation runs: in the staging thread, or in a worker process.

A transformation that holds the GIL (pure Python) runs one thread at a time, so the
staging block's threads add no speed to it; worker processes do, at the price of their
start (an interpreter and the transformation's imports: about 0.15 s of CPU with pyarrow).
Native work that releases the GIL (pyarrow's) scales on threads. ``workers`` chooses:

- ``threads``: every call in the calling staging thread (no process is ever started);
- ``processes``: every call in one of ``max_workers`` worker processes;
- ``auto`` (the default): with ``max_workers`` of 2 or more and more than one CPU, one call
  at a time runs in the parent and the others in up to ``min(max_workers, CPUs) - 1``
  worker processes, each started only when a call finds no free place (a lone file, or
  files staged one at a time, never pays a process's start); a file under
  ``PROCESS_MIN_BYTES`` always runs in the parent (its work costs less than the trip to a
  process). Otherwise threads. A function that says its work releases the GIL
  (``function.__lakeroutine_workers__ = "threads"``, as the built-in ``csv_to_parquet``
  does) runs on the staging threads instead, at most ``min(max_workers, CPUs)`` calls at
  once (the others wait, as for a worker): no process to start.

Each call is told its share of the CPUs (:func:`lakeroutine.concurrency.cpu_share`: the
usable CPUs divided by the most calls under way at once so far in this transfer), so a
transformation with a thread pool of its own (pyarrow's CSV reader) does not start threads
for every CPU in each of several calls.

Worker processes are fresh interpreters (``python -c``, the same as ``spawn``), never forks:
the parent has threads (staging, progress, leases) that may hold locks at the instant of a
fork. Each is sent the parent's ``sys.path`` so a transformation importable in the parent
is importable there. Only the transformation call crosses: the journal, output claims and
publishing stay in the parent, so a worker that dies takes no state with it. A worker that
dies mid-call has its partial outputs removed and the file is tried once more in a new
worker; a second death raises :class:`WorkerDied` (the executor refuses that file, which
stays in landing for the next run).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

from lakeroutine.concurrency import sharing_cpus, usable_cpus
from lakeroutine.staging.scratch import ScratchFolders, empty
from lakeroutine.staging.transforms import TransformRef, load_function
from lakeroutine.staging.worker_process import receive, send

Mode = Literal["auto", "threads", "processes"]
PROCESS_MIN_BYTES = 256 * 1024  # auto: smaller files are transformed in the parent
# Set to "threads" on a function whose work runs outside the GIL (native code): ``auto``
# then runs it on the staging threads, which scale it without a process's start.
WORKERS_ATTRIBUTE = "__lakeroutine_workers__"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # holds the lakeroutine package
_START = (
    "import sys\n"
    "sys.path.append({root!r}) if {root!r} not in sys.path else None\n"
    "from lakeroutine.staging.worker_process import main\n"
    "sys.exit(main(sys.argv))\n"
)


class WorkerDied(Exception):
    """A worker process ended while it transformed a file (killed, crashed, out of memory)."""


class TransformFailed(Exception):
    """The transformation raised in a worker process; its error's type name and text."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def plan(mode: Mode, max_workers: int, cpus: int) -> tuple[int | None, int]:
    """How many calls may run in the parent at once (None: any number) and how many
    worker processes may be started, for ``mode``."""
    if mode == "processes":
        return 0, max_workers
    if mode == "threads" or max_workers < 2 or cpus < 2:
        return None, 0
    return 1, min(max_workers, cpus) - 1


class Transformer:
    """Calls ``function(source, target, **args)`` for one file, in the calling thread or
    in a worker process as ``mode`` plans; safe to call from many threads. ``close`` ends
    the workers."""

    def __init__(
        self,
        ref: TransformRef,
        args: dict[str, Any],
        mode: Mode,
        max_workers: int,
        cpus: int | None = None,
    ) -> None:
        self.args = args
        # Loaded here as well unless every call goes to a worker: an import error fails
        # the task before any file is touched, as with threads.
        self.function: Callable[..., Any] | None = (
            load_function(ref) if mode != "processes" else None
        )
        releases_gil = getattr(self.function, WORKERS_ATTRIBUTE, None) == "threads"
        self.mode: Mode = "threads" if mode == "auto" and releases_gil else mode
        self._cpus = cpus or usable_cpus()
        self._local_free, self._limit = plan(self.mode, max_workers, self._cpus)
        if self.mode != mode:  # auto on threads: at most one call per CPU at once, as with
            self._local_free = min(max_workers, self._cpus)  # processes (memory kept flat)
        self._hello = (
            "start",
            list(sys.path),
            min(  # what the parent may write: the worker sends no record below it
                logging.getLogger().getEffectiveLevel(),
                logging.getLogger("lakeroutine").getEffectiveLevel(),
            ),
            (ref.kind, ref.target, ref.function),
            args,
        )
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._workers: list[_Worker] = []
        self._counted = 0  # started or starting
        self._running = 0  # calls under way, wherever they run
        self._most = 0  # the most calls under way at once so far
        self.scratch = ScratchFolders()  # each file's in and out folders, reused

    def __call__(self, source: Path, target: Path, size: int) -> None:
        """Transform ``source`` into ``target`` (or other files in ``target.parent``)."""
        if (self._limit == 0 and self._local_free is None) or (
            self.mode == "auto" and size < PROCESS_MIN_BYTES
        ):
            return self._here(source, target)
        for attempt in range(2):
            try:
                worker = self._acquire()
            except WorkerDied:  # died while it started
                if attempt:
                    raise
                continue
            if worker is None:
                try:
                    return self._here(source, target)
                finally:
                    self._give_back(None)
            try:
                with self._under_way() as share:
                    worker.call(source, target, share)
            except WorkerDied:
                self._discard(worker)
                if attempt:
                    raise
                empty(target.parent)  # a dead worker's partial outputs
                continue
            except BaseException:
                self._give_back(worker)
                raise
            self._give_back(worker)
            return None
        return None  # not reached: the second death raised

    def _here(self, source: Path, target: Path) -> None:
        assert self.function is not None
        with self._under_way() as share, sharing_cpus(share):
            self.function(source, target, **self.args)

    @contextmanager
    def _under_way(self) -> Iterator[int]:
        """Count a call as running while it runs; yields its share of the CPUs: the usable
        CPUs divided by the most calls run at once so far (not only those running at this
        instant: a call starting while the others are between files would take every CPU,
        and its reader threads would then contend with theirs)."""
        with self._cond:
            self._running += 1
            self._most = max(self._most, self._running)
            share = max(1, self._cpus // self._most)
        try:
            yield share
        finally:
            with self._cond:
                self._running -= 1

    def _acquire(self) -> _Worker | None:
        """A place to run one call: None for the parent, else an idle or a new worker."""
        with self._cond:
            while True:
                if self._local_free:
                    self._local_free -= 1
                    return None
                if self._idle:
                    return self._idle.pop()
                if self._counted < self._limit:
                    self._counted += 1
                    break
                self._cond.wait()
        try:
            worker = _Worker(self._hello)
        except BaseException:
            with self._cond:
                self._counted -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._workers.append(worker)
        return worker

    def _give_back(self, worker: _Worker | None) -> None:
        with self._cond:
            if worker is None:
                self._local_free = (self._local_free or 0) + 1
            else:
                self._idle.append(worker)
            self._cond.notify()

    def _discard(self, worker: _Worker) -> None:
        worker.close()
        with self._cond:
            self._counted -= 1
            self._workers.remove(worker)
            self._cond.notify()

    def close(self) -> None:
        """End every worker process (each exits when its pipe closes); remove the scratch
        folders."""
        with self._cond:
            workers, self._workers, self._idle = self._workers, [], []
        for worker in workers:
            worker.close()
        self.scratch.close()


class _Worker:
    """One worker process and the two pipes to it; one call at a time."""

    def __init__(self, hello: tuple[Any, ...]) -> None:
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _START.format(root=_PACKAGE_ROOT),
                    str(child_in),
                    str(child_out),
                ],
                pass_fds=(child_in, child_out),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            for fd in (child_in, to_child, from_child, child_out):
                os.close(fd)
            raise
        os.close(child_in)
        os.close(child_out)
        self.out: IO[bytes] = os.fdopen(to_child, "wb")
        self.inp: IO[bytes] = os.fdopen(from_child, "rb")
        try:
            self._send(hello)
            self._answer()  # "ready", or the error loading the transformation
        except BaseException:
            self.close()
            raise

    def call(self, source: Path, target: Path, share: int) -> None:
        """Run the transformation on one file in this worker, with ``share`` CPUs."""
        self._send(("call", str(source), str(target), share))
        self._answer()

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            send(self.out, message)
        except OSError:  # a broken pipe: the worker is gone
            raise WorkerDied(self._death()) from None

    def _answer(self) -> None:
        """Wait for the end of the current step, passing its log records on."""
        while True:
            message = receive(self.inp)
            if message is None:
                raise WorkerDied(self._death())
            kind = message[0]
            if kind == "log":
                _, name, level, text = message
                logger = logging.getLogger(name)
                if logger.isEnabledFor(level):
                    logger.handle(
                        logging.makeLogRecord(
                            {
                                "name": name,
                                "levelno": level,
                                "levelname": logging.getLevelName(level),
                                "msg": text,
                                "process": self.process.pid,
                            }
                        )
                    )
                continue
            if kind == "error":
                raise TransformFailed(message[1], message[2])
            return

    def _death(self) -> str:
        """How the worker ended, in words (its exit status or the signal that killed it)."""
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"

    def close(self) -> None:
        """Close the pipes (the worker exits at their end) and reap the process."""
        for stream in (self.out, self.inp):
            with contextlib.suppress(OSError):
                stream.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still inside a transformation: stop it
            self.process.kill()
            self.process.wait()
