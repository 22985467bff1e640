"""lakeroutine-duckdb: the DuckDBExecutor, Athena's local twin over local files."""
