"""lakeroutine-s3: the ``s3://`` storage backend for lakeroutine's StagingExecutor.

Nothing here imports boto3 at import time; the client is built on first use.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
