"""Weibo: the m.weibo.cn `container/getIndex` and weibo.com `ajax/statuses` JSON layouts.

Parsing is pure: `statuses_to_posts(statuses, now)` takes decoded JSON and the time the page
was read, and resolves relative times ("5分钟前", "昨天 12:30") against it.

Long text (`isLongText`): the list shows a cut text ending in "全文"; the source fetches the
full text from the extend endpoint (`m.weibo.cn/statuses/extend?id=…` or
`weibo.com/ajax/statuses/longtext?id=…`). If that call fails, the post keeps the cut text (it
is still news) and the failure is counted on the health line.

A repost's `retweeted_status` becomes a post of its own and the repost points at it through
`repost_of`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from connectors.base import Page, PollContext, Source, dead_letter
from connectors.errors import SourceError, excerpt
from connectors.jsonbody import decode_json_object
from connectors.parsing import DateError, html_to_text, parse_count, parse_weibo_time
from connectors.sink import DeadLetter
from monitor.domain.model import Post

MOBILE_EXTEND = "https://m.weibo.cn/statuses/extend?id={id}"
PC_EXTEND = "https://weibo.com/ajax/statuses/longtext?id={mblogid}"
_EMPTY_MESSAGES = ("这里还没有内容", "没有更多")
_REGION_PREFIX = "发布于"


@dataclass
class ParsedPage:
    posts: list[Post] = field(default_factory=list)
    rejects: list[DeadLetter] = field(default_factory=list)
    long_text: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # post id → status
    timeline_ids: list[str] = field(default_factory=list)  # the page's own, not reposted originals


def region_of(status: Mapping[str, Any]) -> str | None:
    raw = status.get("region_name")
    if not raw or not isinstance(raw, str):
        return None
    return raw.removeprefix(_REGION_PREFIX).strip() or None


def _native_id(status: Mapping[str, Any]) -> str:
    native = status.get("idstr") or status.get("id") or status.get("mid")
    if native is None or native == "":
        raise ValueError("status has no id")
    return str(native)


def status_url(status: Mapping[str, Any], native: str, user_id: str | None) -> str:
    mblogid = status.get("mblogid")
    if mblogid and user_id:
        return f"https://weibo.com/{user_id}/{mblogid}"
    bid = status.get("bid")
    return f"https://m.weibo.cn/status/{bid or native}"


def status_text(status: Mapping[str, Any]) -> str:
    raw = status.get("text_raw")
    if isinstance(raw, str) and raw:
        return raw.strip()  # weibo.com already gives plain text
    return html_to_text(str(status.get("text") or ""))


def status_to_post(
    status: Mapping[str, Any], *, source: str, now: datetime, repost_of: str | None = None
) -> Post:
    """One Weibo status as a Post; raises ValueError naming the field that was wrong."""
    native = _native_id(status)
    user = status.get("user") or {}
    if not isinstance(user, Mapping):
        raise ValueError("user is not an object")
    user_id = str(user["id"]) if user.get("id") is not None else None
    created = status.get("created_at")
    if not isinstance(created, str):
        raise ValueError("status has no created_at")
    try:
        published = parse_weibo_time(created, now)
    except DateError as exc:
        raise ValueError(str(exc)) from None
    return Post(
        id=f"weibo:{native}",
        text=status_text(status),
        source=source,
        url=status_url(status, native, user_id),
        author=user.get("screen_name") or None,
        author_id=user_id,
        author_followers=parse_count(user.get("followers_count")),
        author_verified=bool(user["verified"]) if "verified" in user else None,
        published_at=published,
        observed_at=now,
        reposts=parse_count(status.get("reposts_count")),
        comments=parse_count(status.get("comments_count")),
        likes=parse_count(status.get("attitudes_count")),
        region=region_of(status),
        repost_of=repost_of,
    )


def statuses_to_posts(
    statuses: Iterable[Mapping[str, Any]], *, source: str, now: datetime, where: str = ""
) -> ParsedPage:
    """Every status (and every reposted original) as posts; bad ones become dead letters."""
    out = ParsedPage()
    for n, status in enumerate(statuses):
        post = _add_status(out, status, source=source, now=now, where=f"{where} status {n + 1}")
        if post is not None:
            out.timeline_ids.append(post.id)
    return out


def _add_status(
    out: ParsedPage, status: Mapping[str, Any], *, source: str, now: datetime, where: str
) -> Post | None:
    if not isinstance(status, Mapping):
        out.rejects.append(
            dead_letter(source, "bad_item: status is not an object", status, now, where)
        )
        return None
    original = status.get("retweeted_status")
    repost_of = None
    if isinstance(original, Mapping):
        try:
            repost_of = f"weibo:{_native_id(original)}"
        except ValueError:
            repost_of = None
        _add_status(out, original, source=source, now=now, where=f"{where} retweeted_status")
    try:
        post = status_to_post(status, source=source, now=now, repost_of=repost_of)
    except (ValueError, KeyError, TypeError) as exc:
        out.rejects.append(dead_letter(source, f"bad_item: {exc}", status, now, where))
        return None
    out.posts.append(post)
    if status.get("isLongText"):
        out.long_text[post.id] = status
    return post


def mobile_statuses(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Statuses in a getIndex `data`: cards of type 9, also nested in card groups."""
    found: list[Mapping[str, Any]] = []
    for card in data.get("cards") or ():
        if not isinstance(card, Mapping):
            continue
        if isinstance(card.get("mblog"), Mapping):
            found.append(card["mblog"])
        for sub in card.get("card_group") or ():
            if isinstance(sub, Mapping) and isinstance(sub.get("mblog"), Mapping):
                found.append(sub["mblog"])
    return found


