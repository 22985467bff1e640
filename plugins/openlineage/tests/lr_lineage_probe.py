"""A third-party-style executor for the tests: its tasks declare the datasets their args
name through ``ctx.lineage`` (the documented API), fail with a message, or are interrupted."""

from __future__ import annotations

from typing import Any

from lakeroutine import hookimpl
from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError
from lakeroutine.executor import Executor, Params, task
from lakeroutine.lineage import Location, Table
from pydantic import Field, SecretStr


class ProbeParams(Params):
    password: SecretStr | None = None
    fail_times: int = Field(0, ge=0)


class DeclareArgs(Params):
    reads: list[dict[str, Any]] = []
    writes: list[dict[str, Any]] = []
    sql: str | None = None


def _dataset(spec: dict[str, Any]) -> Location | Table:
    spec = dict(spec)
    if "url" in spec:
        return Location(**spec)
    return Table(**spec)


class LineageProbe(Executor):
    """Declares what its args say it read and wrote."""

    name = "LineageProbe"
    Params = ProbeParams
    attempts: dict[str, int] = {}

    @task
    def declare(self, args: DeclareArgs, ctx: TaskContext) -> dict[str, Any]:
        """Declare the args' datasets and query."""
        ctx.lineage.read(*(_dataset(s) for s in args.reads))
        ctx.lineage.wrote(*(_dataset(s) for s in args.writes))
        if args.sql:
            ctx.lineage.query(args.sql, dialect="athena")
        return {"declared": len(args.reads) + len(args.writes)}

    @task
    def fail(self, ctx: TaskContext) -> None:
        """Fail, the first ``fail_times`` attempts of a run (always when 0)."""
        seen = self.attempts.get(ctx.run_id, 0) + 1
        self.attempts[ctx.run_id] = seen
        if self.params.fail_times and seen > self.params.fail_times:
            return
        secret = self.params.password.get_secret_value() if self.params.password else "none"
        raise TaskError(f"failed on purpose (password was {secret})")

    @task
    def interrupted(self) -> None:
        """Be interrupted, as by Ctrl-C."""
        raise KeyboardInterrupt


class ProbePlugin:
    @hookimpl
    def register_executors(self, register: Any) -> None:
        register(LineageProbe)


def registry() -> Any:
    """The installed plugins (lakeroutine-openlineage among them) and the probe."""
    from lakeroutine.plugins import load_plugins

    return load_plugins(plugins=[ProbePlugin()])


def probe_routine(tmp_path: Any, *tasks: Any, name: str = "probe", **params: Any) -> dict:
    return {
        "routine_name": name,
        "state_dir": str(tmp_path / "state"),
        "executors": {"lake": {"executor": "LineageProbe", "params": params, "tasks": list(tasks)}},
    }
