"""How a Producer or Consumer gets its client: a shared one, or a private one it owns."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from . import _check
from .client import Client


def resolve(
    meta_url: Optional[str], app_code: Optional[str], client: Optional[Client], options: Any
) -> Tuple[Client, bool]:
    """Returns the client and whether the caller owns it (and must close it)."""
    if client is not None:
        _check.instance("client", client, Client, "a qmq.Client")
        if meta_url is not None or app_code is not None or options:
            raise TypeError("give either client= or meta_url/app_code and client options, not both")
        return client, False
    if meta_url is None or app_code is None:
        raise TypeError("meta_url and app_code are required when no client= is given")
    return Client(meta_url, app_code, **options), True
