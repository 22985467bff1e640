"""The generic fault proxy of ``http_fault_proxy`` with Azure Blob operations named, and
blobs that may be listed but not read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from http_fault_proxy import FaultProxy, Request


def classify(method: str, path: str, query: dict[str, list[str]], headers: dict) -> str:
    """The Blob service operation of a request."""
    comp = (query.get("comp") or [""])[0]
    if method == "POST" and comp == "batch":
        return "batch"
    if method == "PUT":
        if comp == "block":
            return "put_block"
        if comp == "blocklist":
            return "commit"
        if "x-ms-copy-source" in headers:
            return "copy"
        return "create_container" if query.get("restype") == ["container"] else "put_blob"
    if method == "GET":
        return "list" if comp == "list" else "get_blob"
    if method == "HEAD":
        return "properties"
    if method == "DELETE":
        return "delete"
    return method


def deny_reads(unreadable: set[str]) -> Callable[[Request], bool]:
    """``deny`` for :class:`FaultProxy`: reads of the blobs in ``unreadable``
    (``container/name``: properties, content, a copy's source) are refused, as Azure refuses
    a login whose role assignment's condition excludes those blobs; listings still name them."""

    def blob(path: str) -> str:
        return unquote(path).split("/", 2)[-1]  # /account/container/name

    def deny(request: Request) -> bool:
        if request.operation in ("get_blob", "properties"):
            return blob(request.path) in unreadable
        if request.operation == "copy":
            return blob(urlsplit(request.headers["x-ms-copy-source"]).path) in unreadable
        return False

    return deny


def error_body(status: int) -> tuple[str, bytes]:
    code = {503: "ServerBusy", 403: "AuthorizationPermissionMismatch"}.get(status, "InternalError")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
    )
    return "application/xml", body.encode()


def azure_proxy(upstream: str, **options: Any) -> FaultProxy:
    """A started proxy in front of Azurite."""
    return FaultProxy(upstream, classify, error_body=error_body, **options).__enter__()
