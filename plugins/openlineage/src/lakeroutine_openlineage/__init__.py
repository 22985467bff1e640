"""lakeroutine-openlineage: OpenLineage run events for every routine task."""

__version__ = "0.1.0"
