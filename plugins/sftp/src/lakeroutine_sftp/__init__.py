"""lakeroutine-sftp: the ``sftp://`` storage backend for lakeroutine's StagingExecutor.

Nothing here imports asyncssh at import time; connections are made on first use.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
