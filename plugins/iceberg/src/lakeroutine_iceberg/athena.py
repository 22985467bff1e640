"""The Iceberg tasks on the AthenaExecutor: Athena SQL run through its QueryRunner (each
query's id saved in state before waiting, so a rerun re-attaches instead of writing twice).

Writes over more than 100 partitions are cut into batches below Athena's limit; a query
failing with ICEBERG_COMMIT_ERROR (a concurrent writer won) is run again after a jittered
backoff; VACUUM is repeated while Athena answers ICEBERG_VACUUM_MORE_RUNS_NEEDED. No CTAS
is used, so no failed CTAS can leave files behind: staged folders are read through a
temporary external table (metadata only), dropped at the end.
"""

from __future__ import annotations

from typing import Any

from lakeroutine.context import TaskContext
from lakeroutine.errors import TaskError, TaskRefused
from lakeroutine.sql.iceberg import parse_transform

from lakeroutine_iceberg import athena_sql as sql
from lakeroutine_iceberg.commits import backoff_s, commit_token

COMMIT_RETRIES = 8
VACUUM_ROUNDS = 100


def _runner(executor: Any, ctx: TaskContext) -> Any:
    from lakeroutine_athena.waiting import QueryRunner

    return QueryRunner(executor.client, executor.params, ctx)


def _summary(outcomes: list[Any], **extra: Any) -> dict[str, Any]:
    from lakeroutine_athena.executor import summary

    return summary(outcomes, **extra) if outcomes else extra


def run_retrying(runner: Any, ctx: TaskContext, text: str, step: str) -> Any:
    """Run one statement; ICEBERG_COMMIT_ERROR is retried with backoff (a new query)."""
    for attempt in range(COMMIT_RETRIES):
        try:
            return runner.run(text, step=step)
        except TaskError as exc:
            if "ICEBERG_COMMIT_ERROR" not in str(exc) or attempt == COMMIT_RETRIES - 1:
                raise
            ctx.logger.info("Iceberg commit conflict on %s: retrying", step)
            ctx.sleep(backoff_s(attempt, base=0.5, cap=30.0))
    raise AssertionError("unreachable")


def _rows(executor: Any, outcome: Any) -> list[list[Any]]:
    """Every row of a finished query (header row left out)."""
    from lakeroutine_athena.results import ResultReader

    reader = ResultReader(executor.client, outcome.query_execution_id)
    return [list(row) for row in reader.rows()]


def _table_columns(executor: Any, table: str) -> tuple[dict[str, str], list[str]]:
    """The Iceberg table's columns (name -> Hive type) and partition transforms, read
    from its metadata through the Glue Data Catalog Athena keeps it in (pyiceberg)."""
    from lakeroutine_iceberg import schema as ischema
    from lakeroutine_iceberg.targets import glue_target

    loaded = glue_target(executor).load(table)
    columns = ischema.describe_schema(loaded.schema())
    return columns, ischema.describe_partitioning(loaded.spec(), loaded.schema())


def _arrow_to_hive(arrow_type: Any) -> str:
    import pyarrow as pa

    checks = [
        (pa.types.is_int64, "bigint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int16, "int"),
        (pa.types.is_int8, "int"),
        (pa.types.is_float64, "double"),
        (pa.types.is_float32, "float"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_date, "date"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_binary, "binary"),
    ]
    for check, name in checks:
        if check(arrow_type):
            return name
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    raise TaskError(f"staged column type {arrow_type} has no Athena staging type")


def _staged_columns(executor: Any, files: str) -> dict[str, str]:
    """The columns of the staged Parquet (read from one file's footer)."""
    from lakeroutine_iceberg.sources import file_schema, list_parquet
    from lakeroutine_iceberg.targets import Target

    target = Target(None, executor.params.database, "", s3_options=_s3_options(executor))
    first = list_parquet(target, files)[0]
    return {f.name.lower(): _arrow_to_hive(f.type) for f in file_schema(target, first)}


def _s3_options(executor: Any) -> dict[str, Any]:
    import os

    from lakeroutine_iceberg.targets import s3_endpoint_of

    params = executor.params
    endpoint = s3_endpoint_of(params)
    options: dict[str, Any] = {"region": params.region_name or os.environ.get("AWS_DEFAULT_REGION")}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host, scheme=scheme)
    return options


class _Source:
    """The source of a write: a temporary external table over staged files, or a query."""

    def __init__(self, executor: Any, args: Any, ctx: TaskContext, runner: Any) -> None:
        self.executor, self.args, self.runner = executor, args, runner
        self.database = executor.params.database
        self.outcomes: list[Any] = []
        self.stage_name: str | None = None
        if args.files is not None:
            self.stage_name = f"lakeroutine_stage_{commit_token(ctx, 'athena')[:12]}"
            columns = _staged_columns(executor, args.files)
            ddl = sql.staging_table(self.stage_name, columns, self.database, args.files)
            self.outcomes.append(runner.run(ddl, step="stage"))
            self.text = f'"{self.database}"."{self.stage_name}"'
        else:
            self.text = f"({args.query}) AS q"

    def drop(self) -> None:
        if self.stage_name is not None:
            drop = sql.drop_table(self.stage_name, self.database)
            self.outcomes.append(self.runner.run(drop, step="unstage"))


