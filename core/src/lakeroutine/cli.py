"""The ``lakeroutine`` command: run, validate, plugins, schema.

Exit codes: 0 succeeded, 1 a task failed, 2 the routine is invalid or the command misused,
130 interrupted. Errors are one readable message; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130

log = logging.getLogger("lakeroutine.cli")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors exit 2 with one line
        self.print_usage(sys.stderr)
        sys.stderr.write(f"lakeroutine: error: {message}\n")
        raise SystemExit(EXIT_INVALID)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lakeroutine",
        description="Run data-lake routines (staging, Athena, Glue, Redshift) from a file.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser("run", help="validate a routine, then run it")
    run.add_argument("routine", help="routine file (.json, or .yaml with PyYAML)")
    run.add_argument("--var", action="append", default=[], metavar="K=V", help="set a ${var}")
    run.add_argument("--dry-run", action="store_true", help="validate and list the tasks only")
    run.add_argument(
        "--only", action="append", metavar="EXECUTOR[.TASK]", help="run just these (repeatable)"
    )
    run.add_argument("--keep-going", action="store_true", help="go on after a failed executor")
    run.add_argument(
        "--wait",
        action="store_true",
        help="if another run of this routine is going, wait for it (default: exit 2 at once)",
    )
    run.add_argument("--report", metavar="FILE", help="write a JSON report of the run")

    validate = commands.add_parser("validate", help="check a routine without running it")
    validate.add_argument("routine")
    validate.add_argument("--var", action="append", default=[], metavar="K=V")

    plugins = commands.add_parser("plugins", help="list installed plugins and what they add")
    plugins.add_argument("--json", action="store_true", help="as JSON")

    commands.add_parser("schema", help="print the JSON Schema of routine files")
    return parser


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


@contextmanager
def _cli_logging(debug: bool, quiet: bool) -> Iterator[logging.Handler]:
    """Log lakeroutine's records to stderr while a command runs, then restore what was
    there (main() may be called from a program or a test, more than once)."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
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
    try:
        yield handler
    finally:
        root.handlers[:], root.level, root.propagate = saved
        for logger, saved_level in zip(noisy, saved_levels, strict=True):
            logger.setLevel(saved_level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
            "plugins": _cmd_plugins,
            "schema": _cmd_schema,
        }[args.command](args, handler)
    except known as exc:
        if args.debug:
            log.exception("error")
        sys.stderr.write(f"lakeroutine: error: {exc}\n")
        return EXIT_INVALID
    except KeyboardInterrupt:
        sys.stderr.write("lakeroutine: interrupted\n")
        return EXIT_INTERRUPTED


def _cmd_validate(args: argparse.Namespace, handler: logging.Handler) -> int:
    from lakeroutine.plugins import load_plugins
    from lakeroutine.routine import validate_routine

    registry = load_plugins()
    routine = validate_routine(args.routine, registry=registry, variables=_parse_vars(args.var))
    count = sum(len(step.tasks) for step in routine.steps)
    sys.stdout.write(f"{routine.label}: valid ({len(routine.steps)} executors, {count} tasks)\n")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, handler: logging.Handler) -> int:
    from lakeroutine.orchestrator import Orchestrator, interrupt_on_sigterm
    from lakeroutine.plugins import load_plugins
    from lakeroutine.progress import progress_factory_for
    from lakeroutine.redact import RedactingFilter
    from lakeroutine.routine import validate_routine

    registry = load_plugins()
    routine = validate_routine(args.routine, registry=registry, variables=_parse_vars(args.var))
    orchestrator = Orchestrator(
        routine, registry, progress_factory=progress_factory_for(sys.stderr, quiet=args.quiet)
    )
    handler.addFilter(RedactingFilter(orchestrator.redactor))
    interrupt_on_sigterm()
    result = orchestrator.run(
        only=args.only, keep_going=args.keep_going, dry_run=args.dry_run, wait_for_lock=args.wait
    )
    if args.report:
        result.write_json(Path(args.report))
    if args.dry_run:
        for item in result.tasks:
            sys.stdout.write(f"would run {item.executor}.{item.task}\n")
        return EXIT_OK
    for item in result.failed_tasks:
        sys.stderr.write(f"lakeroutine: {item.executor}.{item.task} {item.status}: {item.error}\n")
    if result.status == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILED


def _cmd_plugins(args: argparse.Namespace, handler: logging.Handler) -> int:
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
        listing.append(
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "executors": executors,
                "tasks": sorted(added),
                "storages": sorted(storages),
                "hooks": list(info.hooks),
            }
        )
    if args.json:
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return EXIT_OK
    for item in listing:
        sys.stdout.write(f"{item['name']} ({item['distribution']} {item['version']})\n")
        for name, tasks in item["executors"].items():
            sys.stdout.write(f"  executor {name}: {', '.join(tasks)}\n")
        for name in item["tasks"]:
            sys.stdout.write(f"  task {name}\n")
        for scheme in item["storages"]:
            sys.stdout.write(f"  storage {scheme}://\n")
        sys.stdout.write(f"  hooks: {', '.join(item['hooks'])}\n")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace, handler: logging.Handler) -> int:
    from lakeroutine.plugins import load_plugins
    from lakeroutine.schema import routine_schema

    sys.stdout.write(json.dumps(routine_schema(load_plugins()), indent=2) + "\n")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
