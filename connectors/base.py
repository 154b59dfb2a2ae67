"""The source contract and the runner that polls it.

A source implements only `fetch(ctx) -> Page`: read one page from where the checkpoint says,
parse it, and say what the checkpoint becomes and whether another page follows (the spirit of
bytewax's `SimplePollingSource` and quix-streams' `Source.run`). The runner does the rest:
the schedule with jitter, backoff with tenacity, a pause between pages, dedup by post id,
committing the checkpoint only after the sink acknowledged, health and metrics.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_never,
)
from tenacity.wait import wait_random_exponential

from connectors.checkpoint import SEEN_RETENTION, CheckpointStore
from connectors.errors import SourceError, excerpt
from connectors.http import HttpFetcher
from connectors.metrics import ConnectorMetrics
from connectors.official import OfficialAccounts
from connectors.sink import DeadLetter, Sink, SinkUnavailable
from monitor.domain.model import MAX_ID_CHARS, Post

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
PRUNE_EVERY = timedelta(hours=24)
MAX_SERVER_WAIT = 86_400.0
SINK_WAIT = 0.5  # s between looks at a sink that is not ready
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Page:
    """What one fetch produced. `state` is the checkpoint to keep once the posts are sent."""

    posts: Sequence[Post]
    state: Mapping[str, Any]
    more: bool = False
    rejects: Sequence[DeadLetter] = ()
    note: str | None = None  # e.g. "304 not modified", shown on the health line


@dataclass
class PollContext:
    """What a source may use while fetching: HTTP, its saved state, `now`, and the seen set."""

    http: HttpFetcher
    state: Mapping[str, Any]
    now: datetime
    seen: Callable[[Sequence[str]], set[str]]
    source: str
    pause: Sleep = asyncio.sleep  # the runner's polite wait between extra requests


@dataclass
class Schedule:
    interval: float = 300.0
    jitter: float = 0.1  # ± fraction of the interval, so sources do not poll in lockstep
    page_pause: float = 1.0  # between pages of one poll: a polite rate limit
    max_pages: int = 5
    backoff_initial: float = 5.0
    backoff_max: float = 900.0


class Source(ABC):
    """A polled source. Subclasses set `type` and implement `fetch`."""

    type: str = "source"

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    async def fetch(self, ctx: PollContext) -> Page: ...

    def post_id(self, native: str | int) -> str:
        ident = f"{self.type}:{native}"
        if len(ident) <= MAX_ID_CHARS:
            return ident
        # a feed's guid may be a long URL; a post id has a length limit (monitor.domain.model)
        return f"{self.type}:sha1:{hashlib.sha1(str(native).encode()).hexdigest()}"


@dataclass
class SourceHealth:
    name: str
    type: str
    ok: bool | None = None  # None: never polled
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    posts_sent: int = 0
    note: str | None = None
    newest: Post | None = field(default=None, repr=False)

    def line(self) -> str:
        state = "never polled" if self.ok is None else ("ok" if self.ok else "FAILING")
        why = f" — {self.last_error}" if not self.ok and self.last_error else ""
        return f"{self.name} [{self.type}] {state}, {self.posts_sent} posts{why}"


class SourceRunner:
    """Polls one source forever; a failure is reported and retried, never fatal."""

    def __init__(
        self,
        source: Source,
        *,
        http: HttpFetcher,
        store: CheckpointStore,
        sink: Sink,
        metrics: ConnectorMetrics,
        schedule: Schedule | None = None,
        official: OfficialAccounts | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self.http = http
        self.store = store
        self.sink = sink
        self.metrics = metrics
        self.schedule = schedule or Schedule()
        self.official = official or OfficialAccounts()
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.health = SourceHealth(source.name, source.type)
        self._stop = asyncio.Event()
        self._pruned_at: datetime | None = None
        # Full jitter: failing sources spread out instead of retrying in step.
        self._backoff = wait_random_exponential(
            multiplier=self.schedule.backoff_initial, max=self.schedule.backoff_max
        )

    @property
    def name(self) -> str:
        return self.source.name

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            await self._until_sink_ready()
            try:
                await self.poll_with_retry()
            except SinkUnavailable:
                continue  # the sink went away mid-poll: wait for it, not for a backoff
            await self._pause(self.next_interval())

    async def _until_sink_ready(self) -> None:
        """A sink that cannot take posts (the monitor it feeds is restarting) is waited for
        at a short interval, so the source is read again as soon as it is back; backing off
        the source instead could leave it unread for the backoff's 15 minutes."""
        ready = getattr(self.sink, "ready", None)
        while ready is not None and not self._stop.is_set() and not ready():
            self.health.note = "waiting for the sink (monitor not running)"
            await self._pause(SINK_WAIT)

    def next_interval(self) -> float:
        s = self.schedule
        return s.interval * self.rng.uniform(1 - s.jitter, 1 + s.jitter)

    async def poll_with_retry(self) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception)
            & retry_if_not_exception_type(SinkUnavailable),
            wait=self._wait,
            stop=stop_never,
            sleep=self._pause,
            before_sleep=self._record_failure,
            reraise=True,
        )
        async for attempt in retrying:
            if self._stop.is_set():
                return
            with attempt:
                await self.poll_once()

    def _wait(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = exc.retry_after if isinstance(exc, SourceError) and exc.retry_after else 0.0
        # The server's own hint wins even past backoff_max (WeChat freq control lasts hours);
        # a day caps a nonsense Retry-After.
        return max(float(self._backoff(retry_state)), min(hint, MAX_SERVER_WAIT))

    async def _pause(self, seconds: float) -> None:
        if self._stop.is_set():
            return
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()

    async def poll_once(self) -> int:
        """One poll: pages until caught up or `max_pages`. Returns posts sent; raises on failure."""
        self.metrics.polls.labels(self.name).inc()
        sent = 0
        with self.metrics.poll_seconds.labels(self.name).time():
            state = self.store.load(self.name)
            for page_no in range(self.schedule.max_pages):
                if page_no:
                    await self._pause(self.schedule.page_pause)
                page = await self.source.fetch(self._context(state))
                sent += await self._deliver(page)
                state = dict(page.state)
                self.health.note = page.note
                if not page.more:
                    break
        self._record_success(sent)
        return sent

    def _context(self, state: Mapping[str, Any]) -> PollContext:
        return PollContext(
            http=self.http,
            state=state,
            now=self.clock(),
            seen=lambda ids: self.store.seen(self.name, ids),
            source=self.name,
            pause=self._pause,
        )

    async def _deliver(self, page: Page) -> int:
        fresh = self._dedup(page.posts)
        posts = [self.official.mark(p, self.source) for p in fresh]
        if page.rejects:
            await self.sink.dead_letter(page.rejects)
            for r in page.rejects:
                self.metrics.dead_letters.labels(self.name, r.reason.split(":")[0]).inc()
        if posts:
            await self.sink.send(posts)
        now = self.clock()
        listed = [p.id for p in page.posts]  # refreshes the dupes too, see CheckpointStore
        await asyncio.to_thread(self.store.commit, self.name, page.state, listed, now)
        await self._prune(now)
        self.metrics.posts.labels(self.name).inc(len(posts))
        if posts:
            self.health.newest = max(posts, key=_event_time)
        return len(posts)

    async def _prune(self, now: datetime) -> None:
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        await asyncio.to_thread(self.store.prune, now - SEEN_RETENTION)

    def _dedup(self, posts: Sequence[Post]) -> list[Post]:
        unique = list({p.id: p for p in posts}.values())
        already = self.store.seen(self.name, [p.id for p in unique])
        self.metrics.duplicates.labels(self.name).inc(len(posts) - len(unique) + len(already))
        return [p for p in unique if p.id not in already]

    def _record_success(self, sent: int) -> None:
        now = self.clock()
        h = self.health
        h.ok, h.last_success_at, h.consecutive_failures = True, now, 0
        h.posts_sent += sent
        self.metrics.up.labels(self.name).set(1)
        self.metrics.last_success.labels(self.name).set(now.timestamp())

    async def _record_failure(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if exc is None:
            return
        err = exc if isinstance(exc, SourceError) else SourceError("internal", repr(exc))
        if not isinstance(exc, SourceError):
            log.exception("connector %s failed unexpectedly", self.name, exc_info=exc)
        now = self.clock()
        h = self.health
        h.ok, h.last_error, h.last_error_kind, h.last_error_at = False, err.message, err.kind, now
        h.consecutive_failures += 1
        self.metrics.up.labels(self.name).set(0)
        self.metrics.errors.labels(self.name, err.kind).inc()
        log.warning("source %s: %s", self.name, err)
        if err.dead_letter_worthy:
            await self._dead_letter_error(err, now)

    async def _dead_letter_error(self, err: SourceError, now: datetime) -> None:
        record = DeadLetter(
            source=self.name, reason=f"{err.kind}: {err.message}", raw=err.raw or "", at=now
        )
        try:
            await self.sink.dead_letter([record])
            self.metrics.dead_letters.labels(self.name, err.kind).inc()
        except Exception:  # the sink itself is down: the health line already tells
            log.exception("source %s: dead-letter sink failed", self.name)


def _event_time(post: Post) -> datetime:
    return post.published_at or post.observed_at or datetime.min.replace(tzinfo=UTC)


def dead_letter(
    source: str, reason: str, raw: object, now: datetime, where: str | None = None
) -> DeadLetter:
    """A dead letter for one bad item; `raw` is JSON-encoded if it is not text already."""
    text = (
        raw
        if isinstance(raw, str)
        else msgspec.json.encode(raw, enc_hook=str).decode("utf-8", "replace")
    )
    return DeadLetter(source=source, reason=reason, raw=excerpt(text, 20_000), at=now, where=where)
