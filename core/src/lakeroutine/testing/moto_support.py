"""Which AWS services the installed moto can emulate for the installed botocore, and the REST
routes it lacks for them.

botocore moves services between wire protocols (Athena went from ``json`` to ``rest-json`` in
1.44.14). moto parses every request with the installed botocore's model of the service, so
once botocore speaks rest-json to a service, moto understands only rest-json for it too; but
its server routes a service only at the paths its ``urls.py`` lists, and for Athena that is
the root alone (``json``'s ``POST /``): ``GET /workgroups/primary`` gets an HTML 404.
``route_rest_paths`` gives moto's server each path of the model, so the calls reach moto's own
rest-json parsing. For a service it cannot route (a protocol other than rest-json), a test run
would fail each test with the emulator's 404 page: ``moto_cannot_emulate`` says it once, in one
line, instead.
"""

from __future__ import annotations

import functools
import importlib
import re
from types import ModuleType
from typing import Any

MOTO_ROOT_PATHS = {"{0}/$", "{0}/"}  # where moto takes json/query calls (X-Amz-Target, Action)
SERVICES = ("athena", "glue", "redshift-data", "s3")  # what lakeroutine's plugins call


def _moto_urls(service: str) -> ModuleType | None:
    """moto's ``urls`` module of ``service`` (a boto3 name), or None without moto."""
    try:
        return importlib.import_module(f"moto.{service.replace('-', '')}.urls")
    except ImportError:
        return None


def _model(service: str) -> Any:
    """botocore's model of ``service`` as moto loads it (no profile or data path read)."""
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    return ServiceModel(create_loader().load_service_model(service, "service-2"), service)


def _protocol(service: str) -> str:
    return _model(service).protocol


def _routes_rest(urls: ModuleType) -> bool:
    return any(path not in MOTO_ROOT_PATHS for path in getattr(urls, "url_paths", {}))


@functools.cache
def moto_cannot_emulate(service: str) -> str | None:
    """One line saying why moto cannot emulate ``service`` (a boto3 name) for the installed
    botocore, even with ``route_rest_paths`` (which ``moto_endpoint`` applies to ``SERVICES``);
    None when it can (or when moto or botocore is not installed)."""
    urls = _moto_urls(service)
    try:
        import botocore
        import moto
    except ImportError:
        return None
    if urls is None:
        return None
    protocol = _protocol(service)
    if not protocol.startswith("rest") or protocol == "rest-json" or _routes_rest(urls):
        return None
    return (
        f"moto {moto.__version__} cannot emulate {service} for botocore {botocore.__version__}"
        f" (it sends the {protocol} protocol; moto routes {service} only at its root): install "
        "the test environment from requirements-dev.lock"
    )


def emulation_gaps(services: tuple[str, ...] = SERVICES) -> list[str]:
    """A line for each of ``services`` that the installed moto cannot emulate."""
    return [line for line in map(moto_cannot_emulate, services) if line]


def route_rest_paths(service: str) -> list[str]:
    """Add to moto's routes of ``service`` the request paths of the installed botocore's
    rest-json model, where moto routes the service only at its root; the paths added (none
    when botocore speaks another protocol, moto already routes them, or moto is absent).
    Call it before moto's server first answers the service: it builds its routes then."""
    urls = _moto_urls(service)
    if urls is None or _protocol(service) != "rest-json" or _routes_rest(urls):
        return []
    roots = [urls.url_paths[path] for path in MOTO_ROOT_PATHS if path in urls.url_paths]
    if not roots:
        return []
    model, added = _model(service), []
    for name in model.operation_names:
        path = model.operation_model(name).http["requestUri"].partition("?")[0]
        path = re.sub(r"\{([^}]+)\+\}", r"(?P<\1>.+)", path)  # a greedy label: slashes too
        pattern = "{0}" + re.sub(r"\{([^}]+)\}", r"(?P<\1>[^/]+)", path) + "$"
        if pattern not in urls.url_paths:
            urls.url_paths[pattern] = roots[0]
            added.append(pattern)
    return added
