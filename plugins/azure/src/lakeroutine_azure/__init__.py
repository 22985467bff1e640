"""lakeroutine-azure: the ``az://`` storage backend for lakeroutine's StagingExecutor.

Nothing here imports azure-storage-blob at import time; the client is built on first use.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