def check_ok(body: Mapping[str, Any], url: str) -> bool:
    """True if the body carries statuses, False if it is the API's "no more" answer."""
    ok = body.get("ok")
    if ok == 1 or ok is True:
        return True
    msg = str(body.get("msg") or body.get("message") or "")
    if ok == -100 or "passport" in str(body.get("url", "")) or "登录" in msg:
        raise SourceError(
            "login_wall", f"{url} asks for a login (ok={ok}): cookie missing or expired"
        )
    if ok == 0 and any(m in msg for m in _EMPTY_MESSAGES):
        return False
    raise SourceError(
        "refused", f"{url} answered ok={ok!r}: {msg or 'no message'}", raw=excerpt(str(body))
    )


def with_params(url: str, **params: str | int | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return urlunsplit(parts._replace(query=urlencode(query)))


class WeiboSource(Source):
    """A Weibo timeline, newest first, paged back until a post already sent is met."""

    type = "weibo"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        layout: str | None = None,
        uid: str | None = None,
        headers: Mapping[str, str] | None = None,
        long_text: str = "fetch",
        extend_url: str | None = None,
        long_text_limit: int = 10,
        long_text_pause: float = 1.0,
    ) -> None:
        super().__init__(name)
        self.url = url
        self.layout = layout or ("pc" if "ajax/statuses" in url else "mobile")
        if self.layout not in {"mobile", "pc"}:
            raise ValueError(f"unknown Weibo layout {self.layout!r} (mobile or pc)")
        self.uid = uid
        self.headers = dict(headers or {})
        self.long_text = long_text
        self.extend_url = extend_url or (PC_EXTEND if self.layout == "pc" else MOBILE_EXTEND)
        self.long_text_limit = long_text_limit
        self.long_text_pause = long_text_pause
        self.long_text_failures = 0

    async def fetch(self, ctx: PollContext) -> Page:
        cursor = ctx.state.get("cursor")
        url = self._page_url(cursor)
        fetched = await ctx.http.get(url, headers=self.headers)
        body = decode_json_object(fetched)
        if not check_ok(body, fetched.url):
            return Page([], {"cursor": None}, note="no more statuses")
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise SourceError(
                "bad_payload",
                f"{fetched.url}: `data` is missing or not an object",
                raw=excerpt(fetched.body),
            )
        statuses = mobile_statuses(data) if self.layout == "mobile" else data.get("list") or []
        parsed = statuses_to_posts(statuses, source=self.name, now=ctx.now, where=fetched.url)
        failures_before = self.long_text_failures
        posts = await self._complete_long_texts(ctx, parsed)
        cut = self.long_text_failures - failures_before
        page = self._page(
            ctx, parsed.timeline_ids, posts, parsed.rejects, self._next_cursor(data, cursor)
        )
        if cut:
            note = f"{cut} long texts kept cut (extend endpoint failed or per-page limit)"
            page = dataclasses.replace(page, note=note)
        return page

    def _page_url(self, cursor: Any) -> str:
        if cursor is None:
            return self.url
        if self.layout == "mobile":
            return with_params(self.url, since_id=cursor)
        if isinstance(cursor, str) and cursor.startswith("page:"):
            return with_params(self.url, page=cursor.removeprefix("page:"))
        return with_params(self.url, since_id=cursor)

    def _next_cursor(self, data: Mapping[str, Any], cursor: Any) -> Any:
        if self.layout == "mobile":
            info = data.get("cardlistInfo") or {}
            return info.get("since_id") if isinstance(info, Mapping) else None
        since = data.get("since_id")
        if since not in (None, "", 0, "0"):
            return since
        page = int(str(cursor).removeprefix("page:")) if cursor else 1
        return f"page:{page + 1}"

    def _page(
        self,
        ctx: PollContext,
        timeline_ids: list[str],
        posts: list[Post],
        rejects: Sequence[DeadLetter],
        cursor: Any,
    ) -> Page:
        # Caught up when a timeline post on this page was sent before (or the page is empty):
        # the sweep ends and the next poll starts again from the newest page.
        caught_up = not timeline_ids or bool(ctx.seen(timeline_ids)) or cursor is None
        state = {"cursor": None if caught_up else cursor}
        return Page(posts, state, more=not caught_up, rejects=rejects)

    async def _complete_long_texts(self, ctx: PollContext, parsed: ParsedPage) -> list[Post]:
        if self.long_text != "fetch" or not parsed.long_text:
            return parsed.posts
        unseen = set(parsed.long_text) - ctx.seen(list(parsed.long_text))
        fresh = [p.id for p in parsed.posts if p.id in unseen]
        full: dict[str, str] = {}
        for n, post_id in enumerate(fresh):
            if n >= self.long_text_limit:
                # One extend call per status: past the limit the cut text is kept, so a page
                # of long posts cannot turn into a burst that trips the site's rate limit.
                self.long_text_failures += len(fresh) - n
                break
            if n:
                await ctx.pause(self.long_text_pause)
            text = await self._long_text(ctx, parsed.long_text[post_id])
            if text is not None:
                full[post_id] = text
        return [
            msgspec.structs.replace(p, text=full[p.id]) if p.id in full else p for p in parsed.posts
        ]

    async def _long_text(self, ctx: PollContext, status: Mapping[str, Any]) -> str | None:
        url = self.extend_url.format(id=_native_id(status), mblogid=status.get("mblogid") or "")
        try:
            body = decode_json_object(await ctx.http.get(url, headers=self.headers))
            content = (body.get("data") or {}).get("longTextContent")
        except (SourceError, AttributeError):
            content = None
        if not isinstance(content, str) or not content:
            self.long_text_failures += 1
            return None
        return html_to_text(content)