def _plan(
    executor: Any, runner: Any, source: _Source, transforms: list[str], columns: dict[str, str]
) -> tuple[list[str], list[list[list[str | None]]], list[Any]]:
    """The partition expressions and the batches of partition values (each below the open
    writer limit, counting a bucket transform's buckets as that many partitions)."""
    fields = [parse_transform(t) for t in transforms]
    if not fields:
        return [], [[]], []
    expressions = sql.partition_expressions(fields, columns)
    factor = 1
    for field in fields:
        if field.transform == "bucket":
            factor *= field.width or 1
    size = (sql.MAX_OPEN_PARTITIONS - 1) // factor
    if size < 1:
        raise TaskError(
            f"bucket transforms make {factor} partitions per write: more than Athena's "
            f"{sql.MAX_OPEN_PARTITIONS} open writers"
        )
    if not expressions:
        return [], [[]], []
    outcome = runner.run(sql.distinct_partitions(source.text, expressions), step="partitions")
    values = _rows(executor, outcome)
    return expressions, sql.batches(values, size) if values else [], [outcome]


def _write(executor: Any, args: Any, ctx: TaskContext, statement: Any) -> dict[str, Any]:
    """Stage the source, plan the batches and run ``statement(where, number)`` per batch."""
    runner = _runner(executor, ctx)
    columns, transforms = _table_columns(executor, args.table)
    missing = [k for k in getattr(args, "keys", []) if k not in columns]
    if missing:  # a merge's keys: checked before anything is staged
        label = f"{executor.params.database}.{args.table}"
        raise TaskRefused(f"merge keys {missing} are not columns of {label}", field="args.keys")
    source = _Source(executor, args, ctx, runner)
    outcomes = list(source.outcomes)
    expressions, planned, planning = _plan(executor, runner, source, transforms, columns)
    outcomes += planning
    for number, batch in enumerate(planned):
        where = sql.batch_predicate(expressions, batch) if batch else None
        for step, text in statement(list(columns), source.text, where, number):
            outcomes.append(run_retrying(runner, ctx, text, step))
    source.drop()
    if source.stage_name is not None:
        outcomes.append(source.outcomes[-1])
    label = f"{executor.params.database}.{args.table}"
    return _summary(outcomes, table=label, batches=len(planned))


def iceberg_create_table(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """Create the table with Athena DDL (``if_exists``: skip, fail, replace)."""
    spec = args.table
    if spec.location is None:
        raise TaskError("table.location: Athena needs an s3:// location for an Iceberg table")
    runner = _runner(executor, ctx)
    database = executor.params.database
    outcomes = []
    if args.if_exists == "replace":
        outcomes.append(runner.run(sql.drop_table(spec.name, database), step="drop"))
    ddl = sql.create_table(spec, database, spec.location)
    if args.if_exists == "fail":
        ddl = ddl.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1)
    outcomes.append(runner.run(ddl, step="create"))
    return _summary(outcomes, table=f"{database}.{spec.name}", location=spec.location)


