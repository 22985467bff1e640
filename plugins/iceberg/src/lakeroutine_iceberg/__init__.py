"""lakeroutine-iceberg: Iceberg tasks added to the DuckDB, Glue and Athena executors."""
