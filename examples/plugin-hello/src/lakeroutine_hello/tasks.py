"""``count_landing``: a task this plugin adds to the built-in StagingExecutor.

Registered with the ``register_tasks`` hook; lakeroutine calls it with the StagingExecutor
of the routine block, so it sees that block's validated params and storages.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from lakeroutine.context import TaskContext
from lakeroutine.executor import Params
from pydantic import Field

if TYPE_CHECKING:
    from lakeroutine.staging.executor import StagingExecutor


class CountArgs(Params):
    """Which landing files to count."""

    pattern: str = Field("*", min_length=1, description="Glob on paths below the landing folder")


def count_landing(executor: StagingExecutor, args: CountArgs, ctx: TaskContext) -> dict[str, Any]:
    """Count the files (and bytes) waiting in the block's landing location."""
    storage, location = executor.source, executor.parent  # built with the block's options
    files = total = 0
    for info in storage.list_files(location):
        ctx.check_cancelled()
        if fnmatchcase(info.relpath, args.pattern):
            files += 1
            total += info.size
    return {"location": location, "files": files, "bytes": total}
