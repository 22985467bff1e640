"""The ``lakeroutine`` command: run, validate, state, plugins, schema.

Exit codes: 0 succeeded, 1 a task failed, 2 the routine is invalid or the command misused,
130 interrupted. Errors are one readable message; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # logging, json and pathlib are imported by the commands that use them
    import logging  # (``--help`` and ``--version`` need none of them)

    from lakeroutine import console as console_types

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout, sized as ``shutil.get_terminal_size`` would size it, without
    importing shutil (and its compression modules) on every start."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        kwargs.setdefault("width", _columns() - 2)
        super().__init__(prog, **kwargs)


def _columns() -> int:
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        self._fill: Any = None  # adds this subcommand's arguments, when it is used
        super().__init__(*args, **kwargs)

    def _filled(self) -> None:
        if self._fill is not None:
            fill, self._fill = self._fill, None
            fill(self)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        self._filled()
        return super().parse_known_args(*args, **kwargs)

    def format_help(self) -> str:
        self._filled()
        return super().format_help()

    def error(self, message: str) -> Any:  # usage errors exit 2 with one line
        self.print_usage(sys.stderr)
        sys.stderr.write(f"lakeroutine: error: {message}\n")
        raise SystemExit(EXIT_INVALID)


def _global_options(parser: argparse.ArgumentParser, default: Any) -> None:
    """``--debug`` and ``-q``, accepted before or after the subcommand."""
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks and debug logs"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="log warnings and errors only"
    )


def _routine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("routine", help="routine file (.json, or .yaml with PyYAML)")
    parser.add_argument(
        "--var", action="append", default=[], metavar="K=V", help="set a ${var} (repeatable)"
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="skip the checks that need the network (buckets, workgroups); run: with --dry-run",
    )
    parser.add_argument("--state", metavar="URL", help="state store (overrides the routine's)")


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The command line's parser (``lakeroutine --help`` shows it). ``lazy``: each
    subcommand's arguments are added only when that subcommand is parsed or its help shown
    (what ``main`` does: ``lakeroutine --help`` builds no subcommand's arguments)."""
    parser = _Parser(
        prog="lakeroutine",
        description="Run data-lake routines (staging, Athena, Glue, Redshift) from a file.",
        epilog="Exit codes: 0 succeeded, 1 a task failed, 2 invalid routine or usage, "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=_version())
    _global_options(parser, False)
    common = _Parser(add_help=False)
    _global_options(common, argparse.SUPPRESS)  # after the subcommand: keeps the one before
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help, description, fill in _COMMANDS:
        sub = commands.add_parser(name, parents=[common], help=help, description=description)
        if fill is not None:
            sub._fill = (lambda p, fill=fill: fill(p, common)) if lazy else None
            if not lazy:
                fill(sub, common)
    return parser


def _run_arguments(run: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    _routine_arguments(run)
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="validate, run the read-only preflight checks, list the tasks; run nothing",
    )
    run.add_argument(
        "--only", action="append", metavar="EXECUTOR[.TASK]", help="run just these (repeatable)"
    )
    run.add_argument("--keep-going", action="store_true", help="go on after a failed executor")
    run.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=True,
        default=False,
        metavar="SECONDS",
        help="if another run of this routine holds its lock, wait for it (at most SECONDS); "
        "default: exit 2 at once",
    )
    run.add_argument(
        "--report",
        metavar="FILE",
        help="write a JSON report of the run to a file or a storage URI (s3://...)",
    )
    run.add_argument(
        "--no-outputs",
        action="store_true",
        help="do not print the tasks' small outputs (query previews, counts) after the summary",
    )


