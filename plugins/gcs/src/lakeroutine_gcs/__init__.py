"""lakeroutine-gcs: the ``gs://`` storage backend for lakeroutine's StagingExecutor.

Nothing here imports google-cloud-storage at import time; the client is built on first use.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