def iceberg_append(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """INSERT the staged rows (a batch of partitions per statement)."""
    if getattr(args, "branch", None):
        raise TaskError("branch: Athena's SQL writes main only; use the GlueExecutor for a branch")
    database = executor.params.database

    def statement(columns: list[str], source: str, where: str | None, number: int) -> Any:
        yield f"insert{number}", sql.insert(args.table, database, columns, source, where)

    return _write(executor, args, ctx, statement)


def iceberg_merge(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """MERGE on the keys per batch of partitions; ``delete_missing`` then DELETEs."""
    database = executor.params.database

    def statement(columns: list[str], source: str, where: str | None, number: int) -> Any:
        yield f"merge{number}", sql.merge(args.table, database, columns, args.keys, source, where)

    result = _write(executor, args, ctx, statement)
    if args.delete_missing:
        runner = _runner(executor, ctx)
        source = _Source(executor, args, ctx, runner)
        text = sql.delete_missing(args.table, database, args.keys, source.text)
        run_retrying(runner, ctx, text, "delete_missing")
        source.drop()
        result["deleted_missing"] = True
    return result


def iceberg_overwrite(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """Per batch of partitions: DELETE what the source's partitions hold, then INSERT."""
    database = executor.params.database

    def statement(columns: list[str], source: str, where: str | None, number: int) -> Any:
        yield f"delete{number}", sql.delete_where(args.table, database, where or "TRUE")
        yield f"insert{number}", sql.insert(args.table, database, columns, source, where)

    return _write(executor, args, ctx, statement)


def iceberg_evolve(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """ADD COLUMNS and CHANGE COLUMN (rename, widen), every change checked against the
    table before the first statement runs; partitioning and sort order cannot be changed
    with Athena DDL: run that evolve on the GlueExecutor (pyiceberg)."""
    from lakeroutine.sql.iceberg import is_widening

    if args.partitioned_by is not None or args.sort_order is not None:
        raise TaskError(
            "partitioned_by / sort_order: Athena has no DDL to change them; run this "
            "iceberg_evolve on a GlueExecutor"
        )
    database = executor.params.database
    label = f"{database}.{args.table}"
    columns, _ = _table_columns(executor, args.table)
    adds = {n: t for n, t in args.add_columns.items() if n not in columns}
    after = {**columns, **adds}
    renames = {}
    for old, new in args.rename_columns.items():
        if old in after:
            renames[old] = new
            after[new] = after.pop(old)
        elif new not in after:
            raise TaskRefused(f"{label} has no column {old!r}", field=f"args.rename_columns.{old}")
    for name, type_name in args.widen_columns.items():
        current = after.get(name)
        if current is None:
            raise TaskRefused(f"{label} has no column {name!r}", field=f"args.widen_columns.{name}")
        if current and not is_widening(current, type_name):
            raise TaskRefused(
                f"{current} to {type_name} could lose data", field=f"args.widen_columns.{name}"
            )
    runner = _runner(executor, ctx)
    outcomes = []
    if adds:
        outcomes.append(runner.run(sql.add_columns(args.table, database, adds), step="add"))
    for old, new in renames.items():
        text = sql.change_column(args.table, database, old, new, after[new])
        outcomes.append(runner.run(text, step=f"rename_{old}"))
    for name, type_name in args.widen_columns.items():
        text = sql.change_column(args.table, database, name, name, type_name)
        outcomes.append(runner.run(text, step=f"widen_{name}"))
    return _summary(outcomes, table=label)


def iceberg_maintain(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """OPTIMIZE when a partition has more small files than the policy allows; VACUUM
    (expiry and orphans, per vacuum_* properties) repeated until Athena says it is done."""
    database = executor.params.database
    runner = _runner(executor, ctx)
    outcomes: list[Any] = []
    result: dict[str, Any] = {"table": f"{database}.{args.table}"}
    if args.compact is not None:
        policy = args.compact
        small = int((policy.small_file_mb or policy.target_file_mb / 4) * 1024 * 1024)
        found = runner.run(
            sql.small_file_partitions(args.table, database, small, policy.min_small_files),
            step="small_files",
        )
        outcomes.append(found)
        crowded = _rows(executor, found)
        result["partitions_to_compact"] = len(crowded)
        if crowded:
            props = {
                "optimize_rewrite_min_data_file_size_bytes": str(small),
                "write_target_data_file_size_bytes": str(policy.target_file_mb * 1024**2),
            }
            outcomes.append(
                runner.run(sql.set_properties(args.table, database, props), step="optimize_props")
            )
            text = sql.optimize(args.table, database)
            outcomes.append(run_retrying(runner, ctx, text, "optimize"))
    if args.expire_older_than_days is not None or args.remove_orphans_older_than_hours is not None:
        seconds = [d * 86400 for d in [args.expire_older_than_days] if d is not None]
        seconds += [h * 3600 for h in [args.remove_orphans_older_than_hours] if h is not None]
        props = {
            "vacuum_max_snapshot_age_seconds": str(int(min(seconds))),
            "vacuum_min_snapshots_to_keep": str(args.retain_last),
        }
        outcomes.append(
            runner.run(sql.set_properties(args.table, database, props), step="vacuum_props")
        )
        rounds = 0
        for rounds in range(1, VACUUM_ROUNDS + 1):
            try:
                outcomes.append(
                    run_retrying(runner, ctx, sql.vacuum(args.table, database), f"vacuum{rounds}")
                )
                break
            except TaskError as exc:
                if "ICEBERG_VACUUM_MORE_RUNS_NEEDED" not in str(exc):
                    raise
                ctx.logger.info("VACUUM round %d: more runs needed", rounds)
        else:
            raise TaskError(f"VACUUM still needs more runs after {VACUUM_ROUNDS} rounds")
        result["vacuum_rounds"] = rounds
    return _summary(outcomes, **result)


def iceberg_query(executor: Any, args: Any, ctx: TaskContext) -> dict[str, Any]:
    """Run the query on Athena as written (Athena reads FOR VERSION AS OF itself)."""
    from lakeroutine_athena.results import ResultReader, preview_rows

    outcome = _runner(executor, ctx).run(args.sql)
    reader = ResultReader(executor.client, outcome.query_execution_id)
    return _summary([outcome], **preview_rows(reader, args.preview_rows))
