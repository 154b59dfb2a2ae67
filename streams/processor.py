"""One incident key's worth of work: assign posts, apply actions, fire clocks.

No Faust here: the agent hands in the bucket it read from its Table and writes back the bucket
this returns, then publishes the events, intents and changed states. Kept apart so replays,
benchmarks and tests drive exactly the code the worker runs.

A bucket holds the incidents of one key (city × category family): every incident a post of that
key could join. Incidents that can no longer take posts (not live and older than the assignment
window) are dropped from the bucket; the store keeps them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import compress, count, repeat
from operator import is_, is_not

import msgspec

from monitor.domain import actions, clocks, incidents
from monitor.domain.events import Event, EventKind, NotificationIntent
from monitor.domain.model import Classification, Grade, Location, Post, Responsible
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Action, ActionKind, IncidentState, Outcome, member_ids
from streams.records import Absorb, Classified

Router = incidents.Router


class Bucket(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    partition: int
    incidents: tuple[IncidentState, ...] = ()
    watermark: datetime | None = None
    seq: int = 0  # inputs applied; orders two copies of one bucket (see streams/app.py)
    # incident id → its key, for targets of merges out of this bucket into another key: a post
    # that would join such a target is sent on to the target's key
    moved: dict[str, str] = {}


class UnknownIncident(LookupError):
    pass


@dataclass
class Result:
    bucket: Bucket
    events: list[Event] = field(default_factory=list)
    notifications: list[NotificationIntent] = field(default_factory=list)
    changed: dict[str, IncidentState] = field(default_factory=dict)
    # records for other keys: the second half of a merge, posts for a merged-away incident
    forward: list[Classified | Absorb] = field(default_factory=list)

    clamped: int = 0  # posts whose claimed times were beyond the bound

    def take(self, out: Outcome) -> IncidentState:
        self.events.extend(out.events)
        self.notifications.extend(out.notifications)
        if out.events or out.notifications:
            self.changed[out.state.id] = out.state
        return out.state

    def mark_claimed(self, post_id: str, claimed: dict[str, str]) -> None:
        """Keep the times a post claimed beyond the bound on its `assigned` event."""
        self.clamped += 1
        for n, e in enumerate(self.events):
            if e.kind is EventKind.ASSIGNED and e.data.get("post_id") == post_id:
                self.events[n] = msgspec.structs.replace(e, data={**e.data, "claimed": claimed})


class _Held:
    """A superset of the post ids a bucket's incidents hold, and the incidents it is for.

    Built from the incidents exactly, then carried from a bucket to the one `on_post` or
    `on_tick` makes of it by adding the post's id: neither adds any other id to an incident
    (clocks change no members; incidents only leave). So for the tuple it names, an id not in
    `ids` is held by no incident, and an id in it is confirmed against the incidents.

    In a bucket past SMALL_BUCKET it also narrows `assign`'s candidates (a key keeps thousands
    of incidents over a month, and a pass over all of them per post grew with the run):
    `by_id` is exactly the bucket's incidents by id; `recent` holds the ids of at least every
    incident last seen at or after `since`; `owners` maps a post id to at least every incident
    holding it as a member (ids of incidents an input replaced, as it may have added the post)."""

    __slots__ = ("by_id", "ids", "incidents", "limit", "owners", "owners_limit", "recent", "since")

    def __init__(self, states: tuple[IncidentState, ...]) -> None:
        ids: set[str] = set()
        for s in states:
            ids.update(s.recent_ids)
            ids.update(member_ids(s.id, s.members))
        self.incidents = states
        self.ids = ids
        self.limit = 2 * len(ids) + 256  # rebuilt past this: ids of trimmed lists or dropped
        self.by_id: dict[str, IncidentState] | None = None
        self.recent: set[str] = set()
        self.since: datetime | None = None
        self.owners: dict[str, list[str]] | None = None
        self.owners_limit = 0

    def candidates(
        self, post: Post, window: timedelta
    ) -> tuple[list[IncidentState] | None, list[IncidentState] | None]:
        """`assign`'s `near` and `holders` for `post` (None: ask every incident)."""
        by_id = self.by_id
        if by_id is None:
            if len(self.incidents) <= SMALL_BUCKET:
                return None, None
            by_id = {s.id: s for s in self.incidents}
            if len(by_id) != len(self.incidents):  # ids not unique: the order of age is not
                return None, None
            self.by_id = by_id
            # what follow() did not keep up while there was no by_id
            self.since, self.recent, self.owners = None, set(), None
        try:
            earliest = incidents.event_time(post) - window
        except incidents.PostTimeError:
            return None, None  # assign raises it, as it would without the index
        since = self.since
        margin = window / 8  # for posts a little later than others: below it, a rebuild
        if since is None or earliest < since:  # first, or a post older than the others
            since = self.since = earliest - margin
            self.recent = {i for i, s in by_id.items() if s.last_seen >= since}
        elif earliest - since > 2 * margin:
            since = self.since = earliest - margin
            self.recent = {i for i in self.recent if i in by_id and by_id[i].last_seen >= since}
        near = [by_id[i] for i in self.recent if i in by_id]
        if not post.repost_of:
            return near, None
        owners = self.owners
        if owners is None or len(owners) > self.owners_limit:
            owners = self.owners = {}
            for s in by_id.values():
                for pid in member_ids(s.id, s.members):
                    owners.setdefault(pid, []).append(s.id)
            self.owners_limit = 2 * len(owners) + 1024
        holders = [by_id[i] for i in owners.get(post.repost_of, ()) if i in by_id]
        return near, holders

    def position(self, incident_id: str | None) -> int | None:
        """Where the incident `incident_id` is in `self.incidents` (None: not indexed here),
        found by identity in C rather than comparing every incident's id in Python."""
        s = self.by_id.get(incident_id or "") if self.by_id is not None else None
        if s is None:
            return None
        return next(compress(count(), map(is_, self.incidents, repeat(s))))

    def follow(self, after: tuple[IncidentState, ...], post_id: str | None) -> None:
        """From `self.incidents` to `after`, what on_post (of `post_id`) or on_tick made."""
        before = self.incidents
        self.incidents = after
        if post_id is not None:
            self.ids.add(post_id)
        by_id = self.by_id
        if by_id is None:
            return
        fresh: Iterable[int] = range(len(after))
        if len(after) >= len(before):  # positions kept unless some left (found below)
            fresh = [
                *compress(count(), map(is_not, after, before)),
                *range(len(before), len(after)),
            ]
        since = self.since
        owners = self.owners
        for i in fresh:
            s = after[i]
            by_id[s.id] = s
            if since is not None and s.last_seen >= since:
                self.recent.add(s.id)
            if post_id is not None and owners is not None:
                owners.setdefault(post_id, []).append(s.id)
        if len(by_id) != len(after):  # some left
            by_id = {s.id: s for s in after}
            self.by_id = by_id if len(by_id) == len(after) else None


