"""Built-in per-file transformations for the StagingExecutor's ``py_exec_path``.

Use one as ``"py_exec_path": "lakeroutine.transforms:csv_to_parquet"``; ``py_exec_args`` are
its keyword arguments. Each reads a local ``source`` and writes next to ``target``.
"""

from __future__ import annotations

from pathlib import Path

# What each function needs beyond the core, read (never imported) by `lakeroutine validate`.
__lakeroutine_requires__ = {
    "csv_to_parquet": {"pyarrow": "pip install pyarrow (the core's extra 'parquet')"}
}


def csv_to_parquet(
    source: Path,
    target: Path,
    *,
    mapper: dict[str, str] | None = None,
    delimiter: str = ",",
    compression: str = "snappy",
    use_threads: bool | None = None,
) -> Path:
    """Write a CSV file as Parquet, renaming columns by ``mapper`` (the notebook's argument).
    Column types are inferred. Needs pyarrow (the core's extra ``parquet``).

    ``use_threads``: pyarrow's threaded CSV reader; by default only when this call has
    more than one CPU to itself (:func:`lakeroutine.concurrency.cpu_share`): with as many
    files transformed at once as there are CPUs, each file's reader threads would only
    contend with the other files' work.

    The output is ``target``'s whole name plus ``.parquet`` (``sales.csv`` ->
    ``sales.csv.parquet``, ``sales.2024-01-01`` -> ``sales.2024-01-01.parquet``), so two
    distinct inputs never write one output."""
    try:
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(
            "csv_to_parquet needs pyarrow: pip install pyarrow (the core's extra 'parquet')"
        ) from exc
    from lakeroutine.concurrency import cpu_share

    threaded = cpu_share() > 1 if use_threads is None else use_threads
    table = pa_csv.read_csv(
        source,
        read_options=pa_csv.ReadOptions(use_threads=threaded),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter),
    )
    if mapper:
        table = table.rename_columns([mapper.get(name, name) for name in table.column_names])
    output = target.with_name(target.name + ".parquet")
    pq.write_table(table, output, compression=compression)
    return output


csv_to_parquet.__lakeroutine_workers__ = "threads"  # type: ignore[attr-defined]  # pyarrow: GIL-free


def rename_csv_columns(
    source: Path, target: Path, *, mapper: dict[str, str] | None = None, delimiter: str = ","
) -> Path:
    """Copy a CSV file, renaming header columns by ``mapper``; standard library only."""
    import csv

    mapper = mapper or {}
    with source.open(newline="") as src, target.open("w", newline="") as dst:
        rows = csv.reader(src, delimiter=delimiter)
        writer = csv.writer(dst, delimiter=delimiter)
        writer.writerow([mapper.get(column, column) for column in next(rows, [])])
        writer.writerows(rows)
    return target
