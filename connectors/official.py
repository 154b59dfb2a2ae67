"""Departments' own accounts: their posts are marked official with the department's name.

The clocks part matches such posts to incidents as candidate releases, so a department's
Weibo status or WeChat article can stop a clock once confirmed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from monitor.domain.model import Post

if TYPE_CHECKING:
    from connectors.base import Source

_BIZ = re.compile(r"__biz=([^&#]+)")


class OfficialAccount(BaseModel):
    """One department's accounts, as written in the config's `official_accounts:` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    department: str = Field(min_length=1)
    weibo_uid: tuple[str, ...] = ()
    wechat_biz: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()  # feed URLs or source names whose every item is the department's


class OfficialAccounts:
    """Lookup from an account to its department."""

    def __init__(self, accounts: Iterable[OfficialAccount] = ()) -> None:
        self.by_weibo: dict[str, str] = {}
        self.by_biz: dict[str, str] = {}
        self.by_feed: dict[str, str] = {}
        for acc in accounts:
            self.by_weibo.update(dict.fromkeys(acc.weibo_uid, acc.department))
            self.by_biz.update(dict.fromkeys(acc.wechat_biz, acc.department))
            self.by_feed.update(dict.fromkeys(acc.feeds, acc.department))

    @classmethod
    def from_config(cls, entries: Iterable[Mapping[str, Any]]) -> OfficialAccounts:
        return cls(OfficialAccount.model_validate(e) for e in entries)

    def department_for(self, post: Post, source: Source | None = None) -> str | None:
        if post.id.startswith("weibo:"):
            # A timeline also carries other people's statuses (reposted originals): only the
            # account's own posts are official.
            if post.author_id in self.by_weibo:
                return self.by_weibo[post.author_id]
            owner = getattr(source, "uid", None)
            if source is not None and source.department and owner and post.author_id == owner:
                return source.department
            return None
        if source is not None and source.department:
            return source.department
        if source is not None:
            feed = self.by_feed.get(source.name) or self.by_feed.get(
                str(getattr(source, "url", ""))
            )
            if feed:
                return feed
        biz = _biz_of(post.url) or getattr(source, "biz", None)
        return self.by_biz.get(biz) if biz else None

    def mark(self, post: Post, source: Source | None = None) -> Post:
        department = self.department_for(post, source)
        if department is None:
            return post
        return msgspec.structs.replace(post, official=True, department=department)


def _biz_of(url: str | None) -> str | None:
    if not url:
        return None
    m = _BIZ.search(url)
    return unquote(m.group(1)) if m else None
