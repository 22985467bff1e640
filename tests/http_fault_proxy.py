"""A loopback HTTP proxy in front of a storage emulator, for the GCS and Azure plugins' tests:
counts requests by operation, injects faults, and can enforce what an emulator ignores.

Faults, chosen at random (seeded) for a share of requests:
- ``unavailable``: answer 503 without forwarding;
- ``internal``: answer 500 without forwarding;
- ``drop``: close the connection without forwarding or answering;
- ``lost_reply``: forward (the request lands on the server), then close without answering;
- ``late_error``: forward (the request lands), then answer 500 instead of the real reply.

``classify(method, path, query, headers)`` names each request's operation; ``enforce(request,
forward)`` may answer a request itself (a precondition the emulator ignores), given a
function that sends any request upstream. Conditional requests are enforced one at a time.
``deny(request)`` refuses a request 403 without forwarding it (an object the login may list
but not read, which no emulator can make).
"""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULTS = ("unavailable", "internal", "drop", "lost_reply", "late_error")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that dropped its connection (after a lost reply) is expected here."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Request:
    """One request the proxy received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    operation: str
    fault: str | None = None
    answered: int | None = field(default=None)  # the status sent back, if any


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


Forward = Callable[[str, str, dict[str, str], bytes], Reply]


class FaultProxy:
    """Start with ``with FaultProxy(upstream, classify=...) as proxy: proxy.url``."""

    def __init__(
        self,
        upstream: str,
        classify: Callable[[str, str, dict[str, list[str]], dict[str, str]], str],
        *,
        fault_rate: float = 0.0,
        seed: int = 0,
        faults: tuple[str, ...] = FAULTS,
        only: Callable[[str], bool] | None = None,
        enforce: Callable[[Request, Forward], Reply | None] | None = None,
        deny: Callable[[Request], bool] | None = None,
        error_body: Callable[[int], tuple[str, bytes]] = lambda status: ("text/plain", b"fault"),
    ) -> None:
        parsed = urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.upstream_url = f"http://{self.upstream[0]}:{self.upstream[1]}"
        self.classify = classify
        self.fault_rate = fault_rate
        self.faults = faults
        self.only = only
        self.enforce = enforce
        self.deny = deny
        self.error_body = error_body
        self.random = random.Random(seed)
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.conditional = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
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

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Send one request upstream and return its whole reply."""
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            sent = {k: v for k, v in sent.items() if k.lower() != "content-length"}
            if body or method in ("PUT", "POST"):
                sent["Content-Length"] = str(len(body))
            upstream.request(method, path, body=body, headers=sent)
            answer = upstream.getresponse()
            return Reply(answer.status, answer.getheaders(), answer.read())
        finally:
            upstream.close()

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

            def _reply(self, reply: Reply) -> None:
                self.send_response(reply.status)
                head = self.command == "HEAD"
                for name, value in reply.headers:
                    lower = name.lower()
                    if lower == "location":  # resumable upload sessions: through us too
                        value = value.replace(proxy.upstream_url, proxy.url)
                    if lower not in HOP_BY_HOP and (head or lower != "content-length"):
                        self.send_header(name, value)
                if not head:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if not head:
                    self.wfile.write(reply.body)

            def _error(self, status: int) -> None:
                kind, body = proxy.error_body(status)
                self._reply(Reply(status, [("Content-Type", kind)], body))

            def _serve(self) -> None:
                body = self._read_body()
                split = urlsplit(self.path)
                query = parse_qs(split.query, keep_blank_values=True)
                headers = dict(self.headers.items())
                lower = {k.lower(): v for k, v in headers.items()}
                operation = proxy.classify(self.command, split.path, query, lower)
                request = Request(self.command, split.path, query, lower, body, operation)
                request.fault = proxy._choose(operation)
                with proxy.lock:
                    proxy.requests.append(request)
                if proxy.deny is not None and proxy.deny(request):
                    request.fault = "denied"
                    return self._error(403)
                fault = request.fault
                if fault in ("unavailable", "internal"):
                    return self._error(503 if fault == "unavailable" else 500)
                if fault == "drop":
                    self.close_connection = True
                    return None
                reply = None
                if proxy.enforce is not None:
                    with proxy.conditional:
                        reply = proxy.enforce(request, proxy.forward)
                        if reply is None:
                            reply = proxy.forward(self.command, self.path, headers, body)
                else:
                    reply = proxy.forward(self.command, self.path, headers, body)
                if fault == "lost_reply":
                    self.close_connection = True
                    return None
                if fault == "late_error":
                    return self._error(500)
                request.answered = reply.status
                return self._reply(reply)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _serve

        return Handler
