"""Shared by lakeroutine-openlineage's tests: reading emitted events, validating them against
the vendored OpenLineage JSON schemas, and a loopback HTTP server that records what it gets."""

from __future__ import annotations

import json
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).parent / "schemas"
EVENT_REF = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def file_transport(folder: Path, monkeypatch: Any) -> Path:
    """Send this test's events to a file in ``folder`` through the client's file transport,
    configured as users do (an ``openlineage.yml`` named by ``OPENLINEAGE_CONFIG``), with no
    ``OPENLINEAGE*`` setting or Airflow task context (``AIRFLOW_CTX_*``, left behind by
    Airflow's in-process runs) of the process leaking in; the file's path."""
    import os

    events = folder / "lineage.jsonl"
    config = folder / "openlineage.yml"
    config.write_text(
        f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n", encoding="utf-8"
    )
    for name in list(os.environ):
        if name.startswith(("OPENLINEAGE", "AIRFLOW_CTX_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
    return events


def valid_events(path: Path) -> list[dict[str, Any]]:
    """The events written to ``path``, each checked against the OpenLineage schemas."""
    events = read_events(path)
    for event in events:
        validate_event(event)
    return events


def staging_lineage(
    events_file: Path, namespace: str, landing: str, staging: str, files: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The COMPLETE events of a staging run's ``transfer`` and ``post_staging``, checked:
    every event valid, one prefix-level dataset on each side of the transfer, named
    ``(namespace, landing)`` and ``(namespace, staging)``, with the file and byte counts of
    ``files`` (name -> content)."""
    events = valid_events(events_file)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 2
    transfer, post = events[1], events[3]
    [read], [staged] = transfer["inputs"], transfer["outputs"]
    assert (read["namespace"], read["name"]) == (namespace, landing)
    assert (staged["namespace"], staged["name"]) == (namespace, staging)
    size = sum(len(body) for body in files.values())
    assert staged["outputFacets"]["outputStatistics"]["fileCount"] == len(files)
    assert staged["outputFacets"]["outputStatistics"]["size"] == size
    assert read["inputFacets"]["inputStatistics"]["size"] == size
    return transfer, post


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events a file transport (``append: true``) wrote, one JSON document a line."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@cache
def _registry() -> Any:
    from referencing import Registry, Resource

    resources = []
    for path in sorted(SCHEMAS.rglob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def _validator(ref: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"$ref": ref}, registry=_registry())


def validate_event(event: dict[str, Any]) -> None:
    """Raise unless ``event`` is a valid RunEvent and each facet valid by its own schema."""
    _validator(EVENT_REF).validate(event)
    facets: list[dict[str, Any]] = [
        *event["run"].get("facets", {}).values(),
        *event["job"].get("facets", {}).values(),
    ]
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        for key in ("facets", "inputFacets", "outputFacets"):
            facets.extend(dataset.get(key, {}).values())
    known = {res for res in _registry()}
    for facet in facets:
        url = facet["_schemaURL"]
        base = url.split("#", 1)[0]
        assert base in known, f"no vendored schema for {url} (add it to tests/schemas/facets)"
        _validator(url).validate(facet)


class Recorder(BaseHTTPRequestHandler):
    """Records each POST body (JSON) and answers 200."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.server.received.append(  # type: ignore[attr-defined]
            (self.path, dict(self.headers), json.loads(body))
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LineageServer:
    """A Marquez-compatible endpoint on loopback (port 0) that records what it receives."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.httpd.received = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def received(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        return self.httpd.received  # type: ignore[attr-defined]

    def __enter__(self) -> LineageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
