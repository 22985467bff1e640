"""What fake-gcs-server ignores, enforced in front of it: ``ifGenerationMatch`` on deletes
(alone or inside a batch request), rewrites and resumable uploads, ``ifSourceGenerationMatch``
on rewrites; objects that may be listed but not read. Plus the generic fault injection of
``http_fault_proxy``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from http_fault_proxy import FaultProxy, Forward, Reply, Request


def classify(method: str, path: str, query: dict[str, list[str]], headers: dict) -> str:
    """The GCS JSON API operation of a request."""
    if path.startswith("/batch/"):
        return "batch"
    if "/rewriteTo/" in path:
        return "rewrite"
    if path.startswith("/upload/"):
        if method == "PUT":
            return "upload_chunk"
        kind = (query.get("uploadType") or [""])[0]
        return "resumable_start" if kind == "resumable" else "upload"
    if path.startswith("/download/") or query.get("alt") == ["media"]:
        return "download"
    parts = path.strip("/").split("/")  # storage v1 b BUCKET [o [KEY]]
    if method == "DELETE":
        return "delete"
    if len(parts) <= 4:
        return "get_bucket" if method == "GET" else "bucket"
    if len(parts) == 5:
        return "list"
    return "get_object"


def split_object(path: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``/storage/v1/b/BUCKET/o/KEY``."""
    rest = path.split("/b/", 1)[1]
    bucket, _, key = rest.partition("/o/")
    return unquote(bucket), unquote(key)


def generation(forward: Forward, bucket: str, key: str) -> int | None:
    """The current generation of an object, asked of the emulator, or None if missing."""
    reply = forward("GET", f"/storage/v1/b/{quote(bucket, '')}/o/{quote(key, '')}", {}, b"")
    if reply.status == 404:
        return None
    return int(json.loads(reply.body)["generation"])


def deny_reads(unreadable: set[tuple[str, str]]) -> Callable[[Request], bool]:
    """``deny`` for :class:`FaultProxy`: reads of the ``(bucket, key)`` objects in
    ``unreadable`` (metadata, media, a rewrite's source) are refused, as GCS refuses a login
    with ``storage.objects.list`` but not ``storage.objects.get``; listings still name them."""

    def deny(request: Request) -> bool:
        if request.method != "GET" and request.operation != "rewrite":
            return False
        if request.operation in ("get_object", "download"):
            return split_object(request.path.removeprefix("/download")) in unreadable
        if request.operation == "rewrite":
            return split_object(request.path.split("/rewriteTo/")[0]) in unreadable
        return False

    return deny


def precondition_failed() -> Reply:
    body = {"error": {"code": 412, "message": "Precondition Failed (enforced by the test proxy)"}}
    return Reply(412, [("Content-Type", "application/json")], json.dumps(body).encode())


def condition(request: Request, name: str) -> int | None:
    value = request.query.get(name)
    return int(value[0]) if value else None


