"""Which AWS services the installed moto can emulate for the installed botocore.

botocore moves services between wire protocols (Athena went from ``json`` to ``rest-json`` in
1.44.14); moto routes a ``rest-*`` service only where it knows the service's paths. A test run
on an unsupported pair would fail each test with the emulator's HTML 404 page; these helpers
say it once, in one line, instead.
"""

from __future__ import annotations

import functools
import importlib

MOTO_ROOT_PATHS = {"{0}/$", "{0}/"}  # where moto takes json/query calls (X-Amz-Target, Action)


@functools.cache
def moto_cannot_emulate(service: str) -> str | None:
    """One line saying why moto cannot emulate ``service`` (a boto3 name) for the installed
    botocore, or None when it can (or when moto or botocore is not installed)."""
    try:
        import botocore
        import botocore.session
        import moto

        urls = importlib.import_module(f"moto.{service.replace('-', '')}.urls")
    except ImportError:
        return None
    protocol = botocore.session.get_session().get_service_model(service).protocol
    routes_rest = any(path not in MOTO_ROOT_PATHS for path in getattr(urls, "url_paths", {}))
    if not protocol.startswith("rest") or routes_rest:
        return None
    return (
        f"moto {moto.__version__} cannot emulate {service} for botocore {botocore.__version__}"
        f" (it sends the {protocol} protocol; moto routes {service} only over json): install "
        "the test environment from requirements-dev.lock"
    )


def emulation_gaps(
    services: tuple[str, ...] = ("athena", "glue", "redshift-data", "s3"),
) -> list[str]:
    """A line for each of ``services`` that the installed moto cannot emulate."""
    return [line for line in map(moto_cannot_emulate, services) if line]
