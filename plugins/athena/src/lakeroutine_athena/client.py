"""boto3 clients built from the executor's params (boto3 is imported here, lazily)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeroutine_athena.models import AthenaParams


def make_client(service: str, params: AthenaParams) -> Any:
    """A client for ``service`` in the params' region, at their endpoint if one is set."""
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return _session().client(
        service, region_name=params.region_name, endpoint_url=params.endpoint_url, config=config
    )


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    """One botocore session per process: it loads each service model once (~0.2 s)."""
    import boto3

    return boto3.session.Session()
