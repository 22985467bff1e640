"""A ``requests`` session that reads the environment once, not at every request.

With ``trust_env`` (requests' default) every request looks up proxies for its URL, parses
``~/.netrc`` and reads the CA bundle variables: about 10% of a small object's client CPU on
Azure and GCS. A storage talks to one endpoint, so the same settings are worked out once, when
its client is built: the proxies for that endpoint (``NO_PROXY`` honoured) and
``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``. ``~/.netrc`` is not used: the storages
authenticate with their own headers, which a netrc entry would replace.
"""

from __future__ import annotations

import os
from typing import Any


def settle_environment(session: Any, endpoint: str) -> None:
    """Fix ``session``'s proxies and CA bundle for ``endpoint`` from the environment now,
    and stop it reading the environment at each request."""
    from requests.utils import get_environ_proxies

    if not session.trust_env:
        return
    session.proxies.update(get_environ_proxies(endpoint))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False