def _validate_arguments(validate: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    _routine_arguments(validate)


def _state_arguments(state: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    state_commands = state.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    show = state_commands.add_parser(
        "show", parents=[common], help="last run, lock, journal counts, saved ids"
    )
    show.add_argument("routine", help="routine file whose state to show")
    show.add_argument("--json", action="store_true", help="as JSON (with the journals' scopes)")
    clear = state_commands.add_parser(
        "clear", parents=[common], help="forget a routine's state (or one task's)"
    )
    clear.add_argument("routine", help="routine file whose state to forget")
    clear.add_argument("--task", metavar="INSTANCE.TASK", help="forget only this task's values")
    clear.add_argument(
        "--force", action="store_true", help="even while a run holds the lock (asks first)"
    )
    clear.add_argument("--yes", action="store_true", help="do not ask (with --force)")
    for sub in (show, clear):
        sub.add_argument("--state", metavar="URL", help="state store (overrides the routine's)")
        sub.add_argument(
            "--var",
            action="append",
            default=[],
            metavar="K=V",
            help="set a ${var} the routine's state URL uses (repeatable)",
        )


def _plugins_arguments(plugins: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    plugins.add_argument("--json", action="store_true", help="as JSON")


def _init_arguments(init: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    init.add_argument("folder", nargs="?", default=".", help="where to write it (default: .)")


_COMMANDS: list[tuple[str, str, str | None, Any]] = [
    (
        "run",
        "validate a routine, then run it",
        "Validate a routine and every executor's preflight checks, then run it.",
        _run_arguments,
    ),
    (
        "validate",
        "check a routine without running it",
        "Check a routine whole (executors, params, task args, transformations) and run every "
        "executor's read-only preflight checks (folders exist, buckets reachable). Runs no "
        "task and no user code; writes nothing.",
        _validate_arguments,
    ),
    (
        "state",
        "see or clear a routine's saved state",
        "What a routine's runs keep between runs: the last run, the run lock, the staging "
        "journals and the ids of queries and job runs to re-attach to.",
        _state_arguments,
    ),
    ("plugins", "list installed plugins and what they add", None, _plugins_arguments),
    ("schema", "print the JSON Schema of routine files", None, None),
    (
        "init",
        "write a runnable starter routine",
        "Write a starter into FOLDER: a routine staging a landing folder to Parquet and "
        "querying it with DuckDB, a sample file, and what to change.",
        _init_arguments,
    ),
]
"""Each subcommand: its name, help line, description and what adds its arguments."""


def _version() -> str:
    from lakeroutine import __version__

    return f"lakeroutine {__version__}"


def _parse_vars(items: Sequence[str]) -> dict[str, Any]:
    from lakeroutine.errors import RoutineError

    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RoutineError(f"--var {item!r}: expected NAME=VALUE")
        parsed[key.strip()] = value
    return parsed


def _say(stream: TextIO, text: str) -> None:
    """Write ``text`` with every known secret masked: the CLI's one way to print (after
    the task lines said before it)."""
    from lakeroutine import console
    from lakeroutine.redact import mask

    console.flush()
    try:
        stream.write(mask(text))
        stream.flush()
    except (BrokenPipeError, ValueError):  # the reader left (``run | head``): as the log
        _gone(stream)  # handler does there, drop it; the exit code stays the run's


def _gone(stream: TextIO) -> None:
    """Point a console whose reader left at ``os.devnull``, so what is still buffered for
    it (and the interpreter's flush at exit) cannot fail."""
    import os

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError):  # no descriptor (a test's buffer), or closed
        pass


@contextmanager
def _cli_logging(debug: bool, quiet: bool) -> Iterator[logging.Handler]:
    """Log lakeroutine's records to stderr while a command runs, then restore what was
    there (main() may be called from a program or a test, more than once)."""
    import logging

    from lakeroutine import console
    from lakeroutine.redact import RedactingFilter, process_redactor

    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = console.CliHandler(sys.stderr)
    handler.setFormatter(_line_formatter())
    handler.addFilter(RedactingFilter(process_redactor()))
    root = logging.getLogger("lakeroutine")
    saved = (root.handlers[:], root.level, root.propagate)
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    noisy = [logging.getLogger(name) for name in ("botocore", "boto3", "urllib3", "werkzeug")]
    saved_levels = [logger.level for logger in noisy]
    if not debug:
        for logger in noisy:
            logger.setLevel(logging.WARNING)
    # the lines name no source file, thread or process: logging need not look them up for
    # each record (its documented switches; a run logs a line or two per task)
    flags = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
    saved_flags = [getattr(logging, flag) for flag in flags]
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    lines = _console_writer(handler) if level <= logging.INFO else None
    saved_writer = console.install(lines)
    try:
        with _library_warnings(debug, handler):
            yield handler
    finally:
        console.install(saved_writer)
        if lines is not None:
            lines.close()
        for flag, value in zip(flags, saved_flags, strict=True):
            setattr(logging, flag, value)
        root.handlers[:], root.level, root.propagate = saved
        for logger, saved_level in zip(noisy, saved_levels, strict=True):
            logger.setLevel(saved_level)


def _console_writer(handler: console_types.CliHandler) -> console_types.HeldLines:
    """Each task's INFO line written as ``handler`` would write its record (masked, the
    same format, under its lock), without making the record (:mod:`lakeroutine.console`);
    the handler writes the held lines before each record of its own."""
    from lakeroutine import console
    from lakeroutine.redact import process_redactor

    lines = console.HeldLines(
        handler.stream, handler.lock, handler.formatter.line, process_redactor()
    )
    handler.held = lines
    return lines


@contextmanager
def _library_warnings(debug: bool, handler: logging.Handler) -> Iterator[None]:
    """Python warnings while a command runs: a library's (asyncssh's and cryptography's
    deprecations...) are shown as debug lines with ``--debug`` and hidden otherwise;
    lakeroutine's own still show."""
    import logging
    import warnings

    with warnings.catch_warnings():
        if not debug:
            warnings.simplefilter("ignore")
            warnings.filterwarnings("default", module=r"lakeroutine")
            yield
            return
        captured = logging.getLogger("py.warnings")
        saved = (captured.handlers[:], captured.level, captured.propagate)
        captured.handlers[:], captured.propagate = [handler], False
        captured.setLevel(logging.DEBUG)
        logging.captureWarnings(True)
        try:
            yield
        finally:
            logging.captureWarnings(False)
            captured.handlers[:], captured.level, captured.propagate = saved


def _line_formatter() -> logging.Formatter:
    """``HH:MM:SS LEVEL   message`` (what ``%(asctime)s %(levelname)-7s %(message)s``
    writes), cheaply: the time text made once per second, a plain line without
    logging's general formatting; a traceback or stack is formatted as logging does."""
    import logging
    import time

    class LineFormatter(logging.Formatter):
        _second: tuple[int, str] = (-1, "")

        def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
            second = int(record.created)
            if self._second[0] != second:
                self._second = (second, super().formatTime(record, datefmt))
            return self._second[1]

        def format(self, record: logging.LogRecord) -> str:
            if record.exc_info or record.exc_text or record.stack_info:
                return super().format(record)
            record.message = record.getMessage()
            record.asctime = self.formatTime(record, self.datefmt)
            return f"{record.asctime} {record.levelname:<7} {record.message}"

        _prefix: tuple[int, str, str] = (-1, "", "")  # second, level, "HH:MM:SS LEVEL   "

        def line(self, levelname: str, message: str, created: float) -> str:
            """The line ``format`` makes of a record with these fields."""
            second = int(created)
            prefix = self._prefix
            if prefix[0] != second or prefix[1] != levelname:
                stamp = time.strftime(self.datefmt, time.localtime(created))
                prefix = self._prefix = (second, levelname, f"{stamp} {levelname:<7} ")
            return prefix[2] + message

    return LineFormatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return its exit
    code: a plugin's tests can call ``main(["validate", path]) == 2``."""
    parser = build_parser(lazy=True)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: their code, not an exit
        return exc.code if isinstance(exc.code, int) else EXIT_INVALID
    if args.command is None:
        parser.print_help()
        return EXIT_INVALID
    from lakeroutine.errors import LakeroutineError

    with _cli_logging(args.debug, args.quiet) as handler:
        return _dispatch(args, handler, LakeroutineError)


def _dispatch(args: argparse.Namespace, handler: logging.Handler, known: type) -> int:
    try:
        return {
            "run": _cmd_run,
            "validate": _cmd_validate,
            "state": _cmd_state,
            "plugins": _cmd_plugins,
            "schema": _cmd_schema,
            "init": _cmd_init,
        }[args.command](args, handler)
    except known as exc:
        if args.debug:
            import logging

            logging.getLogger("lakeroutine.cli").exception("error")
        _say(sys.stderr, f"lakeroutine: error: {exc}\n")
        return EXIT_INVALID
    except KeyboardInterrupt:
        from lakeroutine import console

        console.flush()
        sys.stderr.write("lakeroutine: interrupted\n")
        return EXIT_INTERRUPTED


def _checked(args: argparse.Namespace) -> tuple[Any, Any]:
    """The validated routine and an orchestrator for it (nothing has run yet)."""
    from lakeroutine.orchestrator import Orchestrator
    from lakeroutine.plugins import load_plugins
    from lakeroutine.progress import progress_factory_for
    from lakeroutine.routine import validate_routine

    registry = load_plugins()
    routine = validate_routine(
        args.routine, registry=registry, variables=_parse_vars(args.var), state=args.state
    )
    factory = progress_factory_for(sys.stderr, quiet=args.quiet)
    return Orchestrator(routine, registry, progress_factory=factory), routine


def _cmd_validate(args: argparse.Namespace, handler: logging.Handler) -> int:
    from lakeroutine.wording import counted

    orchestrator, routine = _checked(args)
    skipped = orchestrator.preflight(offline=args.offline)
    count = sum(len(step.tasks) for step in routine.steps)
    note = f"; offline, not checked: {', '.join(skipped)}" if skipped else ""
    _say(
        sys.stdout,
        f"{routine.label}: valid ({counted(len(routine.steps), 'executor')}, "
        f"{counted(count, 'task')}){note}\n",
    )
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, handler: logging.Handler) -> int:
    from lakeroutine.errors import RoutineError
    from lakeroutine.orchestrator import interrupt_on_sigterm
    from lakeroutine.report_target import check_report_target, is_local, write_report

    if args.offline and not args.dry_run:
        raise RoutineError("--offline goes with --dry-run: a run checks everything it uses")
    report: str | None = args.report
    if report is not None and is_local(report):
        check_report_target(report)  # before anything runs, not after files have moved
    orchestrator, _routine = _checked(args)
    if report is not None and not is_local(report):
        check_report_target(report, orchestrator.registry)  # a URI: its storage's plugin
    interrupt_on_sigterm()
    result = orchestrator.run(
        only=args.only,
        keep_going=args.keep_going,
        dry_run=args.dry_run,
        offline=args.offline,
        wait_for_lock=args.wait,
    )
    if report is not None:
        write_report(result, report, orchestrator.registry)
    if args.dry_run:
        for item in result.tasks:
            _say(sys.stdout, f"would run {item.executor}.{item.task}\n")
        return EXIT_OK
    if not args.no_outputs:
        from lakeroutine.outputs import small_outputs

        _say(sys.stdout, small_outputs(result))
    if result.status == "cancelled":
        return EXIT_INTERRUPTED
    if result.refused:  # args the table cannot take: invalid input, nothing changed
        return EXIT_INVALID
    return EXIT_OK if result.ok else EXIT_FAILED


def _cmd_state(args: argparse.Namespace, handler: logging.Handler) -> int:
    import json

    from lakeroutine.plugins import load_plugins
    from lakeroutine.routine import validate_routine
    from lakeroutine.state.base import StateError
    from lakeroutine.state.clear import clear_state
    from lakeroutine.state.report import forgotten, render, summary

    registry = load_plugins()
    routine = validate_routine(
        args.routine, registry=registry, variables=_parse_vars(args.var), state=args.state
    )
    store = registry.state_stores().open(routine.state_url, routine.name)
    try:
        if args.state_command == "show":
            info = summary(store)
            text = json.dumps(info, indent=2) + "\n" if args.json else render(info)
            sys.stdout.write(text)
            return EXIT_OK
        try:
            before: dict[str, Any] | None = summary(store)
        except StateError:  # unreadable: clearing it is the way out
            before = None
        clear_state(
            store, routine, task=args.task, force=args.force, confirm=None if args.yes else _ask
        )
        said = (
            forgotten(before, routine.name, args.task)
            if before is not None
            else f"forgot the unreadable state of routine {routine.name} in {store.where}"
        )
        _say(sys.stdout, said + "\n")
        return EXIT_OK
    finally:
        store.close()


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        from lakeroutine.errors import LakeroutineError

        raise LakeroutineError(f"{question} -- not a terminal: add --yes to confirm")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _cmd_plugins(args: argparse.Namespace, handler: logging.Handler) -> int:
    import json

    from lakeroutine.install import describe_origin, installed_from
    from lakeroutine.plugins import load_plugins

    registry = load_plugins()
    listing = []
    for info in registry.plugins.values():
        executors = {
            name: sorted(entry.cls.tasks)
            for name, entry in registry.executors.items()
            if entry.plugin.name == info.name
        }
        added = {
            f"{executor}.{task}"
            for executor, tasks in registry.extra_tasks.items()
            for task, (_def, owner) in tasks.items()
            if owner.name == info.name
        }
        storages = [s for s, e in registry.storage_entries.items() if e.plugin == info.name]
        states = [s for s, e in registry.state_entries.items() if e.plugin == info.name]
        listing.append(
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "installed_from": installed_from(info.distribution),
                "executors": executors,
                "tasks": sorted(added),
                "storages": sorted(storages),
                "state_stores": sorted(states),
                "hooks": list(info.hooks),
            }
        )
    if args.json:
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return EXIT_OK
    for item in listing:
        origin = describe_origin(item["installed_from"])
        sys.stdout.write(f"{item['name']} ({item['distribution']} {item['version']}, {origin})\n")
        for name, tasks in item["executors"].items():
            sys.stdout.write(f"  executor {name}: {', '.join(tasks)}\n")
        for name in item["tasks"]:
            sys.stdout.write(f"  task {name}\n")
        for scheme in item["storages"]:
            sys.stdout.write(f"  storage {scheme}://\n")
        for scheme in item["state_stores"]:
            sys.stdout.write(f"  state store {scheme}://\n")
        sys.stdout.write(f"  hooks: {', '.join(item['hooks'])}\n")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace, handler: logging.Handler) -> int:
    import json

    from lakeroutine.plugins import load_plugins
    from lakeroutine.schema import routine_schema

    sys.stdout.write(json.dumps(routine_schema(load_plugins()), indent=2) + "\n")
    return EXIT_OK


def _cmd_init(args: argparse.Namespace, handler: logging.Handler) -> int:
    from pathlib import Path

    from lakeroutine.starter import write_starter

    for line in write_starter(Path(args.folder)):
        sys.stdout.write(line + "\n")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
