"""lakeroutine-athena: the AthenaExecutor (databases, tables, partitions, queries, CTAS)."""
