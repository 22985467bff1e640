"""Where ``lakeroutine run --report`` goes: a local file, or a URI of an installed storage
(``s3://bucket/reports/run.json``). Either is proven writable before the run, by writing
there, so that a bad target stops the run before anything moves."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from lakeroutine.errors import RoutineError
from lakeroutine.results import RunResult, check_writable
from lakeroutine.storage.registry import scheme_of

if TYPE_CHECKING:
    from lakeroutine.plugins import Registry


def is_local(target: str) -> bool:
    """Whether ``target`` is a local path (or ``file://`` URL) rather than a storage URI."""
    return scheme_of(target) == "file"


def _local_path(target: str) -> Path:
    return Path(target.removeprefix("file://")).expanduser()


def check_report_target(
    target: str, registry: Registry | None = None, option: str = "--report"
) -> None:
    """Raise RoutineError unless a report can be written at ``target``: a local folder is
    created and a temporary file written there; a URI gets a small probe object beside
    the report, deleted again (``registry`` serves the URI's storage). ``option`` names the
    setting the target came from (the CLI's ``--report``, a scheduler's ``report=``)."""
    if is_local(target):
        check_writable(_local_path(target), option)
        return
    if registry is None:
        raise RoutineError(f"{option} {target}: no storage plugins loaded to write it")
    probe = f"{target}.probe-{uuid.uuid4().hex[:12]}"
    try:
        storage = registry.storages().for_url(target)
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "probe"
            local.write_bytes(b"")
            storage.upload(local, probe)
        storage.delete_many([probe])
    except Exception as exc:
        raise RoutineError(f"{option} {target}: cannot write there ({exc})") from None


def write_report(result: RunResult, target: str, registry: Registry | None = None) -> None:
    """Write the run's report (secrets masked) at ``target``, a local path or a URI."""
    if is_local(target):
        result.write_json(_local_path(target))
        return
    from lakeroutine.redact import process_redactor

    if registry is None:
        raise RoutineError(f"--report {target}: no storage plugins loaded to write it")
    data = process_redactor().walk(result.to_dict())
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / "report.json"
        local.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        registry.storages().for_url(target).upload(local, target)
