"""WeChat official accounts: the backend article list (`cgi-bin/appmsg?action=list_ex`).

The list is newest first and paged by `begin`/`count`. `base_resp.ret` 200013 is WeChat's
"freq control": the account is throttled for a while, so the source backs off (by default at
least `freq_control_wait` seconds) instead of hammering it. 200003/200040 mean the session
(token + cookie) is no longer valid. A WeRSS or RSSHub bridge of an account is just an
`RssSource` with kind "wechat".
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.base import Page, PollContext, Source, dead_letter
from connectors.errors import SourceError, excerpt
from connectors.jsonbody import decode_json_object
from connectors.parsing import CHINA_TZ, html_to_text
from connectors.sink import DeadLetter
from connectors.weibo import with_params
from monitor.domain.model import Post

FREQ_CONTROL = 200013
SESSION_EXPIRED = {200003, 200040, -3}


def check_base_resp(body: Mapping[str, Any], url: str, freq_wait: float) -> None:
    base = body.get("base_resp")
    if base is None and "app_msg_list" in body:
        return  # some tools print the list without the envelope
    if not isinstance(base, Mapping):
        raise SourceError(
            "bad_payload", f"{url}: no base_resp in the answer", raw=excerpt(str(body))
        )
    ret = base.get("ret")
    msg = str(base.get("err_msg") or "")
    if ret == 0:
        return
    if ret == FREQ_CONTROL or "freq control" in msg:
        raise SourceError(
            "freq_control",
            f"{url}: WeChat freq control (ret {ret}), backing off at least {freq_wait:g} s",
            retry_after=freq_wait,
        )
    if ret in SESSION_EXPIRED:
        raise SourceError(
            "login_wall",
            f"{url}: WeChat session expired (ret {ret} {msg}); renew the token and cookie",
        )
    raise SourceError("refused", f"{url}: WeChat refused (ret {ret} {msg or 'no message'})")


def article_to_post(
    item: Mapping[str, Any], *, source: str, account: str | None, biz: str | None, now: datetime
) -> Post:
    native = item.get("aid") or (
        f"{item['appmsgid']}_{item.get('itemidx', 1)}" if item.get("appmsgid") else None
    )
    if not native:
        raise ValueError("article has neither aid nor appmsgid")
    created = item.get("create_time") or item.get("update_time")
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise ValueError(f"create_time is not a unix time: {created!r}")
    title = html_to_text(str(item.get("title") or ""))
    digest = html_to_text(str(item.get("digest") or ""))
    if not (title or digest):
        raise ValueError("article has neither title nor digest")
    link = item.get("link")
    return Post(
        id=f"wechat:{native}",
        text=digest or title,
        title=title or None,
        source=source,
        url=html.unescape(link) if isinstance(link, str) else None,
        author=account,
        author_id=biz,
        published_at=datetime.fromtimestamp(created, CHINA_TZ),
        observed_at=now,
    )


def articles_to_posts(
    items: Iterable[Any],
    *,
    source: str,
    account: str | None,
    biz: str | None,
    now: datetime,
    where: str = "",
) -> tuple[list[Post], list[DeadLetter]]:
    posts: list[Post] = []
    rejects: list[DeadLetter] = []
    for n, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise ValueError("article is not an object")
            posts.append(article_to_post(item, source=source, account=account, biz=biz, now=now))
        except (ValueError, KeyError, TypeError) as exc:
            rejects.append(
                dead_letter(source, f"bad_item: {exc}", item, now, f"{where} app_msg_list[{n}]")
            )
    return posts, rejects


class WechatSource(Source):
    """An official account's article list, newest first, paged by `begin`."""

    type = "wechat"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        biz: str | None = None,
        account: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        page_size: int = 5,
        freq_control_wait: float = 1800.0,
    ) -> None:
        super().__init__(name)
        self.url = url
        self.biz = biz
        self.account = account
        self.headers = dict(headers or {})
        self.params = dict(params or {})
        self.page_size = page_size
        self.freq_control_wait = freq_control_wait

    async def fetch(self, ctx: PollContext) -> Page:
        begin = int(ctx.state.get("begin") or 0)
        url = with_params(self.url, **self.params, begin=begin, count=self.page_size)
        fetched = await ctx.http.get(url, headers=self.headers)
        body = decode_json_object(fetched)
        check_base_resp(body, fetched.url, self.freq_control_wait)
        items = body.get("app_msg_list")
        if not isinstance(items, list):
            raise SourceError(
                "bad_payload",
                f"{fetched.url}: app_msg_list missing or not a list",
                raw=excerpt(fetched.body),
            )
        posts, rejects = articles_to_posts(
            items,
            source=self.name,
            account=self.account,
            biz=self.biz,
            now=ctx.now,
            where=fetched.url,
        )
        ids = [p.id for p in posts]
        caught_up = len(items) < self.page_size or not ids or bool(ctx.seen(ids))
        state = {"begin": 0 if caught_up else begin + len(items)}
        return Page(posts, state, more=not caught_up, rejects=rejects)
