"""Why a source could not be read. One class, with a `kind` that is also a metric label."""

from __future__ import annotations

# Kinds name the failure for health pages and the `connector_errors_total{kind}` metric.
KINDS = (
    "http_status",  # 5xx and unexpected 4xx
    "refused",  # 403/418/429 or a site's own refusal in the body
    "login_wall",  # a login page or a redirect to a passport host
    "freq_control",  # WeChat base_resp.ret 200013
    "bad_payload",  # truncated JSON, HTML instead of JSON, a body of the wrong shape
    "invalid_xml",
    "entity_bomb",  # a feed declaring XML entities: refused outright
    "too_large",
    "timeout",
    "connect",
    "internal",  # a bug in a connector: reported, never allowed to stop the others
)


class SourceError(Exception):
    """A poll failed. `retry_after` (seconds) is the server's own hint, if any.

    `raw` is an excerpt of the offending body, kept for the dead-letter record.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry_after: float | None = None,
        raw: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown source error kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.raw = raw

    @property
    def dead_letter_worthy(self) -> bool:
        """Bad content (as opposed to a refusal or an outage) belongs in the dead-letter log."""
        return self.kind in {"bad_payload", "invalid_xml", "entity_bomb", "too_large"}

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def excerpt(body: bytes | str, limit: int = 2000) -> str:
    """The start of a body, decoded leniently, for error messages and dead letters."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
