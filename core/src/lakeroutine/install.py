"""How to install a part of lakeroutine, said in one place for every hint.

Until the distributions are published on PyPI, ``pip install lakeroutine-s3`` finds nothing:
every hint gives the form that works from a clone of the repository (``pip install
./plugins/s3``), with the index name beside it for later. Imports nothing.
"""

from __future__ import annotations

CORE = "lakeroutine"


def source_path(distribution: str, extra: str | None = None) -> str:
    """The folder of ``distribution`` in the repository (``./plugins/s3``, ``./core``),
    with ``[extra]``, quoted for a shell when it has one."""
    folder = "core" if distribution == CORE else f"plugins/{distribution.removeprefix(CORE + '-')}"
    return f"'./{folder}[{extra}]'" if extra else f"./{folder}"


def install_hint(distribution: str, extra: str | None = None) -> str:
    """``pip install ./plugins/s3`` (from a clone of the repository; ``lakeroutine-s3`` on
    PyPI once published): what works today first, the index name beside it."""
    name = f"{distribution}[{extra}]" if extra else distribution
    return (
        f"pip install {source_path(distribution, extra)} (from a clone of the lakeroutine "
        f"repository; {name!r} on PyPI once published)"
    )


def installed_from(distribution: str) -> dict[str, str | None]:
    """Where an installed distribution came from, from its ``direct_url.json`` (PEP 610):
    ``kind`` is ``editable``, ``local folder``, ``archive``, ``vcs``, ``index`` (no
    direct URL: a package index) or ``not installed``; ``location`` the path or URL."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return {"kind": "not installed", "location": None}
    text = dist.read_text("direct_url.json")
    if not text:
        return {"kind": "index", "location": None}
    try:
        data = json.loads(text)
    except ValueError:
        return {"kind": "unknown", "location": None}
    url = str(data.get("url", ""))
    where = unquote(urlparse(url).path) if url.startswith("file://") else url
    if "vcs_info" in data:
        commit = data["vcs_info"].get("commit_id")
        return {"kind": "vcs", "location": f"{url}@{commit}" if commit else url}
    if "archive_info" in data:
        return {"kind": "archive", "location": where}
    editable = bool((data.get("dir_info") or {}).get("editable"))
    return {"kind": "editable" if editable else "local folder", "location": where}


def describe_origin(origin: dict[str, str | None]) -> str:
    """``editable from /path``, ``from local folder /path``, ``from a package index``..."""
    kind, location = origin["kind"], origin["location"]
    if kind == "index":
        return "from a package index"
    if kind in ("not installed", "unknown"):
        return kind
    return f"{kind} from {location}" if kind == "editable" else f"from {kind} {location}"
