"""GlueExecutor: Data Catalog databases, tables and partitions; Glue jobs and crawlers."""

from __future__ import annotations

from typing import Any

from lakeroutine.aws import AwsExecutor
from lakeroutine.context import TaskContext
from lakeroutine.errors import RoutineError
from lakeroutine.executor import task

from lakeroutine_glue import catalog_tasks, crawlers, jobs
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

_NEEDS_DATABASE = ("create_database", "create_table", "add_partitions", "create_or_update_crawler")


class GlueExecutor(AwsExecutor):
    """Registers tables in the Glue Data Catalog and runs Glue jobs and crawlers."""

    name = "GlueExecutor"
    service = "glue"
    Params = GlueParams
    params: GlueParams

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
        return catalog_tasks.create_database(self.client, self.database, args)

    @task
    def create_table(self, args: CreateTableArgs, ctx: TaskContext) -> dict[str, Any]:
        """Register a table of the shared spec in the catalog (formats, SerDe, partitions)."""
        from lakeroutine.lineage import Table

        result = catalog_tasks.create_table(self.client, self.database, args, ctx)
        spec = args.table
        columns = [*spec.columns.items(), *spec.partitioned_by.items()]
        region = self.client.meta.region_name
        name = f"{self.database}.{spec.name}"
        ctx.lineage.wrote(Table("glue", name, region, location=spec.location, columns=columns))
        return result

    @task
    def add_partitions(self, args: AddPartitionsArgs, ctx: TaskContext) -> dict[str, Any]:
        """Add partitions to a catalog table, 100 per call; existing ones are left alone."""
        return catalog_tasks.add_partitions(self.client, self.database, args, ctx)

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
