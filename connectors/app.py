"""Wiring: sources file → sources, runners, push service; `check_all` for the CLI.

This is the one place that turns configuration into adapters (cosmicpython's bootstrap).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from connectors.base import PollContext, Schedule, Source, SourceRunner, utc_now
from connectors.checkpoint import CheckpointStore
from connectors.config import (
    FileConfig,
    MissingCredential,
    PushConfig,
    RssConfig,
    SourceConfig,
    SourcesFile,
    WechatConfig,
    WeiboConfig,
    env_value,
    resolve_credentials,
)
from connectors.errors import SourceError
from connectors.http import HttpFetcher, make_client
from connectors.metrics import ConnectorMetrics
from connectors.official import OfficialAccount, OfficialAccounts
from connectors.push import PushEndpoint, PushService
from connectors.replay import FileSource
from connectors.rss import RssSource
from connectors.sink import Sink
from connectors.wechat import WechatSource
from connectors.weibo import WeiboSource
from monitor.domain.model import Post

log = logging.getLogger(__name__)
STOP_GRACE = 3.0  # s a runner gets to finish its batch after a stop


def build_source(src: SourceConfig, env: Mapping[str, str]) -> Source:
    """A polled source from its config; MissingCredential if a named variable is unset."""
    headers = resolve_credentials(src, env)
    if isinstance(src, RssConfig):
        return _rss(src, headers)
    if isinstance(src, WeiboConfig):
        return WeiboSource(
            src.name,
            src.url,
            layout=src.layout,
            uid=src.uid,
            headers=headers,
            long_text=src.long_text,
            extend_url=src.extend_url,
            long_text_limit=src.long_text_limit,
            long_text_pause=src.long_text_pause,
        )
    if isinstance(src, WechatConfig):
        return _wechat(src, headers, env)
    if isinstance(src, FileConfig):
        return FileSource(
            src.name,
            src.url,
            format=src.format,
            batch_size=src.batch_size,
            tz_offset_hours=src.tz_offset_hours,
        )
    raise ValueError(f"source {src.name!r} of type {getattr(src, 'type', '?')} is not polled")


def _rss(src: RssConfig | WechatConfig, headers: dict[str, str], kind: str = "rss") -> Source:
    """A feed: an RSS/Atom source, or an official account read through a WeRSS/RSSHub bridge."""
    return RssSource(
        src.name, src.url, kind=kind, headers=headers, allow_invalid_xml=src.allow_invalid_xml
    )


def _wechat(src: WechatConfig, headers: dict[str, str], env: Mapping[str, str]) -> Source:
    if src.format == "rss":
        return _rss(src, headers, kind="wechat")
    params = dict(src.params)
    token = env_value(src, src.token_env, env, "the token parameter")
    if token:
        params["token"] = token
    return WechatSource(
        src.name,
        src.url,
        biz=src.biz,
        account=src.account,
        headers=headers,
        params=params,
        page_size=src.page_size,
        freq_control_wait=src.freq_control_wait,
    )


def schedule_of(src: SourceConfig) -> Schedule:
    return Schedule(
        interval=src.interval,
        jitter=src.jitter,
        page_pause=src.page_pause,
        max_pages=src.max_pages,
        backoff_initial=src.backoff_initial,
        backoff_max=src.backoff_max,
    )


def push_endpoints(cfg: SourcesFile, env: Mapping[str, str]) -> list[PushEndpoint]:
    out = []
    for src in cfg.enabled():
        if isinstance(src, PushConfig):
            secret = env_value(src, src.secret_env, env, "the HMAC secret")
            out.append(PushEndpoint(src.name, secret or ""))
    return out


@dataclass
class CheckResult:
    name: str
    type: str
    ok: bool
    posts: int = 0
    newest: Post | None = None
    error: str | None = None
    note: str | None = None

    def line(self) -> str:
        if not self.ok:
            return f"✗ {self.name} [{self.type}]: {self.error}"
        head = f"✓ {self.name} [{self.type}]: {self.posts} posts"
        if self.newest is not None:
            when = (
                self.newest.published_at.isoformat(timespec="seconds")
                if self.newest.published_at
                else "?"
            )
            title = (self.newest.title or self.newest.text).replace("\n", " ")[:60]
            head += f"; newest {when} {title}"
        return head + (f" ({self.note})" if self.note else "")


async def check_one(src: SourceConfig, env: Mapping[str, str], now: datetime) -> CheckResult:
    """Fetch one page with an empty checkpoint and report what came back."""
    kind = src.type if hasattr(src, "type") else "?"
    try:
        if isinstance(src, PushConfig):
            env_value(src, src.secret_env, env, "the HMAC secret")
            return CheckResult(
                src.name, kind, True, note=f"push endpoint POST {src.url}/{src.name}"
            )
        source = build_source(src, env)
        async with make_client(timeout=src.timeout) as client:
            http = HttpFetcher(client, max_bytes=src.max_bytes, deadline=src.timeout * 2)
            ctx = PollContext(http=http, state={}, now=now, seen=lambda ids: set(), source=src.name)
            page = await source.fetch(ctx)
    except (SourceError, MissingCredential, OSError, ValueError) as exc:
        return CheckResult(src.name, kind, False, error=str(exc))
    newest = max(page.posts, key=lambda p: p.published_at or now, default=None)
    note = f"{len(page.rejects)} bad items" if page.rejects else page.note
    return CheckResult(src.name, kind, True, len(page.posts), newest, note=note)


async def check_all(
    cfg: SourcesFile, env: Mapping[str, str] | None = None, now: datetime | None = None
) -> list[CheckResult]:
    env = os.environ if env is None else env
    when = now or utc_now()
    return list(await asyncio.gather(*(check_one(s, env, when) for s in cfg.enabled())))


class ConnectorApp:
    """Every polled source of a sources file, running until stopped."""

    def __init__(
        self,
        cfg: SourcesFile,
        *,
        sink: Sink,
        store: CheckpointStore,
        registry: CollectorRegistry,
        env: Mapping[str, str] | None = None,
        city_official: Iterable[OfficialAccount] = (),
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.store = store
        self.env = os.environ if env is None else env
        self.metrics = ConnectorMetrics.create(registry)
        # The city config's `official_accounts`: the one place that says which accounts are a
        # department's own (the sources file names none).
        self.official = OfficialAccounts(city_official)
        self.runners: list[SourceRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def push_service(self) -> PushService:
        endpoints = push_endpoints(self.cfg, self.env)
        return PushService(
            endpoints,
            sink=self.sink,
            store=self.store,
            metrics=self.metrics,
            official=self.official,
        )

    async def run(self) -> None:
        polled = [s for s in self.cfg.enabled() if not isinstance(s, PushConfig)]
        async with AsyncExitStack() as stack:
            for src in polled:
                client = await stack.enter_async_context(make_client(timeout=src.timeout))
                http = HttpFetcher(client, max_bytes=src.max_bytes, deadline=src.timeout * 2)
                self.runners.append(
                    SourceRunner(
                        build_source(src, self.env),
                        http=http,
                        store=self.store,
                        sink=self.sink,
                        metrics=self.metrics,
                        schedule=schedule_of(src),
                        official=self.official,
                    )
                )
            self._tasks = [asyncio.create_task(r.run(), name=f"source {r.name}")
                           for r in self.runners]  # fmt: skip
            if self._stopping:
                self.stop()
            for result in await asyncio.gather(*self._tasks, return_exceptions=True):
                if isinstance(result, Exception):
                    log.error("source stopped on an error: %r", result)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Ask every runner to stop; one still busy after `grace` seconds (a slow fetch or
        send) is cancelled. Safe: a runner commits its checkpoint only after the sink
        acknowledged, so a cancelled batch is read again at the next start, not lost."""
        self._stopping = True
        for runner in self.runners:
            runner.stop()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(grace, self._cancel)

    def _cancel(self) -> None:
        for task in self._tasks:
            if not task.done():
                task.cancel()

    def health(self) -> list[dict[str, Any]]:
        """One line per polled source, for a health page or `/sources/health`."""
        return [
            {
                "name": h.name,
                "type": h.type,
                "ok": h.ok,
                "summary": h.line(),
                "last_error": h.last_error,
                "last_error_kind": h.last_error_kind,
                "last_error_at": h.last_error_at.isoformat() if h.last_error_at else None,
                "last_success_at": h.last_success_at.isoformat() if h.last_success_at else None,
                "consecutive_failures": h.consecutive_failures,
                "posts_sent": h.posts_sent,
                "note": h.note,
            }
            for h in (r.health for r in self.runners)
        ]


def summary(results: Sequence[CheckResult]) -> int:
    return 0 if all(r.ok for r in results) else 1
