"""moto's S3 server with its CPU counted per kind of request, for ``s3_staging.py
--per-request``: where the server's time goes for each tool.

The same application and request handler as ``moto_server`` (werkzeug, a thread per
connection); each request's handling thread CPU (``time.thread_time``, moto's own work:
routing, the S3 operation, the XML answer) is added to its kind: ``copy`` (CopyObject),
``delete`` (DeleteObject), ``delete-batch`` (DeleteObjects), ``list``, ``put``, ``head``,
``get``, ``other``. ``GET /_request-cpu`` answers the counts so far as JSON
(``{kind: [requests, cpu_seconds]}``) and starts them again. Werkzeug's own HTTP parsing
and the thread per connection are not in these counts (the process's CPU, read from
``/proc`` by ``s3_staging.py``, has them).

    python benchmarks/moto_request_cpu.py PORT      # prints "ready" once listening
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

STATS_PATH = "/_request-cpu"


def kind(environ: dict[str, Any]) -> str:
    """The S3 operation a request is, as far as the per-request table needs it."""
    method = environ["REQUEST_METHOD"]
    query = environ.get("QUERY_STRING", "")
    key = environ.get("PATH_INFO", "").lstrip("/").partition("/")[2]
    if method == "PUT":
        return "copy" if "HTTP_X_AMZ_COPY_SOURCE" in environ else "put"
    if method == "POST" and "delete" in query:
        return "delete-batch"
    if method == "DELETE":
        return "delete"
    if method == "HEAD":
        return "head"
    if method == "GET":
        return "get" if key else "list"
    return "other"


class CountingApp:
    """A WSGI application that counts the CPU each kind of request costs the app under it."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.counts: dict[str, list[float]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH:
            with self.lock:
                counts, self.counts = self.counts, {}
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(counts).encode()]
        started = time.thread_time()
        body = list(self.app(environ, start_response))  # the answer is built here
        spent = time.thread_time() - started
        with self.lock:
            entry = self.counts.setdefault(kind(environ), [0, 0.0])
            entry[0] += 1
            entry[1] += spent
        return body


def main() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", int(sys.argv[1]), app, threaded=True, request_handler=MotoRequestHandler
    )
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
