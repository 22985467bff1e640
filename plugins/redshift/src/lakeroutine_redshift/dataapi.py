"""Running statements through the Redshift Data API, one at a time, resumably.

Each statement's id is saved in the task's state before it is polled, so a retried or
rerun task re-attaches to it instead of sending it again; statements already finished are
not sent again either. A step of several statements is one BatchExecuteStatement: one
transaction. FAILED and ABORTED are task failures carrying the service's error and the
failing SQL; Ctrl-C, a timeout or ``max_wait_s`` cancel the running statement.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from lakeroutine.aws import error_code, guard_library_logs
from lakeroutine.context import TaskContext, digest
from lakeroutine.errors import TaskError
from lakeroutine.waiting import poll

from lakeroutine_redshift.models import RedshiftParams
from lakeroutine_redshift.sql import mask_secrets, secret_literals

FINISHED = "FINISHED"
FAILURES = frozenset({"FAILED", "ABORTED"})


@dataclass
class SqlStep:
    """One statement to send with its Data API parameters, or a list of statements to run
    as one transaction (a batch takes no parameters)."""

    sql: str | list[str]
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.sql if isinstance(self.sql, str) else ";\n".join(self.sql)


class StatementRunner:
    """Sends statements in order for one task attempt and waits for each to finish."""

    def __init__(self, client: Any, params: RedshiftParams, ctx: TaskContext) -> None:
        self.client = client
        self.params = params
        self.ctx = ctx
        self._current: str | None = None
        ctx.on_cancel(self._cancel_current)

    def run(self, steps: list[SqlStep]) -> list[dict[str, Any]]:
        """Run ``steps`` in order; return one report per statement (id, status, rows...)."""
        secrets = [value for step in steps for value in secret_literals(step.text)]
        if secrets:  # botocore logs request and response bodies (the SQL) at DEBUG
            guard_library_logs(secrets)
            self.ctx.run.redactor.add(secrets)
        fingerprint = digest([step.text for step in steps], [step.parameters for step in steps])
        if self.ctx.state.get("fingerprint") not in (None, fingerprint):
            self.ctx.logger.info("the SQL changed since the last attempt: starting afresh")
            self.ctx.state.clear()  # e.g. a sql_file edited after a failure
        self.ctx.state.set("fingerprint", fingerprint)
        reports = []
        for index, step in enumerate(steps):
            done = self.ctx.state.get(f"done:{index}")
            if done is not None:
                self.ctx.logger.info("statement %d already finished: %s", index + 1, done["id"])
                reports.append({**done, "resumed": True})
                continue
            report = self._run_one(index, len(steps), step)
            self.ctx.state.set(f"done:{index}", report)
            reports.append(report)
        return reports

    def _target(self) -> dict[str, str]:
        p = self.params
        target = {"Database": p.database}
        if p.cluster_identifier:
            target["ClusterIdentifier"] = p.cluster_identifier
        if p.workgroup_name:
            target["WorkgroupName"] = p.workgroup_name
        if p.db_user:
            target["DbUser"] = p.db_user
        if p.secret_arn:
            target["SecretArn"] = p.secret_arn
        return target

    def _reattach(self, index: int) -> str | None:
        """The saved id of statement ``index`` if the service still knows it (ids expire
        after a day) and it did not fail while no one waited; else forget it so the
        statement is sent again."""
        statement_id = self.ctx.state.get(f"id:{index}")
        if not statement_id:
            return None
        try:
            desc = self.client.describe_statement(Id=statement_id)
        except Exception as exc:
            code = error_code(exc)
            if code not in ("ResourceNotFoundException", "ValidationException"):
                raise
            self.ctx.logger.warning(
                "statement %s is gone (%s); sending it again", statement_id, code
            )
            self._forget(index)
            return None
        if desc.get("Status") in FAILURES:
            self.ctx.logger.warning(
                "statement %s ended %s (%s); sending it again",
                statement_id,
                desc.get("Status"),
                desc.get("Error") or "no reason given",
            )
            self._forget(index)
            return None
        self.ctx.logger.info("re-attaching to statement %d: %s", index + 1, statement_id)
        return str(statement_id)

    def _submit(self, index: int, step: SqlStep) -> str:
        state = self.ctx.state
        statement_id = self._reattach(index)
        if statement_id:
            return statement_id
        token = state.get(f"token:{index}") or str(uuid.uuid4())
        state.set(f"token:{index}", token)  # a resent request reuses it: no second statement
        request: dict[str, Any] = {
            **self._target(),
            "ClientToken": token,
            "StatementName": f"lakeroutine-{self.ctx.run_id}"[:500],
        }
        if isinstance(step.sql, list):
            statement_id = self.client.batch_execute_statement(**request, Sqls=step.sql)["Id"]
        else:
            if step.parameters:
                request["Parameters"] = [
                    {"name": k, "value": v} for k, v in step.parameters.items()
                ]
            statement_id = self.client.execute_statement(**request, Sql=step.sql)["Id"]
        self._current = statement_id
        state.set(f"id:{index}", statement_id)
        self.ctx.logger.info("statement %d sent: %s", index + 1, statement_id)
        if self.ctx.cancelled:  # cancelled while it was being sent: no cancel saw its id
            self._cancel_current()
            self.ctx.check_cancelled()
        return str(statement_id)

    def _forget(self, index: int) -> None:
        self.ctx.state.delete(f"id:{index}")
        self.ctx.state.delete(f"token:{index}")

    def _run_one(self, index: int, total: int, step: SqlStep) -> dict[str, Any]:
        started = time.monotonic()
        statement_id = self._current = self._submit(index, step)
        label = f"statement {index + 1} of {total} ({statement_id})"
        # _current stays set if Ctrl-C lands here, so the cancel callback can stop it.

        def look() -> dict[str, Any] | None:
            desc = self.client.describe_statement(Id=statement_id)
            return desc if desc.get("Status") in (FINISHED, *FAILURES) else None

        desc = poll(
            self.ctx,
            look,
            what=label,
            interval_s=self.params.poll_interval_s,
            max_wait_s=self.params.max_wait_s,
            give_up=self._cancel_current,
            detail=f"SQL: {mask_secrets(step.text)}",
        )
        self._current = None
        status = desc["Status"]
        if status in FAILURES:
            self._forget(index)
            reason, sql = _failure(desc, step)
            raise TaskError(f"{label} {status}: {reason}\nSQL: {mask_secrets(sql)}")
        return _report(statement_id, desc, time.monotonic() - started)

    def _cancel(self, statement_id: str) -> bool:
        """Cancel a statement; False if the service refused (it had ended meanwhile)."""
        try:
            self.client.cancel_statement(Id=statement_id)
        except Exception as exc:  # it may have finished meanwhile; say so and go on
            self.ctx.logger.warning("could not cancel statement %s: %s", statement_id, exc)
            return False
        self.ctx.logger.warning("cancelled statement %s", statement_id)
        return True

    def _cancel_current(self) -> bool:
        """Ctrl-C / timeout / max_wait_s: stop the statement now running (once); a rerun
        sends it again. One that had ended keeps its id (False): a rerun re-attaches
        instead of running it twice."""
        statement_id, self._current = self._current, None
        if statement_id is None or not self._cancel(statement_id):
            return False
        state = self.ctx.state
        for key, value in state.items().items():
            if key.startswith("id:") and value == statement_id:
                index = int(key[3:])
                self._forget(index)
        return True


def _failure(desc: dict[str, Any], step: SqlStep) -> tuple[str, str]:
    """The service's error and the SQL that failed (the failing part of a batch)."""
    for sub in desc.get("SubStatements") or []:
        if sub.get("Status") == "FAILED":
            return sub.get("Error") or desc.get("Error") or "no reason given", sub["QueryString"]
    return desc.get("Error") or "no reason given", step.text


def _report(statement_id: str, desc: dict[str, Any], waited_s: float) -> dict[str, Any]:
    duration_ns = desc.get("Duration") or 0
    rows = desc.get("ResultRows")
    return {
        "id": statement_id,
        "status": desc.get("Status"),
        "duration_s": round(duration_ns / 1e9, 3) if duration_ns > 0 else round(waited_s, 3),
        "rows": rows if isinstance(rows, int) and rows >= 0 else None,
        "has_result_set": bool(desc.get("HasResultSet")),
    }
