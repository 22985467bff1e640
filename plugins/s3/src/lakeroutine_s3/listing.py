"""ListObjectsV2 pages parsed once, not twice and field by field.

botocore reads every 200 answer of S3 whole with ElementTree to look for an embedded error,
then parses it again walking its model shape by shape: on a page of 1,000 keys that is about a
quarter of the client CPU staging spends per object. :func:`install` replaces that, for
``ListObjectsV2`` only, with one parse into the same dictionary botocore would build (its
``after-call`` handlers, such as the URL-decoding of keys, still run). An answer holding
anything this parser does not know (common prefixes, owners, restore status...) is left to botocore
untouched, and so is every other operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
OPERATION = "ListObjectsV2"
EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult></ListBucketResult>'
TOP = {
    "Name": str,
    "Prefix": str,
    "MaxKeys": int,
    "KeyCount": int,
    "EncodingType": str,
    "ContinuationToken": str,
    "NextContinuationToken": str,
    "StartAfter": str,
    "Delimiter": str,
}
ENTRY = {"Key": str, "ETag": str, "Size": int, "StorageClass": str, "ChecksumType": str}


def install(events: Any, timestamp: Callable[[str], Any]) -> None:
    """Parse ``ListObjectsV2`` answers of the client owning ``events`` in one pass
    (``timestamp`` turns a LastModified text into what botocore would give)."""
    from botocore import handlers

    original = handlers._handle_200_error

    def before_parse(
        operation_model: Any, response_dict: dict[str, Any], customized_response_dict: dict, **kw
    ) -> None:
        if operation_model.name != OPERATION or response_dict.get("status_code") != 200:
            original(operation_model=operation_model, response_dict=response_dict, **kw)
            return
        try:
            root = ElementTree.fromstring(response_dict["body"])
        except ElementTree.ParseError:
            response_dict["status_code"] = 500  # a cut answer: retried, as botocore does
            return
        parsed = parse_page(root, timestamp)
        if root.tag == "Error" or parsed is None:
            original(operation_model=operation_model, response_dict=response_dict, **kw)
            return
        customized_response_dict.update(parsed)
        response_dict["body"] = EMPTY  # botocore's own parse has nothing left to do

    events.unregister("before-parse.s3.*", original)
    events.register_first("before-parse.s3.*", before_parse)


def parse_page(root: ElementTree.Element, timestamp: Callable[[str], Any]) -> dict | None:
    """The dictionary botocore parses from a ListObjectsV2 page, or None if the page holds
    an element this parser does not know."""
    parsed: dict[str, Any] = {}
    contents: list[dict[str, Any]] = []
    for element in root:
        tag = element.tag.replace(NS, "")
        if tag == "Contents":
            entry = parse_entry(element, timestamp)
            if entry is None:
                return None
            contents.append(entry)
        elif tag == "IsTruncated":
            parsed[tag] = (element.text or "").strip() == "true"
        elif tag in TOP:
            parsed[tag] = TOP[tag](element.text or "")
        else:
            return None
    if contents:
        parsed["Contents"] = contents
    return parsed


def parse_entry(element: ElementTree.Element, timestamp: Callable[[str], Any]) -> dict | None:
    """One ``Contents`` entry as botocore gives it, or None if it holds an unknown element."""
    entry: dict[str, Any] = {}
    for field in element:
        tag = field.tag.replace(NS, "")
        if tag == "LastModified":
            entry[tag] = timestamp(field.text or "")
        elif tag == "ChecksumAlgorithm":  # a list in botocore's model
            entry.setdefault(tag, []).append(field.text or "")
        elif tag in ENTRY:
            entry[tag] = ENTRY[tag](field.text or "")
        else:
            return None
    return entry
