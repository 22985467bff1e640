"""One short line for an error a service answered, whatever its SDK: HTTP status, the
service's error code and a short message. SDKs paste whole response bodies into their errors
(an emulator's HTML 404 page, Azure's XML, google-api-core's JSON); users get one line.

Duck-typed on what botocore, google-api-core and azure-core errors carry, so no SDK is
imported here.
"""

from __future__ import annotations

import html
import re

MESSAGE_LIMIT = 200
_MARKUP = re.compile(r"^\s*(<\?xml|<!doctype|<html|<[A-Za-z][\w:.-]*[\s>/])", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_FIRST_OF = ("Message", "message", "title", "h1", "Code")


def service_error_text(exc: BaseException) -> str:
    """``[Operation: ]HTTP 404 NoSuchKey: short message`` for an SDK's error; any other
    error's own text cut to one short line. Never a raw HTML or XML body."""
    status, code, message = _status_code_message(exc)
    if status is None and not code and not _looks_like_markup(message):
        return message or type(exc).__name__  # not a service's answer: its own text, whole
    message = short_message(message)
    if code and code == str(status):
        code = ""  # botocore uses the status as the code of a body it could not parse
    head = " ".join(part for part in (f"HTTP {status}" if status else "", code) if part)
    operation = getattr(exc, "operation_name", None)
    if isinstance(operation, str) and operation and head:
        head = f"{operation}: {head}"
    if head and message:
        return f"{head}: {message}"
    return head or message or type(exc).__name__


def short_message(text: object, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` as one line of at most ``limit`` characters: a markup body (an HTML page, an
    XML error document) reduced to its message or title, other text to its first line."""
    text = str(text or "").strip()
    if _looks_like_markup(text):
        text = _from_markup(text)
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def _looks_like_markup(text: str) -> bool:
    """Whether ``text`` is (or holds) an HTML page or an XML document."""
    return bool(_MARKUP.match(text)) or "<html" in text.lower() or "<?xml" in text


def _from_markup(text: str) -> str:
    """The first of an error document's ``<Message>``, ``<title>``, ``<h1>`` or ``<Code>``
    texts, else the document's text without its tags."""
    for tag in _FIRST_OF:
        found = re.search(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", text, re.DOTALL)
        if found and found.group(1).strip():
            return html.unescape(_TAG.sub(" ", found.group(1))).strip()
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _status_code_message(exc: BaseException) -> tuple[int | None, str, str]:
    """The HTTP status, error code and message an SDK's error carries, where it does."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and ("Error" in response or "ResponseMetadata" in response):
        error = response.get("Error") or {}  # botocore's ClientError
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return _int(status), str(error.get("Code") or ""), str(error.get("Message") or "")
    status_code = getattr(exc, "status_code", None)  # azure-core's HttpResponseError
    if status_code is not None and hasattr(exc, "reason"):
        code = getattr(exc, "error_code", None) or ""
        message = getattr(exc, "message", None) or getattr(exc, "reason", None) or str(exc)
        return _int(status_code), str(code), _without_azure_trailer(str(message))
    code = getattr(exc, "code", None)  # google-api-core's GoogleAPICallError
    if isinstance(code, int) and hasattr(exc, "errors"):
        reasons = [e.get("reason") for e in (exc.errors or []) if isinstance(e, dict)]
        message = getattr(exc, "message", None) or str(exc)
        return code, str(next((r for r in reasons if r), "")), str(message)
    return None, "", str(exc)


def _without_azure_trailer(message: str) -> str:
    """Azure's message up to its ``RequestId:`` / ``ErrorCode:`` / ``Content:`` trailer."""
    return re.split(r"\n\s*(RequestId|Time|ErrorCode|Content):", message, maxsplit=1)[0]


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
