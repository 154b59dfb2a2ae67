"""Decode a JSON API body, naming what came instead when it is not JSON."""

from __future__ import annotations

from typing import Any

import msgspec

from connectors.errors import SourceError, excerpt
from connectors.http import Fetched

_LOGIN_WORDS = ("passport", "登录", "login", "visitor system", "sina visitor")


def decode_json_object(fetched: Fetched) -> dict[str, Any]:
    """The body as a JSON object; an HTML page or broken JSON becomes a clear SourceError."""
    head = fetched.body[:512].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<")) or "html" in fetched.content_type:
        page = fetched.body[:20_000].decode("utf-8", "replace").lower()
        if any(word in page for word in _LOGIN_WORDS):
            raise SourceError(
                "login_wall",
                f"{fetched.url} answered with a login page (HTTP {fetched.status}) instead of "
                "JSON: the cookie is missing or expired",
            )
        raise SourceError(
            "bad_payload",
            f"{fetched.url} answered HTTP {fetched.status} with an HTML page instead of JSON",
            raw=excerpt(fetched.body),
        )
    try:
        data = msgspec.json.decode(fetched.body)
    except msgspec.DecodeError as exc:
        raise SourceError(
            "bad_payload",
            f"invalid or truncated JSON from {fetched.url} ({len(fetched.body):,} bytes): {exc}",
            raw=excerpt(fetched.body),
        ) from None
    if not isinstance(data, dict):
        raise SourceError(
            "bad_payload",
            f"{fetched.url} sent JSON {type(data).__name__}, expected an object",
            raw=excerpt(fetched.body),
        )
    return data
