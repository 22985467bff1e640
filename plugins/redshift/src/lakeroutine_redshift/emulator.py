"""Testing support: moto's Redshift Data API made to behave enough like the service.

moto accepts statements but leaves them STARTED forever, reports no ``Error`` and has no
``BatchExecuteStatement``. ``DataApiEmulator`` fills those gaps in the emulator only, for
tests and local runs against moto's server in the same process: a background thread moves
each statement on as ``rule(statement)`` says (FINISHED by default), and a batch becomes one
statement with sub-statements, as the service reports it. Needs moto; never used against
AWS and never imported by the executor.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

Rule = Callable[[Any], Any]
"""``rule(statement)`` -> None (leave it running), ``("FINISHED", rows)``, or
``("FAILED" | "ABORTED", error[, failing sub-statement number])``."""

TERMINAL = ("FINISHED", "FAILED", "ABORTED")


def _batch_execute_statement(self: Any) -> Any:
    """BatchExecuteStatement for moto's response class: one statement holding its parts."""
    sqls = list(self._get_param("Sqls"))
    statement = self.redshiftdata_backend.execute_statement(
        cluster_identifier=self._get_param("ClusterIdentifier"),
        database=self._get_param("Database"),
        db_user=self._get_param("DbUser"),
        parameters=None,
        secret_arn=self._get_param("SecretArn"),
        sql=";\n".join(sqls),
    )
    statement.sub_statements = [
        {"Id": f"{statement.id}:{n}", "QueryString": sql, "Status": "SUBMITTED"}
        for n, sql in enumerate(sqls, start=1)
    ]
    body = {
        "Id": statement.id,
        "CreatedAt": statement.created_at,
        "Database": statement.database,
        "ClusterIdentifier": statement.cluster_identifier,
    }
    return 200, {}, json.dumps(body)


def end(statement: Any, status: str, detail: Any = None, failing: int | None = None) -> None:
    """Move a moto statement to ``status``: FINISHED with ``detail`` rows, or FAILED /
    ABORTED with ``detail`` as the service's ``Error`` (on sub-statement ``failing`` of a
    batch, the last one by default)."""
    from moto.redshiftdata.models import Statement

    subs = statement.sub_statements
    if status == "FINISHED":
        statement.result_rows = -1 if detail is None else detail
        for sub in subs:
            sub["Status"] = "FINISHED"
        statement.status = status
        return
    if subs:
        bad = (failing or len(subs)) - 1
        for n, sub in enumerate(subs):
            sub["Status"] = "FINISHED" if n < bad else ("FAILED" if n == bad else "ABORTED")
        subs[bad]["Error"] = detail

    class FailedStatement(Statement):  # moto's Statement has no Error field
        def __iter__(self) -> Iterator[tuple[str, Any]]:
            yield from super().__iter__()
            yield "Error", detail

    statement.__class__ = FailedStatement
    statement.status = status


class DataApiEmulator:
    """Adds BatchExecuteStatement to moto and moves its statements on in the background.

    Use as a context manager (or ``start()`` / ``stop()``) around the run; ``rule`` may be
    replaced at any time.
    """

    def __init__(
        self, rule: Rule | None = None, region: str = "us-east-1", interval_s: float = 0.002
    ) -> None:
        self.rule: Rule = rule or (lambda statement: ("FINISHED", None))
        self.region = region
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="data-api", daemon=True)
        self._saved: Any = None

    @property
    def backend(self) -> Any:
        """moto's redshift-data backend (looked up each time: a reset replaces it)."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.redshiftdata.models import redshiftdata_backends

        return redshiftdata_backends[DEFAULT_ACCOUNT_ID][self.region]

    @property
    def statements(self) -> list[Any]:
        """Statements (and batches) the service received, in order."""
        return list(self.backend.statements.values())

    @property
    def sql(self) -> list[str]:
        """Every SQL statement received, in order, the parts of a batch one by one."""
        texts: list[str] = []
        for statement in self.statements:
            subs = statement.sub_statements
            texts += [s["QueryString"] for s in subs] if subs else [statement.query_string]
        return texts

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for statement in self.statements:
                if statement.status in TERMINAL:
                    continue
                outcome = self.rule(statement)
                if outcome is not None:
                    end(statement, *outcome)

    def start(self) -> DataApiEmulator:
        from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse as Response

        self._saved = Response.__dict__.get("batch_execute_statement")
        Response.batch_execute_statement = _batch_execute_statement  # type: ignore[attr-defined]
        self._thread.start()
        return self

    def stop(self) -> None:
        from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse as Response

        self._stop.set()
        self._thread.join(5)
        if self._saved is None:
            del Response.batch_execute_statement  # type: ignore[attr-defined]
        else:
            Response.batch_execute_statement = self._saved  # type: ignore[attr-defined]

    def __enter__(self) -> DataApiEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
