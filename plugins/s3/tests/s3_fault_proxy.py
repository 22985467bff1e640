"""A loopback HTTP proxy in front of moto's server: counts S3 operations and injects faults.

Faults, chosen at random (seeded) for a share of requests:
- ``slowdown``: answer 503 SlowDown without forwarding;
- ``internal``: answer 500 InternalError without forwarding;
- ``drop``: close the connection without forwarding or answering;
- ``lost_reply``: forward (the request lands on the server), then close without answering;
- ``late_error``: forward (the request lands), then answer 500 instead of the real reply.

With ``enforce_conditions=True`` it also enforces what S3 enforces and moto ignores: each
key's ``ETag`` in DeleteObjects, ``If-Match`` on DeleteObject and ``If-None-Match: *`` on
CopyObject (answering 412 PreconditionFailed as S3 does). ``deny`` answers chosen
requests 403 AccessDenied without forwarding them (``deny_reads``: objects the login may
list but not read, which moto cannot make).
"""

from __future__ import annotations

import http.client
import random
import threading
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

FAULTS = ("slowdown", "internal", "drop", "lost_reply", "late_error")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
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
    copy_source: str = ""  # a copy's ``bucket/key`` (unquoted), else empty


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


def deny_reads(unreadable: set[tuple[str, str]]) -> Callable[[Request], bool]:
    """``deny`` for :class:`FaultProxy`: reads of the ``(bucket, key)`` objects in
    ``unreadable`` (HEAD, GET, a copy's source) are refused, as S3 refuses a login allowed
    ``s3:ListBucket`` but not ``s3:GetObject`` on them; listings still name them."""

    def deny(request: Request) -> bool:
        if request.operation in ("GetObject", "HeadObject"):
            return (request.bucket, unquote(request.key)) in unreadable
        if request.copy_source:
            return tuple(request.copy_source.split("/", 1)) in unreadable
        return False

    return deny


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
        enforce_conditions: bool = False,
        deny: Callable[[Request], bool] | None = None,
    ) -> None:
        parsed = urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.fault_rate = fault_rate
        self.faults = faults
        self.only = only  # which operations may be faulted (default: all)
        self.before_forward = before_forward
        self.rewrite = rewrite  # the body to forward instead (a corrupting network)
        self.rewrite_reply = rewrite_reply  # the reply body to send back instead
        self.enforce_conditions = enforce_conditions
        self.deny = deny  # requests answered 403 AccessDenied, as an IAM policy would
        self.refused: list[str] = []  # keys whose condition failed
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

    def _upstream(self, method: str, path: str, headers: dict[str, str] | None = None):
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(method, path, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            connection.close()

    def _etag(self, bucket: str, key: str, headers: dict[str, str]) -> str | None:
        """The current ETag of an object (unquoted), or None if there is none."""
        from urllib.parse import quote

        auth = {k: v for k, v in headers.items() if k.lower() in ("authorization", "x-amz-date")}
        status, reply, _ = self._upstream("HEAD", f"/{bucket}/{quote(key)}", auth)
        if status != 200:
            return None
        return {k.lower(): v for k, v in reply.items()}.get("etag", "").strip('"')

    def _delete_objects(self, bucket: str, body: bytes, headers: dict[str, str]) -> bytes:
        """DeleteObjects as S3 does it, with each key's ETag condition enforced: keys whose
        object has another ETag are kept and answered PreconditionFailed."""
        from urllib.parse import quote

        root = ET.fromstring(body)
        ns = {"s3": S3_NS} if root.tag.startswith("{") else {}
        find = (lambda e, name: e.find(f"s3:{name}", ns)) if ns else (lambda e, n: e.find(n))
        objects = root.findall("s3:Object", ns) if ns else root.findall("Object")
        result = ET.Element("DeleteResult", xmlns=S3_NS)
        auth = {k: v for k, v in headers.items() if k.lower() in ("authorization", "x-amz-date")}
        for item in objects:
            key = find(item, "Key").text or ""
            etag_node = find(item, "ETag")
            if etag_node is not None and etag_node.text:
                current = self._etag(bucket, key, headers)
                if current is not None and current != etag_node.text.strip('"'):
                    with self.lock:
                        self.refused.append(key)
                    error = ET.SubElement(result, "Error")
                    ET.SubElement(error, "Key").text = key
                    ET.SubElement(error, "Code").text = "PreconditionFailed"
                    ET.SubElement(
                        error, "Message"
                    ).text = "At least one of the preconditions failed"
                    continue
            self._upstream("DELETE", f"/{bucket}/{quote(key)}", auth)
        return ET.tostring(result, xml_declaration=True, encoding="UTF-8")

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
                source = unquote(headers.get("x-amz-copy-source", "").split("?")[0])
                request = Request(
                    operation,
                    parts[0],
                    parts[1] if len(parts) > 1 else "",
                    body,
                    fault,
                    source.lstrip("/"),
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
                if proxy.deny is not None and proxy.deny(request):
                    return self._error(403, "AccessDenied")
                if proxy.before_forward is not None:
                    proxy.before_forward(request)
                if proxy.rewrite is not None:
                    body = proxy.rewrite(request)
                if proxy.enforce_conditions:
                    if operation == "DeleteObjects":
                        payload = proxy._delete_objects(request.bucket, body, headers)
                        return self._reply(200, [("Content-Type", "application/xml")], payload)
                    condition = None
                    if operation == "DeleteObject" and "if-match" in headers:
                        current = proxy._etag(request.bucket, unquote(request.key), headers)
                        condition = current is not None and current != headers["if-match"].strip(
                            '"'
                        )
                    if operation == "CopyObject" and headers.get("if-none-match") == "*":
                        condition = (
                            proxy._etag(request.bucket, unquote(request.key), headers) is not None
                        )
                    if condition:
                        with proxy.lock:
                            proxy.refused.append(request.key)
                        return self._error(412, "PreconditionFailed")
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
