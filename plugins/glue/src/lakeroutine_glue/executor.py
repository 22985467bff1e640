"""GlueExecutor: Data Catalog databases, tables and partitions; Glue jobs and crawlers."""

from __future__ import annotations

from typing import Any

from lakeroutine.aws import error_code, make_client
from lakeroutine.context import RunContext, TaskContext
from lakeroutine.errors import RoutineError, TaskError
from lakeroutine.executor import Executor, task

from lakeroutine_glue import catalog, crawlers, jobs
from lakeroutine_glue.models import (
    AddPartitionsArgs,
    CreateDatabaseArgs,
    CreateOrUpdateCrawlerArgs,
    CreateOrUpdateJobArgs,
    CreateTableArgs,
    GlueParams,
    StartCrawlerArgs,
    StartJobArgs,
)

PARTITION_BATCH = 100
"""Glue's BatchCreatePartition takes at most 100 partitions per call."""

_NEEDS_DATABASE = ("create_database", "create_table", "add_partitions", "create_or_update_crawler")


class GlueExecutor(Executor):
    """Registers tables in the Glue Data Catalog and runs Glue jobs and crawlers."""

    name = "GlueExecutor"
    Params = GlueParams
    params: GlueParams

    def __init__(self, params: GlueParams, context: RunContext) -> None:
        super().__init__(params, context)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The ``glue`` boto3 client, made on first use (boto3 loads lazily)."""
        if self._client is None:
            self._client = make_client("glue", self.params)
        return self._client

    def preflight(self, tasks: list[str]) -> None:
        """Refuse a routine whose catalog or crawler tasks have no database to work in."""
        needing = [name for name in tasks if name in _NEEDS_DATABASE]
        if needing and self.params.database is None:
            raise RoutineError(
                f"{', '.join(needing)} need a catalog database", field="params.database"
            )

    @property
    def database(self) -> str:
        """The params' database (the catalog tasks run only when it is set)."""
        assert self.params.database is not None  # preflight checked it
        return self.params.database

    @task
    def create_database(self, args: CreateDatabaseArgs) -> dict[str, Any]:
        """Create the params' catalog database if it does not exist."""
        database: dict[str, Any] = {"Name": self.database}
        if args.description:
            database["Description"] = args.description
        if args.location:
            database["LocationUri"] = args.location
        try:
            self.client.create_database(DatabaseInput=database)
        except Exception as exc:
            if error_code(exc) != "AlreadyExistsException":
                raise
            return {"database": self.database, "action": "skipped"}
        return {"database": self.database, "action": "created"}

    @task
    def create_table(self, args: CreateTableArgs) -> dict[str, Any]:
        """Register a table of the shared spec in the catalog (formats, SerDe, partitions)."""
        spec = args.table
        table_input = catalog.table_input(spec)
        name = f"{self.database}.{spec.name}"
        try:
            self.client.create_table(DatabaseName=self.database, TableInput=table_input)
            action = "created"
        except Exception as exc:
            code = error_code(exc)
            if code == "EntityNotFoundException":
                raise TaskError(f"Glue database {self.database!r} does not exist") from None
            if code != "AlreadyExistsException":
                raise
            if args.if_exists == "fail":
                raise TaskError(f"table {name} already exists (if_exists is 'fail')") from None
            action = "skipped"
            if args.if_exists == "update":
                self.client.update_table(DatabaseName=self.database, TableInput=table_input)
                action = "updated"
        return {
            "table": name,
            "action": action,
            "location": spec.location,
            "format": spec.format,
            "partition_keys": list(spec.partitioned_by),
        }

    @task
    def add_partitions(self, args: AddPartitionsArgs, ctx: TaskContext) -> dict[str, Any]:
        """Add partitions to a catalog table, 100 per call; existing ones are left alone."""
        try:
            table = self.client.get_table(DatabaseName=self.database, Name=args.table)["Table"]
        except Exception as exc:
            if error_code(exc) == "EntityNotFoundException":
                raise TaskError(f"table {self.database}.{args.table} does not exist") from None
            raise
        try:
            inputs = [catalog.partition_input(table, p.values, p.location) for p in args.partitions]
        except ValueError as exc:
            raise TaskError(str(exc)) from None
        added = existing = 0
        batches = 0
        for start in range(0, len(inputs), PARTITION_BATCH):
            ctx.check_cancelled()
            batch = inputs[start : start + PARTITION_BATCH]
            response = self.client.batch_create_partition(
                DatabaseName=self.database, TableName=args.table, PartitionInputList=batch
            )
            batches += 1
            errors = response.get("Errors", [])
            already = [
                e for e in errors if e["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"
            ]
            failed = [e for e in errors if e not in already]
            if failed:
                detail = failed[0]["ErrorDetail"]
                raise TaskError(
                    f"{len(failed)} partition(s) of {self.database}.{args.table} were not added, "
                    f"e.g. {failed[0]['PartitionValues']}: {detail.get('ErrorCode')}: "
                    f"{detail.get('ErrorMessage')}"
                )
            existing += len(already)
            added += len(batch) - len(already)
        return {
            "table": f"{self.database}.{args.table}",
            "added": added,
            "already_existed": existing,
            "batches": batches,
        }

    @task
    def create_or_update_job(self, args: CreateOrUpdateJobArgs, ctx: TaskContext) -> dict[str, Any]:
        """Create a Glue job; update an existing one only with ``if_exists: update``."""
        return jobs.create_or_update_job(self.client, args, ctx)

    @task
    def start_job(self, args: StartJobArgs, ctx: TaskContext) -> dict[str, Any]:
        """Start a job run (or re-attach to this task's run) and, by default, wait for it."""
        return jobs.JobRunner(self.client, self.params, args, ctx).run()

    @task
    def create_or_update_crawler(
        self, args: CreateOrUpdateCrawlerArgs, ctx: TaskContext
    ) -> dict[str, Any]:
        """Create a crawler of S3 paths into the params' database; update only if asked."""
        return crawlers.create_or_update_crawler(self.client, args, self.database, ctx)

    @task
    def start_crawler(self, args: StartCrawlerArgs, ctx: TaskContext) -> dict[str, Any]:
        """Start a crawl (joining one already running) and, by default, wait for it."""
        return crawlers.CrawlRunner(self.client, self.params, args, ctx).run()
