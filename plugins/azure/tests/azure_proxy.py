"""The generic fault proxy of ``http_fault_proxy`` with Azure Blob operations named."""

from __future__ import annotations

from typing import Any

from http_fault_proxy import FaultProxy


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


def error_body(status: int) -> tuple[str, bytes]:
    code = "ServerBusy" if status == 503 else "InternalError"
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
    )
    return "application/xml", body.encode()


def azure_proxy(upstream: str, **options: Any) -> FaultProxy:
    """A started proxy in front of Azurite."""
    return FaultProxy(upstream, classify, error_body=error_body, **options).__enter__()