# up to this many incidents a pass over all of them costs less than keeping a _Clocks
SMALL_BUCKET = 32


class _Clocks:
    """Where a bucket's clocks fall due, so an input asks only the incidents with something
    due rather than every incident of its key (thousands of open ones in a month).

    `heap` holds (time, position in `incidents`) entries; every incident with a clock has an
    entry no later than its `next_due_at` (an entry may be early: the incident changed since,
    and it is checked against the incident when it comes up). No incident of `incidents`
    leaves the bucket (not live, past the assignment window) before `drop` (None: none can);
    an incident that may leave sends the input over every incident, as positions move."""

    def __init__(self, incidents: tuple[IncidentState, ...], window: timedelta) -> None:
        self.incidents = incidents
        self.heap = [(s.next_due_at, i) for i, s in enumerate(incidents) if s.next_due_at]
        heapq.heapify(self.heap)
        self.drop: datetime | None = None
        for s in incidents:
            self.lower_drop(s, window)
        self.live = sum(1 for s in incidents if s.status.live)  # the gauge of live incidents

    def replaced(self, old: IncidentState | None, new: IncidentState, window: timedelta) -> None:
        """`new` took the place of `old` (None: added); its entry is pushed by the caller."""
        self.live += int(new.status.live) - (int(old.status.live) if old is not None else 0)
        self.lower_drop(new, window)

    def lower_drop(self, s: IncidentState, window: timedelta) -> None:
        if not s.status.live:
            left = s.last_seen + window
            self.drop = left if self.drop is None else min(self.drop, left)

    def due(self, wm: datetime) -> list[int]:
        """The positions whose entries are due by `wm` (taken off the heap), in order."""
        at: set[int] = set()
        while self.heap and self.heap[0][0] <= wm:
            at.add(heapq.heappop(self.heap)[1])
        return sorted(at)

    def earliest(self) -> datetime | None:
        """The earliest `next_due_at` of the incidents, exactly."""
        while self.heap:
            t, i = self.heap[0]
            actual = self.incidents[i].next_due_at
            if actual == t:
                return t
            if actual is None:
                heapq.heappop(self.heap)
            else:
                heapq.heapreplace(self.heap, (actual, i))
        return None


