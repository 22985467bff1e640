"""boto3 clients built from the executor's params (boto3 is imported here, lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeroutine_athena.models import AthenaParams


def make_client(service: str, params: AthenaParams) -> Any:
    """A client for ``service`` in the params' region, at their endpoint if one is set."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5})
    return boto3.session.Session().client(
        service, region_name=params.region_name, endpoint_url=params.endpoint_url, config=config
    )
