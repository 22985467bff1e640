"""What a task read and wrote, as its executor declares it, for observers such as lineage.

A task declares its datasets on ``ctx.lineage`` while it runs::

    ctx.lineage.read(Location("s3://lake/landing/sales/", files=12, bytes=40_960))
    ctx.lineage.wrote(Table("athena", "lake.sales", region="eu-west-1",
                            location="s3://lake/staging/sales/", columns=[("id", "bigint")]))
    ctx.lineage.query("INSERT INTO lake.sales SELECT ...", dialect="athena")
    ctx.lineage.checked(sales, Assertion("not_null", success=True, column="id"))

Lifecycle hooks (``task_finished``, ``task_failed``) read ``ctx.lineage`` back. These are
plain descriptions of storage locations and catalog tables: how they are named in a lineage
standard is the observer's business (``lakeroutine-openlineage`` names them by the
OpenLineage naming spec), so any executor, first- or third-party, takes part the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    """Files below a storage location (a prefix, a folder or one file): ``url`` as routines
    write it (``s3://bucket/prefix/``, ``gs://``, ``az://``, ``sftp://``, a local path);
    ``service`` names what the URL alone does not (an Azure storage account); ``files``,
    ``rows`` and ``bytes`` count what the task read or wrote there, where known."""

    url: str
    files: int | None = None
    rows: int | None = None
    bytes: int | None = None
    service: str | None = None


@dataclass(frozen=True)
class Table:
    """A catalog table: ``system`` is the engine that names it (``athena``, ``glue``,
    ``redshift``, ``duckdb`` or another), ``name`` its dotted name as that engine spells it
    (``database.table``; ``database.schema.table`` on Redshift). ``region``, ``catalog``,
    ``host`` (Redshift cluster or workgroup, DuckDB database file) and ``port`` place it;
    ``location`` is where its files live; ``columns`` (name, type) where the task knows them;
    ``rows`` what the task wrote, where known."""

    system: str
    name: str
    region: str | None = None
    catalog: str | None = None
    host: str | None = None
    port: int | None = None
    location: str | None = None
    columns: tuple[tuple[str, str], ...] | None = None
    rows: int | None = None

    def __post_init__(self) -> None:
        if self.columns is not None and not isinstance(self.columns, tuple):
            object.__setattr__(self, "columns", tuple((str(n), str(t)) for n, t in self.columns))


Dataset = Location | Table


@dataclass(frozen=True)
class Assertion:
    """One data quality test's outcome on a dataset: ``assertion`` its kind (``not_null``,
    ``unique``, ``row_count``...), ``success`` whether it found no issue (a ``warn`` check
    that warned did not succeed), ``column`` the column it tested (None: the whole dataset),
    ``name`` and ``severity`` (``error``/``warn``) as the routine declares them."""

    assertion: str
    success: bool
    column: str | None = None
    name: str | None = None
    severity: str | None = None


@dataclass
class TaskLineage:
    """The datasets one task attempt read and wrote, and the query it ran (if any)."""

    inputs: list[Dataset] = field(default_factory=list)
    outputs: list[Dataset] = field(default_factory=list)
    sql: str | None = None
    dialect: str | None = None
    assertions: dict[Dataset, list[Assertion]] = field(default_factory=dict)

    def read(self, *datasets: Dataset) -> None:
        """Declare datasets the task read."""
        self.inputs.extend(_checked(datasets))

    def wrote(self, *datasets: Dataset) -> None:
        """Declare datasets the task wrote (created, changed or removed files of)."""
        self.outputs.extend(_checked(datasets))

    def query(self, sql: str, dialect: str | None = None) -> None:
        """Declare the SQL the task ran (the last one counts) and its dialect (``athena``,
        ``redshift``, ``duckdb``...)."""
        self.sql, self.dialect = sql, dialect

    def checked(self, dataset: Dataset, *assertions: Assertion) -> None:
        """Declare data quality tests run on ``dataset`` and their outcomes; the dataset
        counts as read (once, however often it is checked)."""
        for item in assertions:
            if not isinstance(item, Assertion):
                raise TypeError(f"an assertion is a lakeroutine.lineage Assertion, not {item!r}")
        if dataset not in self.inputs:
            self.read(dataset)
        self.assertions.setdefault(dataset, []).extend(assertions)


def _checked(datasets: Iterable[object]) -> list[Dataset]:
    items = list(datasets)
    for item in items:
        if not isinstance(item, (Location, Table)):
            raise TypeError(f"a dataset is a lakeroutine.lineage Location or Table, not {item!r}")
    return items  # type: ignore[return-value]