class Processor:
    def __init__(self, params: IncidentParams, home: str, router: Router | None = None) -> None:
        self.params = params
        self.home = home
        self.router = router
        self._held: dict[str, _Held] = {}  # bucket key → its held ids (see _Held)
        self._clocks: dict[str, _Clocks] = {}  # bucket key → where its clocks fall due
        self._window = timedelta(seconds=params.assign.window_s)

    def holds(self, bucket: Bucket, post_id: str) -> bool:
        """Whether an incident of `bucket` holds `post_id` (a redelivery): the same answer as
        asking every incident, which a post of a flood's key paid ~40 times over."""
        held = self._held.get(bucket.key)
        if held is None or held.incidents is not bucket.incidents or len(held.ids) > held.limit:
            held = self._held[bucket.key] = _Held(bucket.incidents)
        return post_id in held.ids and any(s.holds(post_id) for s in bucket.incidents)

    def _carry(self, before: Bucket, after: Bucket, post_id: str | None) -> None:
        """Point the held ids of `before` at `after` (plus `post_id`); see _Held."""
        held = self._held.get(before.key)
        if held is not None and held.incidents is before.incidents:
            held.follow(after.incidents, post_id)

    # --- posts ---------------------------------------------------------------------------

    def on_post(
        self,
        bucket: Bucket,
        post: Post,
        cls: Classification,
        accepted_at: datetime | None = None,
    ) -> Result:
        """Assign `post`. `accepted_at`: when the monitor took it in; its times are trusted only
        up to that plus `params.future_skew_s` (incidents.bound_times). None: no bound (a
        record from before accepted_at existed, in a worker without a wall clock)."""
        if self.holds(bucket, post.id):
            # Redelivered (at-least-once): assign() could pick another incident for it when
            # its text is no longer among those the first one keeps.
            return Result(bucket)
        res = self._on_post(bucket, post, cls, accepted_at)
        self._carry(bucket, res.bucket, post.id)
        return res

    def _on_post(
        self, bucket: Bucket, post: Post, cls: Classification, accepted_at: datetime | None
    ) -> Result:
        res = Result(bucket)
        states = list(bucket.incidents)
        original = post
        claimed: dict[str, str] = {}
        if accepted_at is not None:
            post, claimed = incidents.bound_times(post, accepted_at, self.params.future_skew_s)
        near = holders = None
        held = self._held.get(bucket.key)
        if held is not None and held.incidents is not bucket.incidents:
            held = None
        if held is not None and cls.is_incident:
            near, holders = held.candidates(post, self._window)
        decision = incidents.assign(
            states, post, cls, self.params, self.home, near=near, holders=holders
        )
        seen = incidents.seen_at(post)
        moved_to = bucket.moved.get(decision.incident_id or "")
        if decision.action == "join" and moved_to is not None:
            res.forward.append(Classified(
                moved_to, original, cls, forwarded_from=bucket.key, accepted_at=accepted_at
            ))  # fmt: skip
            return self._advance(res, states, seen)
        if decision.action == "open":
            states.append(
                res.take(incidents.open_incident(post, cls, self.params, decision, self.router))
            )
        elif decision.action == "join":
            i = held.position(decision.incident_id) if held is not None else None
            if i is None:
                i = _index(states, decision.incident_id)
            out = incidents.add_post(states[i], post, cls, self.params, self.router, decision)
            states[i] = res.take(out)
        if claimed:
            res.mark_claimed(post.id, claimed)
        return self._advance(res, states, seen)

    def trusted(self, t: datetime, now: datetime | None) -> datetime:
        """`t` (a tick's watermark, an action's recorded time) no later than the wall clock
        `now` plus the skew; unchanged without a wall clock (a replay in event time)."""
        if now is None:
            return t
        return min(t, now + timedelta(seconds=self.params.future_skew_s))

    # --- actions -------------------------------------------------------------------------

    def on_action(
        self,
        bucket: Bucket,
        action: Action,
        recorded_at: datetime,
        target_key: str | None = None,
    ) -> Result:
        """Raises UnknownIncident or actions.ActionError; the bucket is then unchanged.
        `target_key`: where a merge's target lives when it is not this bucket's key."""
        res = Result(bucket)
        states = list(bucket.incidents)
        i = _index(states, action.incident_id)
        now = max(recorded_at, bucket.watermark or recorded_at)
        skew = self.params.future_skew_s
        kind = action.kind
        if kind == ActionKind.MERGE and target_key not in (None, bucket.key):
            assert target_key is not None and action.target is not None
            out = actions.merge_out(states[i], action, now, recorded_at=recorded_at, skew_s=skew)
            states[i] = res.take(out)
            # sent again when the merge was already applied (a redelivery after a crash may
            # have lost the first); absorbing is idempotent by action id
            res.forward.append(Absorb(target_key, action, states[i], recorded_at))
            moved = {**bucket.moved, action.target: target_key}
            res.bucket = msgspec.structs.replace(bucket, moved=moved)
        elif kind == ActionKind.MERGE:
            j = _index(states, action.target)
            src, dst = actions.merge(
                states[i], states[j], action, now, recorded_at=recorded_at, skew_s=skew
            )
            states[i], states[j] = res.take(src), self._trim(res, res.take(dst))
        elif kind == ActionKind.SPLIT:
            texts = states[i].texts
            rest, created = actions.split(
                states[i], action, now, texts, self.params.heat, recorded_at=recorded_at,
                skew_s=skew,
            )  # fmt: skip
            states[i] = res.take(rest)
            if created is not None:
                states.append(res.take(created))
        else:
            out = actions.apply_action(
                states[i], action, now, self.router, recorded_at=recorded_at, skew_s=skew
            )
            states[i] = res.take(out)
        return self._advance(res, states, now)

    def on_absorb(self, bucket: Bucket, rec: Absorb) -> Result:
        """The target's half of a merge across keys. Raises like on_action."""
        res = Result(bucket)
        states = list(bucket.incidents)
        i = _index(states, rec.action.target)
        now = max(rec.recorded_at, bucket.watermark or rec.recorded_at)
        out = actions.absorb(
            states[i], rec.source, rec.action, now, recorded_at=rec.recorded_at,
            skew_s=self.params.future_skew_s,
        )  # fmt: skip
        states[i] = self._trim(res, res.take(out))
        return self._advance(res, states, now)

    # --- clocks --------------------------------------------------------------------------

    def on_tick(self, bucket: Bucket, watermark: datetime) -> Result:
        res = self._advance(Result(bucket), list(bucket.incidents), watermark)
        self._carry(bucket, res.bucket, None)
        return res

    def _advance(self, res: Result, states: list[IncidentState], t: datetime) -> Result:
        """Move the bucket's watermark to `t` (never back) and fire what is due by it."""
        wm = max(t, res.bucket.watermark) if res.bucket.watermark else t
        key = res.bucket.key
        window = self._window
        # taken out while in use: an evaluation that raises must not leave it half moved on
        index = self._clocks.pop(key, None)
        if len(states) <= SMALL_BUCKET or not self._follow(index, res.bucket, states, window):
            return self._advance_all(res, states, wm, window)
        assert index is not None
        # only incidents with something due, in bucket order: a flood's post would otherwise
        # ask every incident of its key, each with nothing due (evaluate returns those unchanged)
        for i in index.due(wm):
            s = states[i]
            if s.next_due_at is not None and s.next_due_at <= wm:
                states[i] = new = res.take(clocks.evaluate(s, wm))
                index.replaced(s, new, window)
                s = new
            if s.next_due_at is not None:
                heapq.heappush(index.heap, (s.next_due_at, i))
        if index.drop is not None and index.drop < wm:  # some may leave: positions move
            return self._advance_all(res, states, wm, window, evaluated=True)
        kept = tuple(states)
        res.bucket = msgspec.structs.replace(
            res.bucket, incidents=kept, watermark=wm, seq=res.bucket.seq + 1
        )
        index.incidents = kept
        if len(index.heap) > 2 * len(kept) + 64:  # entries of incidents changed since
            index = _Clocks(kept, window)
        self._clocks[key] = index
        return res

    def _follow(
        self,
        index: _Clocks | None,
        bucket: Bucket,
        states: list[IncidentState],
        window: timedelta,
    ) -> bool:
        """Bring `index` from the bucket's incidents to `states`: the incidents an input
        replaced or added (found by comparing the objects, in C) get entries. False when it
        cannot be (none, another bucket's copy, incidents moved, merge targets to forget)."""
        old = bucket.incidents
        if index is None or index.incidents is not old or bucket.moved or len(states) < len(old):
            return False
        fresh = list(compress(count(), map(is_not, states, old)))
        fresh.extend(range(len(old), len(states)))
        for i in fresh:
            s = states[i]
            if s.next_due_at is not None:
                heapq.heappush(index.heap, (s.next_due_at, i))
            index.replaced(old[i] if i < len(old) else None, s, window)
        return True

    def _advance_all(
        self,
        res: Result,
        states: list[IncidentState],
        wm: datetime,
        window: timedelta,
        evaluated: bool = False,
    ) -> Result:
        """_advance asking every incident (`evaluated`: what was due is fired already)."""
        if not evaluated:
            states = [
                s if s.next_due_at is None or s.next_due_at > wm
                else res.take(clocks.evaluate(s, wm))
                for s in states
            ]  # fmt: skip
        kept = tuple(s for s in states if self._keep(s, wm))
        moved = res.bucket.moved
        if moved:  # forget a target once no incident kept here points at it
            moved = {
                target: key for target, key in moved.items()
                if any(s.merged_into == target for s in kept)
            }  # fmt: skip
        res.bucket = msgspec.structs.replace(
            res.bucket, incidents=kept, watermark=wm, seq=res.bucket.seq + 1, moved=moved
        )
        if len(kept) > SMALL_BUCKET:
            self._clocks[res.bucket.key] = _Clocks(kept, window)
        return res

    def live(self, bucket: Bucket) -> int:
        """How many of the bucket's incidents are live (for the gauge, at every tick)."""
        index = self._clocks.get(bucket.key)
        if index is None or index.incidents is not bucket.incidents:
            return sum(1 for s in bucket.incidents if s.status.live)
        return index.live

    def next_due(self, bucket: Bucket) -> datetime | None:
        """The earliest `next_due_at` of the bucket's incidents (a replay schedules its ticks
        by it), without asking each when the bucket is the one last advanced here."""
        index = self._clocks.get(bucket.key)
        if index is None or index.incidents is not bucket.incidents:
            return min((s.next_due_at for s in bucket.incidents if s.next_due_at), default=None)
        return index.earliest()

    def _trim(self, res: Result, s: IncidentState) -> IncidentState:
        """A merged incident within the caps a post keeps it in (incidents.trimmed)."""
        t = incidents.trimmed(s, self.params)
        if t is not s and s.id in res.changed:
            res.changed[s.id] = t
        return t

    def _keep(self, s: IncidentState, wm: datetime) -> bool:
        if s.status.live:
            return True
        return s.last_seen + self._window >= wm


def _index(states: list[IncidentState], incident_id: str | None) -> int:
    for i, s in enumerate(states):
        if s.id == incident_id:
            return i
    raise UnknownIncident(f"unknown incident {incident_id!r}")


def routing_router(route: object) -> Router:
    """Adapt the classifier's routing table to the domain's Router signature."""
    from monitor.domain.routing import RoutingTable, responsible

    if not isinstance(route, RoutingTable):
        raise TypeError("expected a monitor.domain.routing.RoutingTable")

    def router(category: str, loc: Location, grade: Grade) -> Responsible:
        return responsible(category, grade, loc, route)

    return router


def all_states(results: Iterable[Result]) -> list[IncidentState]:
    return [s for r in results for s in r.changed.values()]
