"""SQL shared by table executors: table specs (names, types, partitions), the task argument
models every SQL executor takes, and query text with variables."""
