"""A loopback HTTP proxy in front of moto's server: counts S3 operations and injects faults.

Faults, chosen at random (seeded) for a share of requests:
- ``slowdown``: answer 503 SlowDown without forwarding;
- ``internal``: answer 500 InternalError without forwarding;
- ``drop``: close the connection without forwarding or answering;
- ``lost_reply``: forward (the request lands on the server), then close without answering;
- ``late_error``: forward (the request lands), then answer 500 instead of the real reply.
"""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULTS = ("slowdown", "internal", "drop", "lost_reply", "late_error")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
    "<Message>{message}</Message><RequestId>proxy</RequestId></Error>"
)


@dataclass(frozen=True)
class Request:
    """One request the proxy received: the S3 operation, bucket, key and body."""

    operation: str
    bucket: str
    key: str
    body: bytes
    fault: str | None


def operation_of(method: str, path: str, query: dict[str, list[str]], headers: dict) -> str:
    """The S3 operation of a path-style request."""
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    copy = "x-amz-copy-source" in headers
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        if not has_key:
            return "CreateBucket"
        return "CopyObject" if copy else "PutObject"
    if method == "POST":
        if "delete" in query:
            return "DeleteObjects"
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        return "Post"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "GET":
        if has_key:
            return "GetObject"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "GetBucket"
    return method


class FaultProxy:
    """Start with ``with FaultProxy(upstream, fault_rate=0.3) as proxy: proxy.url``."""

    def __init__(
        self,
        upstream: str,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: tuple[str, ...] = FAULTS,
        only: Callable[[str], bool] | None = None,
        before_forward: Callable[[Request], None] | None = None,
        rewrite: Callable[[Request], bytes] | None = None,
        rewrite_reply: Callable[[Request, bytes], bytes] | None = None,
    ) -> None:
        parsed = urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.fault_rate = fault_rate
        self.faults = faults
        self.only = only  # which operations may be faulted (default: all)
        self.before_forward = before_forward
        self.rewrite = rewrite  # the body to forward instead (a corrupting network)
        self.rewrite_reply = rewrite_reply  # the reply body to send back instead
        self.random = random.Random(seed)
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests handled at once
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, operation: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if operation in (None, r.operation))

    def operations(self) -> Counter[str]:
        with self.lock:
            return Counter(r.operation for r in self.requests)

    def fault_counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r.fault for r in self.requests if r.fault)

    def _choose(self, operation: str) -> str | None:
        if self.only is not None and not self.only(operation):
            return None
        with self.lock:
            if self.random.random() >= self.fault_rate:
                return None
            return self.random.choice(self.faults)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                head = self.command == "HEAD"  # keeps the upstream Content-Length
                for name, value in headers:
                    lower = name.lower()
                    if lower not in HOP_BY_HOP and (head or lower != "content-length"):
                        self.send_header(name, value)
                if not head:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _error(self, status: int, code: str) -> None:
                body = ERROR_BODY.format(code=code, message="injected by the test proxy")
                self._reply(status, [("Content-Type", "application/xml")], body.encode())

            def _handle(self) -> None:
                with proxy.lock:
                    proxy.in_flight += 1
                    proxy.most_in_flight = max(proxy.most_in_flight, proxy.in_flight)
                try:
                    self._serve()
                finally:
                    with proxy.lock:
                        proxy.in_flight -= 1

            def _serve(self) -> None:
                body = self._read_body()
                split = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                operation = operation_of(
                    self.command, split.path, parse_qs(split.query, keep_blank_values=True), headers
                )
                parts = split.path.lstrip("/").split("/", 1)
                fault = proxy._choose(operation)
                request = Request(
                    operation, parts[0], parts[1] if len(parts) > 1 else "", body, fault
                )
                with proxy.lock:
                    proxy.requests.append(request)
                if fault == "slowdown":
                    return self._error(503, "SlowDown")
                if fault == "internal":
                    return self._error(500, "InternalError")
                if fault == "drop":
                    self.close_connection = True
                    return None
                if proxy.before_forward is not None:
                    proxy.before_forward(request)
                if proxy.rewrite is not None:
                    body = proxy.rewrite(request)
                forward = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                forward["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=forward)
                    answer = upstream.getresponse()
                    payload = answer.read()
                finally:
                    upstream.close()
                if fault == "lost_reply":
                    self.close_connection = True
                    return None
                if fault == "late_error":
                    return self._error(500, "InternalError")
                if proxy.rewrite_reply is not None:
                    payload = proxy.rewrite_reply(request, payload)
                return self._reply(answer.status, answer.getheaders(), payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler
