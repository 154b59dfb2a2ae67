"""Departments' own accounts: their posts are marked official with the department's name.

The accounts are the city config's `official_accounts` (the one place; the sources file names
none). Only configuration marks a post: a post's own `official` and `department` fields are
cleared first, on every source, so a sender cannot claim to be a department. The marks are for
readers; what counts as evidence is decided again by the incident domain from the same
`official_accounts` (monitor.domain.evidence.OfficialAccounts), whatever a post carries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote

import msgspec

from monitor.config.sections import OfficialAccount
from monitor.domain.model import Post

if TYPE_CHECKING:
    from connectors.base import Source

_BIZ = re.compile(r"__biz=([^&#]+)")


class OfficialAccounts:
    """Lookup from an account to its department."""

    def __init__(self, accounts: Iterable[OfficialAccount] = ()) -> None:
        self.by_weibo: dict[str, str] = {}
        self.by_biz: dict[str, str] = {}
        self.by_feed: dict[str, str] = {}
        self.by_push: dict[str, str] = {}
        for acc in accounts:
            self.by_weibo.update(dict.fromkeys(acc.weibo_uid, acc.department))
            self.by_biz.update(dict.fromkeys(acc.wechat_biz, acc.department))
            self.by_feed.update(dict.fromkeys(acc.feeds, acc.department))
            self.by_push.update(dict.fromkeys(acc.push, acc.department))

    def department_for(self, post: Post, source: Source | None = None) -> str | None:
        if post.id.startswith("push:"):
            # the endpoint's name, set by the server; the payload's url is the sender's word
            return self.by_push.get(post.source or "")
        if post.id.startswith("weibo:"):
            # A timeline also carries other people's statuses (reposted originals): only the
            # account's own posts are official.
            return self.by_weibo.get(post.author_id or "")
        if source is not None:
            feed = self.by_feed.get(source.name) or self.by_feed.get(
                str(getattr(source, "url", ""))
            )
            if feed:
                return feed
        biz = _biz_of(post.url) or getattr(source, "biz", None)
        return self.by_biz.get(biz) if biz else None

    def mark(self, post: Post, source: Source | None = None) -> Post:
        post = unmarked(post)
        department = self.department_for(post, source)
        if department is None:
            return post
        return msgspec.structs.replace(post, official=True, department=department)


def unmarked(post: Post) -> Post:
    """The post without what its sender said about being official."""
    if not post.official and post.department is None:
        return post
    return msgspec.structs.replace(post, official=False, department=None)


def _biz_of(url: str | None) -> str | None:
    if not url:
        return None
    m = _BIZ.search(url)
    return unquote(m.group(1)) if m else None