class PreconditionEnforcer:
    """``enforce`` for :class:`FaultProxy`: refuses (412) what GCS would refuse."""

    def __init__(self) -> None:
        self.sessions: dict[str, tuple[str, str, int]] = {}  # upload_id -> bucket, key, gen
        self.enforced: list[str] = []  # operations refused here
        self.batched: list[tuple[str, str, dict[str, list[str]]]] = []  # method, path, query

    def __call__(self, request: Request, forward: Forward) -> Reply | None:
        operation = request.operation
        if operation == "batch":
            return self._batch(request, forward)
        if operation == "delete":
            wanted = condition(request, "ifGenerationMatch")
            if wanted is not None:
                current = generation(forward, *split_object(request.path))
                if current is not None and current != wanted:
                    return self._refuse(operation)
        elif operation == "rewrite":
            source_part, target_part = request.path.split("/rewriteTo/")
            target = split_object("/" + target_part)
            source = split_object(source_part)
            wanted = condition(request, "ifGenerationMatch")
            if wanted is not None and generation(forward, *target) != (wanted or None):
                return self._refuse(operation)
            wanted = condition(request, "ifSourceGenerationMatch")
            if wanted is not None and generation(forward, *source) != wanted:
                return self._refuse(operation)
        elif operation == "resumable_start":
            wanted = condition(request, "ifGenerationMatch")
            if wanted is not None:
                bucket = split_object(request.path.replace("/upload", "", 1) + "/o/")[0]
                key = (request.query.get("name") or [""])[0] or _name_in(request.body)
                if generation(forward, bucket, key) != (wanted or None):
                    return self._refuse(operation)
                return self._start_session(request, forward, bucket, key, wanted)
        elif operation == "upload_chunk":
            session = self.sessions.get((request.query.get("upload_id") or [""])[0])
            if session is not None and generation(forward, session[0], session[1]) != (
                session[2] or None
            ):
                return self._refuse(operation)
        return None

    def _start_session(
        self, request: Request, forward: Forward, bucket: str, key: str, wanted: int
    ) -> Reply:
        path = (
            request.path
            + "?"
            + "&".join(f"{k}={quote(v, '')}" for k, values in request.query.items() for v in values)
        )
        reply = forward(request.method, path, request.headers, request.body)
        for name, value in reply.headers:
            if name.lower() == "location" and "upload_id=" in value:
                upload_id = value.split("upload_id=", 1)[1].split("&", 1)[0]
                self.sessions[unquote(upload_id)] = (bucket, key, wanted)
        return reply

    def _batch(self, request: Request, forward: Forward) -> Reply:
        """A batch request: each DELETE whose ``ifGenerationMatch`` no longer holds is
        answered 412 here; the others go to the emulator in one batch."""
        boundary = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
        assert boundary, "a batch request without a multipart boundary"
        delimiter = b"--" + boundary.group(1).encode()
        calls = [p for p in request.body.split(delimiter) if b"Content-ID" in p]
        refused, passed = {}, []
        for part in calls:
            number = re.search(rb"Content-ID:\s*<(\d+)>", part).group(1).decode()
            method, target = part.split(b"\r\n\r\n", 1)[1].split(b" ")[:2]
            url = urlsplit(target.decode())
            query = parse_qs(url.query)
            self.batched.append((method.decode(), url.path.removeprefix("/storage/v1"), query))
            wanted = query.get("ifGenerationMatch")
            if method == b"DELETE" and wanted:
                current = generation(forward, *split_object(url.path))
                if current is not None and current != int(wanted[0]):
                    self.enforced.append("delete")
                    refused[number] = 412
                    continue
            passed.append(part)
        answers: list[bytes] = []  # each call's answer part: its headers and HTTP answer
        if passed:
            body = delimiter.join([b"", *passed]) + delimiter + b"--\r\n"
            reply = forward("POST", request.path, request.headers, body)
            if reply.status != 200:
                return reply
            kind = dict((k.lower(), v) for k, v in reply.headers)["content-type"]
            upstream = b"--" + re.search(r"boundary=([^;]+)", kind).group(1).encode()
            answers = [p.strip(b"\r\n") for p in reply.body.split(upstream) if b"response-" in p]
        for number, status in refused.items():
            answers.append(
                f"Content-ID: <response-{number}>\r\nContent-Type: application/http\r\n\r\n"
                f"HTTP/1.1 {status} Precondition Failed\r\n\r\n".encode()
            )
        body = b"".join(b"--batch-answer\r\n" + a + b"\r\n" for a in answers)
        headers = [("Content-Type", "multipart/mixed; boundary=batch-answer")]
        return Reply(200, headers, body + b"--batch-answer--\r\n")

    def _refuse(self, operation: str) -> Reply:
        self.enforced.append(operation)
        return precondition_failed()


def _name_in(body: bytes) -> str:
    try:
        return str(json.loads(body or b"{}").get("name") or "")
    except ValueError:
        return ""


def error_body(status: int) -> tuple[str, bytes]:
    body: dict[str, Any] = {"error": {"code": status, "message": "injected by the test proxy"}}
    return "application/json", json.dumps(body).encode()


def gcs_proxy(upstream: str, **options: Any) -> FaultProxy:
    """A started proxy enforcing GCS preconditions (and injecting faults if asked)."""
    enforcer = PreconditionEnforcer()
    proxy = FaultProxy(
        upstream, classify, enforce=enforcer, error_body=error_body, **options
    ).__enter__()
    proxy.enforcer = enforcer  # type: ignore[attr-defined]
    return proxy
