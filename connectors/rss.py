"""News, government-site and bridge (RSSHub, WeRSS) feeds: RSS 2.0, RSS 1.0 and Atom.

httpx fetches the bytes with a conditional GET (ETag, Last-Modified); feedparser parses them,
detecting GBK/GB18030/UTF-8 from the XML prolog and the Content-Type. Feeds that declare XML
entities are refused before parsing (billion-laughs), and feeds feedparser finds malformed
(`bozo`) are refused unless the source allows it, because a half-parsed feed silently drops
items.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from connectors.base import Page, PollContext, Source, dead_letter
from connectors.errors import SourceError, excerpt
from connectors.http import Fetched
from connectors.parsing import html_to_text, parse_cn_datetime, stable_id
from connectors.sink import DeadLetter
from monitor.domain.model import MAX_TEXT_BYTES, Post

_ENTITY_DECL = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
# feedparser flags these while still parsing correctly: a charset it could recover from, or a
# Content-Type that is not an XML type (government sites often send text/html or none).
_HARMLESS_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_MAX_ID = 300


class RssSource(Source):
    type = "rss"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        kind: str = "rss",
        allow_invalid_xml: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(name)
        self.url = url
        self.type = kind  # "wechat" for a WeRSS/RSSHub bridge of an official account
        self.allow_invalid_xml = allow_invalid_xml
        self.headers = dict(headers or {})

    async def fetch(self, ctx: PollContext) -> Page:
        state = dict(ctx.state)
        fetched = await ctx.http.get(self.url, headers={**self.headers, **_conditional(state)})
        if fetched.not_modified:
            return Page([], state, note="304 not modified")
        posts, rejects = parse_feed(
            fetched, source=self, now=ctx.now, allow_invalid=self.allow_invalid_xml
        )
        return Page(posts, _validators(fetched, state), rejects=rejects)


def _conditional(state: Mapping[str, Any]) -> dict[str, str]:
    headers = {}
    if state.get("etag"):
        headers["If-None-Match"] = str(state["etag"])
    if state.get("last_modified"):
        headers["If-Modified-Since"] = str(state["last_modified"])
    return headers


def _validators(fetched: Fetched, old: Mapping[str, Any]) -> dict[str, Any]:
    state = dict(old)
    state["etag"] = fetched.headers.get("etag")
    state["last_modified"] = fetched.headers.get("last-modified")
    return state


def refuse_entities(body: bytes, url: str) -> None:
    if _ENTITY_DECL.search(body, 0, min(len(body), 200_000)):
        raise SourceError(
            "entity_bomb",
            f"{url} declares XML entities (<!ENTITY>): refused, a feed never needs them and "
            "they can expand without limit",
            raw=excerpt(body),
        )


def parse_feed(
    fetched: Fetched, *, source: RssSource, now: datetime, allow_invalid: bool = False
) -> tuple[list[Post], list[DeadLetter]]:
    refuse_entities(fetched.body, fetched.url)
    parsed = feedparser.parse(
        fetched.body,
        response_headers={"content-type": fetched.headers.get("content-type", "")},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    _check_bozo(parsed, fetched, allow_invalid)
    posts: list[Post] = []
    rejects: list[DeadLetter] = []
    for n, entry in enumerate(parsed.entries):
        try:
            posts.append(entry_to_post(entry, source, now))
        except ValueError as exc:
            where = f"{fetched.url} item {n + 1}"
            rejects.append(dead_letter(source.name, f"bad_item: {exc}", dict(entry), now, where))
    return posts, rejects


def _check_bozo(parsed: Any, fetched: Fetched, allow_invalid: bool) -> None:
    exc = parsed.get("bozo_exception")
    if not parsed.get("bozo") or isinstance(exc, _HARMLESS_BOZO):
        return
    if allow_invalid and parsed.entries:
        return
    where = ""
    if hasattr(exc, "getLineNumber"):
        where = f" at line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
    raise SourceError(
        "invalid_xml",
        f"{fetched.url} is not well-formed XML{where}: {getattr(exc, 'getMessage', lambda: exc)()}",
        raw=excerpt(fetched.body),
    )


def entry_to_post(entry: Mapping[str, Any], source: RssSource, now: datetime) -> Post:
    title = html_to_text(entry.get("title", "") or "")
    body = _entry_html(entry)
    text = html_to_text(body) if body else ""
    link = entry.get("link") or None
    if not (title or text):
        raise ValueError("item has neither title nor text")
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise ValueError(f"item text over {MAX_TEXT_BYTES:,} bytes")
    guid = entry.get("id") or entry.get("guid")
    native = guid if guid and len(guid) <= _MAX_ID else stable_id(link, title, guid)
    author = entry.get("author") or None
    return Post(
        id=source.post_id(native),
        text=text or title,
        title=title or None,
        source=source.name,
        url=link,
        author=html_to_text(author) if author else None,
        published_at=entry_time(entry),
        observed_at=now,
    )


def _entry_html(entry: Mapping[str, Any]) -> str:
    content = entry.get("content")
    if content:
        return "\n".join(str(c.get("value", "")) for c in content)
    return str(entry.get("summary") or entry.get("description") or "")


def entry_time(entry: Mapping[str, Any]) -> datetime | None:
    """The item's own time: RFC-822 with its offset, Chinese forms as Beijing time."""
    for key in ("published", "updated", "created", "dc_date"):
        raw = entry.get(key)
        if raw:
            when = _parse_date(str(raw))
            if when is not None:
                return when
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            y, mo, d, h, mi, sec = parsed[:6]
            return datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
    return None


def _parse_date(raw: str) -> datetime | None:
    when = parse_cn_datetime(raw)
    if when is not None:
        return when
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else None
