"""Incident assignment, heat and grade: which incident a classified post belongs to.

    key = incident_key(cls, home, params)                  partition key, known before assignment
    decision = assign(candidates, post, cls, params, home) open | join | ignore
    outcome = open_incident(post, cls, params, decision, router)
    outcome = add_post(state, post, cls, params, router, decision)

`candidates` are the incidents stored under `key` that are live or were active within the window
(closed ones only take reposts and near duplicates). A join names `decision.incident_id`, which
may be a merged incident's survivor. `add_post` is idempotent per post id and first fires the
clock items due before the post was seen, so ticking the clocks in between or not (live or
replay) yields the same event sequence.

Partitioning: `incident_key` is f"{city_code or home}:{family}". Every incident a post could
join shares that key (same family; the same city, since a post with no place is taken to be
about the monitored city `home`), so the streams layer can route a post and all its candidates
to one worker. Counties are compared inside `assign`, not in the key, because "county unknown"
must still match a known county.

A post joins a live candidate when all hold: same category family (`AssignPolicy.families`),
compatible place (same county or one side unknown), its event time within `window` (72 h) of
the incident's posts, and text similarity ≥ `similarity`. A repost (`repost_of`) of a member
post, or a near duplicate (similarity ≥ `near_duplicate`), joins regardless of category and
place, even a closed incident (which stays closed; the post only adds heat).

Similarity is the overlap coefficient of character bigram sets, |A∩B| / min(|A|,|B|), against
the few texts an incident keeps. Overlap rather than Jaccard because a 40-character Weibo post
and a 1,000-character news report about one fire share few bigrams relative to their union.
Exact sets rather than datasketch MinHash: a post is compared with a handful of candidates of
one key, where exact sets cost microseconds and MinHash would only add estimation error; MinHash
pays off for LSH over thousands of documents, which this is not. Measured on CEC
(benchmarks/incident_similarity.py): at 0.25, 80% of same-event pairs (headline vs report) join
and 17% of different events of one category would, before place and time are checked;
Jaccard and MinHash join almost no headline to its own report at any useful threshold.

Grade = graver of fact grade (max over posts) and heat grade (monotone, capped at II by
default); no grade at all means IV (一般). A manual regrade by duty staff overrides it, up or
down, until graver evidence than was known at the regrade arrives (`combined_grade`).
`router` (e.g. a wrapper of monitor.domain.routing.responsible) re-routes responsible bodies
when grade or place changes; without it the bodies of the opening (or gravest) post's
classification are kept.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from sys import intern
from typing import Literal

import msgspec

from monitor.domain import clocks
from monitor.domain.events import Event, EventKind, utc
from monitor.domain.model import Classification, Grade, Location, Post, Responsible
from monitor.domain.outbox import intents_for
from monitor.domain.policy import SEVERE, HeatPolicy, IncidentParams
from monitor.domain.state import GradeSources, Heat, IncidentState, Member, Outcome, Status

Router = Callable[[str, Location, Grade], Responsible]
LIVE = frozenset({Status.OPEN, Status.RESPONDING})

TEXT_KEEP = 300  # characters of each kept text; bigrams beyond this add little but cost
RECENT_IDS = 64  # newest post ids, so a redelivered post is dropped even past max_members


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    action: Literal["open", "join", "ignore"]
    key: str
    incident_id: str | None = None
    reason: str = ""
    score: float = 0.0


class PostTimeError(ValueError):
    pass


def event_time(post: Post) -> datetime:
    t = post.published_at or post.observed_at
    if t is None:
        raise PostTimeError(f"post {post.id!r}: neither published_at nor observed_at is set")
    if t.tzinfo is None:
        raise PostTimeError(f"post {post.id!r}: event time {t.isoformat()} has no time zone")
    return utc(t)


def _seen(post: Post, t: datetime) -> datetime:
    """When the monitor learnt of the post: its observed time, never before its event time."""
    if post.observed_at is None:
        return t
    if post.observed_at.tzinfo is None:
        raise PostTimeError(f"post {post.id!r}: observed_at has no time zone")
    return max(utc(post.observed_at), t)


def seen_at(post: Post) -> datetime:
    """When the monitor learnt of the post (see `_seen`); PostTimeError for a time with no
    zone or no time at all."""
    return _seen(post, event_time(post))


def bound_times(post: Post, accepted_at: datetime, skew_s: int) -> tuple[Post, dict[str, str]]:
    """The post with its times trusted only up to `accepted_at` (when the monitor took it in)
    plus `skew_s`, and the times it claimed beyond that (field → ISO time; empty if none).

    A time beyond the bound is replaced by `accepted_at`: the post cannot have been published
    or seen after the monitor had it. Clamped rather than refused, so that a real report from a
    source whose clock or time zone is wrong (Beijing time labelled UTC is 8 h ahead) still
    opens or joins its incident; the claimed time stays on record in the `assigned` event.
    Within the skew a post keeps its time: sources' clocks differ by a little. Either way no
    post moves the watermark past `accepted_at` + skew, so no clock breaches early on its
    account by more than the skew."""
    latest = accepted_at + timedelta(seconds=skew_s)
    seen_at(post)  # refuses times with no zone before they are compared
    claimed: dict[str, str] = {}
    changes: dict[str, datetime] = {}
    for name in ("published_at", "observed_at"):
        t = getattr(post, name)
        if t is not None and t > latest:
            claimed[name] = utc(t).isoformat()
            changes[name] = utc(accepted_at)
    if not changes:
        return post, claimed
    return msgspec.structs.replace(post, **changes), claimed


def incident_key(cls: Classification, home: str, params: IncidentParams) -> str:
    return f"{cls.location.city_code or home}:{params.assign.family(cls.category)}"


def new_incident_id(post: Post, key: str) -> str:
    digest = hashlib.sha1(f"{key}|{post.source or ''}|{post.id}".encode()).hexdigest()[:10]
    return f"{event_time(post):%Y%m%d}-{digest}"


# --- similarity ------------------------------------------------------------------------------

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
# Function characters pair with anything; bigrams holding one say little about which event a
# text is about (on CEC they raised same-event recall at 0.25 from 77% to 80%, same false joins).
_STOP_CHARS = frozenset(
    "的了在是有和与及等对于为被将把从到一人个名时日月年中上下这那其已后前所此也都并由向"
)


@lru_cache(maxsize=4096)
def bigrams(text: str) -> frozenset[str]:
    """Cached: an incident's kept texts are compared with every post of its partition.

    Bounded memory in a flood, where every joined post becomes a kept text and a new entry
    here and in `_text_profile`: each bigram is interned, so the sets share one string per
    distinct bigram instead of holding ~78 bytes per bigram per text (40 incidents × 30,000
    short posts: the two caches held 122 MB at their caps, 16,384 here; now 46 MB). The
    reuse that matters is through `_text_profile` (an incident's other kept texts when its
    texts change), so 4,096 entries miss only for incidents quiet for thousands of posts."""
    clean = _NOISE.sub("", text[: TEXT_KEEP * 2])[:TEXT_KEEP]
    keep = [c not in _STOP_CHARS for c in clean]
    return frozenset(
        intern(clean[i : i + 2]) for i in range(len(clean) - 1) if keep[i] and keep[i + 1]
    )


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def similarity(text: str, state: IncidentState) -> float:
    return _similarity(bigrams(text), state)


def _similarity(mine: frozenset[str], state: IncidentState, floor: float = 0.0) -> float:
    """Best overlap with any kept text; 0.0 early when even the bound cannot reach `floor`."""
    union, shortest, sets = _text_profile(state.texts)
    if not mine or not sets:
        return 0.0
    # |A∩T| ≤ |A∩U| and min(|A|,|T|) ≥ min(|A|, shortest): one intersection rules most out
    if len(mine & union) / min(len(mine), shortest) < floor:
        return 0.0
    return max(overlap(mine, s) for s in sets)


@lru_cache(maxsize=4096)
def _text_profile(texts: tuple[str, ...]) -> tuple[frozenset[str], int, tuple[frozenset[str], ...]]:
    sets = tuple(s for s in (bigrams(t) for t in texts) if s)
    union = frozenset().union(*sets)
    return union, min((len(s) for s in sets), default=1), sets


MIN_NEAR_DUP_BIGRAMS = 12  # a few words contained in a long text are not a duplicate of it


# --- assignment ------------------------------------------------------------------------------


def _place_compatible(a: Location, b: Location) -> bool:
    if a.city_code and b.city_code and a.city_code != b.city_code:
        return False
    return not (a.county_code and b.county_code and a.county_code != b.county_code)


def _town_bonus(a: Location, b: Location) -> float:
    if a.town_code and b.town_code:
        return 0.15 if a.town_code == b.town_code else -0.15
    return 0.0


# the order candidates are tried in, oldest first (the first of equals wins); a key in C
_AGE = attrgetter("first_seen", "id")


def assign(
    candidates: Sequence[IncidentState],
    post: Post,
    cls: Classification,
    params: IncidentParams,
    home: str = "",
    *,
    near: Sequence[IncidentState] | None = None,
    holders: Sequence[IncidentState] | None = None,
) -> Decision:
    """`near` and `holders` narrow the candidates a caller has indexed (a key keeps thousands
    of incidents over a month): `near` holds at least every candidate inside the assignment
    window of the post's event time, `holders` at least every candidate with `post.repost_of`
    among its members; both only candidates, in any order. None: all candidates. The decision
    is the one all candidates give, as candidates are tried in order of age (ids are unique)."""
    key = incident_key(cls, home, params)
    if not cls.is_incident or cls.category == "none":
        return Decision(action="ignore", key=key, reason="not an incident")
    t = event_time(post)
    joined = _repost_match(candidates if holders is None else holders, post) or _text_match(
        candidates if near is None else near, post, cls, t, params
    )
    if joined is not None:
        state, reason, score = joined
        target = state.merged_into or state.id
        return Decision(action="join", key=key, incident_id=target, reason=reason, score=score)
    return Decision(action="open", key=key, incident_id=new_incident_id(post, key), reason="new")


Match = tuple[IncidentState, str, float]


def _repost_match(candidates: Sequence[IncidentState], post: Post) -> Match | None:
    if not post.repost_of:
        return None
    holders = [s for s in candidates if post.repost_of in s.member_ids]
    if not holders:
        return None
    return min(holders, key=_AGE), f"repost of {post.repost_of}", 1.0


def _text_match(
    candidates: Sequence[IncidentState],
    post: Post,
    cls: Classification,
    t: datetime,
    params: IncidentParams,
) -> Match | None:
    """A near duplicate anywhere in the window wins; else the most similar compatible live one.
    One pass, so each candidate's texts are compared once."""
    family = params.assign.family(cls.category)
    mine = bigrams(post.full_text)
    may_duplicate = len(mine) >= MIN_NEAR_DUP_BIGRAMS
    duplicate: Match | None = None
    best: Match | None = None
    window = timedelta(seconds=params.assign.window_s)
    earliest, latest = t - window, t + window
    # those inside the window, oldest first: sorting only these (a key holds thousands of
    # incidents over a month, most long out of the window) keeps the order the others had
    ordered = sorted(
        (s for s in candidates if s.last_seen >= earliest and s.first_seen <= latest), key=_AGE
    )
    for state in ordered:
        compatible = (
            state.status in LIVE
            and state.family == family
            and _place_compatible(state.location, cls.location)
        )
        if not (compatible or may_duplicate):
            continue
        bonus = _town_bonus(state.location, cls.location)
        # the least text score that could matter: a join once this candidate's own town bonus
        # is added, or a near duplicate. In a flood many incidents of one key share a county,
        # and the bonus of another town (-0.15) rules most of them out before any text set
        # is compared (with the best bonus for every candidate most needed comparing).
        floor = params.assign.similarity - bonus if compatible else params.assign.near_duplicate
        if may_duplicate:
            floor = min(floor, params.assign.near_duplicate)
        text_score = _similarity(mine, state, floor)
        if may_duplicate and text_score >= params.assign.near_duplicate:
            if duplicate is None or text_score > duplicate[2]:
                duplicate = (state, "near duplicate", text_score)
            continue
        score = text_score + bonus
        if compatible and score >= params.assign.similarity and (best is None or score > best[2]):
            best = (state, "similar", round(score, 4))
    return duplicate or best


# --- heat and grade --------------------------------------------------------------------------


def _is_media(post: Post, heat: HeatPolicy) -> bool:
    return bool(post.author_verified) or (post.source or "") in heat.media_sources


def velocity(times: Sequence[datetime], window_s: int) -> float:
    """Posts per hour within the window ending at the newest time."""
    if not times:
        return 0.0
    newest = max(times)
    start = newest - timedelta(seconds=window_s)
    return sum(1 for x in times if x > start) * 3600 / window_s


def add_heat(heat: Heat, t: datetime, reach: int, media: bool, policy: HeatPolicy) -> Heat:
    times = list(heat.recent)  # sorted, bounded by velocity_keep
    bisect.insort(times, t)
    cutoff = times[-1] - timedelta(seconds=policy.window_s)
    first = max(bisect.bisect_right(times, cutoff), len(times) - policy.velocity_keep)
    times = times[first:]
    return Heat(
        posts=heat.posts + 1,
        reach=heat.reach + reach,
        media=heat.media + int(media),
        recent=tuple(times),
        # every kept time is inside the window ending at the newest
        peak_velocity=max(heat.peak_velocity, len(times) * 3600 / policy.window_s),
    )


# Grade.rank builds list(Grade) per call; heat_grade and _graver run for every post.
_RANK = {g: g.rank for g in Grade}


def _graver(*grades: Grade | None) -> Grade | None:
    """Grade.graver with the rank table."""
    present = [g for g in grades if g is not None]
    return max(present, key=_RANK.__getitem__) if present else None


def heat_grade(heat: Heat, policy: HeatPolicy) -> tuple[Grade | None, str | None]:
    """The gravest heat rule met (any one criterion suffices), never above the cap."""
    found: tuple[Grade | None, str | None] = (None, None)
    cap = _RANK[policy.cap]
    for rule in sorted(policy.rules, key=lambda r: _RANK[r.grade]):
        if _RANK[rule.grade] > cap:
            continue
        basis = _heat_basis(heat, rule.posts, rule.reach, rule.velocity, rule.media)
        if basis:
            found = (rule.grade, basis)
    return found


def _heat_basis(
    heat: Heat, posts: int | None, reach: int | None, vel: float | None, media: int | None
) -> str | None:
    if posts is not None and heat.posts >= posts:
        return f"posts {heat.posts} ≥ {posts}"
    if reach is not None and heat.reach >= reach:
        return f"reach {heat.reach} ≥ {reach}"
    if vel is not None and heat.peak_velocity >= vel:
        return f"velocity {heat.peak_velocity:g}/h ≥ {vel:g}/h"
    if media is not None and heat.media >= media:
        return f"media {heat.media} ≥ {media}"
    return None


def evidence_grade(sources: GradeSources) -> Grade:
    """What the posts say: the graver of fact and heat; nothing known means IV."""
    return _graver(sources.fact, sources.heat) or Grade.IV


def combined_grade(sources: GradeSources) -> Grade:
    """The evidence grade, unless duty staff regraded by hand: a manual grade, up or down,
    holds until evidence graver than what was known when it was set arrives (a later report
    of more deaths, heat past a higher threshold); then the graver of the two counts."""
    evidence = evidence_grade(sources)
    if sources.manual is None:
        return evidence
    known = sources.manual_evidence or Grade.IV
    if _RANK[evidence] > _RANK[known]:
        return _graver(evidence, sources.manual) or evidence
    return sources.manual


def set_grade(
    state: IncidentState,
    sources: GradeSources,
    t: datetime,
    at: datetime,
    router: Router | None,
    cause: str,
) -> Outcome:
    """Apply new grade sources. `t` is the event time that caused it (starts I/II clocks under
    `reached_grade`); `at` is when the rules start to apply (the monitor's time of learning)."""
    grade = combined_grade(sources)
    state = msgspec.structs.replace(state, grades=sources)
    if grade == state.grade:
        return Outcome(state=state)
    old = state.grade
    severe_since = state.severe_since
    if grade in SEVERE and severe_since is None:
        severe_since = t
    since = {
        r.name: state.rule_since.get(r.name, at) for r in state.policy.rules if grade in r.grades
    }
    rev = state.rev + 1
    responsible = router(state.category, state.location, grade) if router else state.responsible
    state = msgspec.structs.replace(
        state, grade=grade, grade_changed_at=at, severe_since=severe_since, rule_since=since,
        responsible=responsible, rev=rev,
    )  # fmt: skip
    event = Event(
        id=f"{state.id}:graded:{rev}",
        kind=EventKind.GRADED,
        incident_id=state.id,
        at=at,
        data={
            "from": old.value,
            "to": grade.value,
            "direction": "up" if grade.rank > old.rank else "down",
            "cause": cause,
            "fact": sources.fact.value if sources.fact else None,
            "heat": sources.heat.value if sources.heat else None,
            "manual": sources.manual.value if sources.manual else None,
            "bodies": list(responsible.bodies),
        },
    )
    state = clocks.refresh(state)
    graded = Outcome(state=state, events=(event,), notifications=intents_for(state, [event]))
    # an upgrade keeps the original start: whatever is already due fires now, once. Strictly
    # before `at`, as the caller's own catch-up did, so one clock's items due together fire
    # in one batch (and only the newest is told); one due exactly at `at` fires next.
    return graded.then(clocks.catch_up(state, at))


# --- open and join ---------------------------------------------------------------------------


def _title(post: Post) -> str:
    text = post.title or re.sub(r"\s+", " ", post.text).strip()
    return text[:40] + ("…" if len(text) > 40 else "")


def _member(post: Post, cls: Classification, t: datetime, params: IncidentParams) -> Member:
    reach = max(post.author_followers or 0, 0)
    media = _is_media(post, params.heat)
    return Member(post.id, t, reach, media, cls.grade, post.repost_of)


_FACTS = ("deaths", "missing", "injured", "trapped", "loss_yuan")


def assigned_id(incident_id: str, post_id: str) -> str:
    """The id of the event that assigned a post to an incident (one per pair)."""
    return f"{incident_id}:assigned:{post_id}"


def _assigned(
    state: IncidentState, post: Post, cls: Classification, t: datetime, reason: str, score: float
) -> Event:
    # the post's own facts, so a reader can show the incident's casualties and place without
    # classifying its posts again
    c = cls.casualties
    facts = {f: getattr(c, f) for f in _FACTS if getattr(c, f) is not None}
    return Event(
        id=assigned_id(state.id, post.id),
        kind=EventKind.ASSIGNED,
        incident_id=state.id,
        at=t,
        data={
            "post_id": post.id, "source": post.source, "url": post.url, "reason": reason,
            "score": score, "posts": state.heat.posts, "reach": state.heat.reach,
            "casualties": facts, "town": cls.location.town,
        },
    )  # fmt: skip


def open_incident(
    post: Post,
    cls: Classification,
    params: IncidentParams,
    decision: Decision,
    router: Router | None = None,
) -> Outcome:
    if decision.action != "open" or decision.incident_id is None:
        raise ValueError(f"open_incident needs an 'open' decision, got {decision.action!r}")
    t = event_time(post)
    seen = _seen(post, t)
    member = _member(post, cls, t, params)
    heat = add_heat(Heat(), t, member.reach, member.media, params.heat)
    hgrade, hbasis = heat_grade(heat, params.heat)
    sources = GradeSources(
        fact=cls.grade, fact_basis=cls.grade_basis, heat=hgrade, heat_basis=hbasis
    )
    grade = combined_grade(sources)
    rules = [r for r in params.clocks.rules if grade in r.grades]
    responsible = router(cls.category, cls.location, grade) if router else cls.responsible
    state = IncidentState(
        id=decision.incident_id, key=decision.key, category=cls.category,
        family=params.assign.family(cls.category), title=_title(post), location=cls.location,
        first_seen=t, opened_at=seen, last_seen=t, grade=grade, grades=sources,
        grade_changed_at=seen, severe_since=t if grade in SEVERE else None,
        responsible=responsible, policy=params.clocks, heat=heat, members=(member,),
        recent_ids=(post.id,),
        texts=(post.full_text[:TEXT_KEEP],), rule_since={r.name: seen for r in rules}, rev=1,
    )  # fmt: skip
    state = clocks.refresh(state)
    opened = Event(
        id=f"{state.id}:opened",
        kind=EventKind.OPENED,
        incident_id=state.id,
        at=seen,
        data={
            "key": state.key, "category": state.category, "title": state.title,
            "grade": grade.value, "county": state.location.county,
            "county_code": state.location.county_code, "bodies": list(responsible.bodies),
            "level": responsible.level, "policy_version": state.policy_version,
            "first_seen": t.isoformat(),
        },
    )  # fmt: skip
    events = (opened, _assigned(state, post, cls, t, decision.reason, 1.0))
    first = Outcome(state=state, events=events, notifications=intents_for(state, events))
    return first.then(clocks.evaluate(state, seen))


def _keep_texts(texts: tuple[str, ...], text: str, limit: int) -> tuple[str, ...]:
    """The first texts (the story as it broke) and the newest (as it develops)."""
    clipped = text[:TEXT_KEEP]
    if clipped in texts:
        return texts
    if len(texts) < limit:
        return (*texts, clipped)
    head = limit // 2
    return (*texts[:head], *texts[head + 1 :], clipped)


def _refine_location(old: Location, new: Location) -> Location:
    if old.county_code or not new.county_code:
        return old
    if old.city_code and new.city_code and old.city_code != new.city_code:
        return old
    return new


def add_post(
    state: IncidentState,
    post: Post,
    cls: Classification,
    params: IncidentParams,
    router: Router | None = None,
    decision: Decision | None = None,
) -> Outcome:
    """Join `post` to `state`. A post already seen is a no-op (at-least-once delivery).

    Clocks are first caught up to when the post was seen, so the event sequence is the same
    whether the edge ticked the clocks in between (live) or not (a replay at full speed)."""
    if state.holds(post.id):
        return Outcome(state=state)
    t = event_time(post)
    seen = _seen(post, t)
    caught_up = clocks.catch_up(state, seen)
    state = caught_up.state
    member = _member(post, cls, t, params)
    heat = add_heat(state.heat, t, member.reach, member.media, params.heat)
    full = len(state.members) >= params.assign.max_members
    state = msgspec.structs.replace(
        state, heat=heat, members=state.members if full else (*state.members, member),
        recent_ids=(*state.recent_ids, post.id)[-RECENT_IDS:],
        texts=_keep_texts(state.texts, post.full_text, params.assign.max_texts),
        first_seen=min(state.first_seen, t), last_seen=max(state.last_seen, t), rev=state.rev + 1,
    )  # fmt: skip
    if state.first_seen == t:
        # an older post arrived late: the event was public earlier, so the clocks start earlier
        state = clocks.refresh(state)
    reason, score = (decision.reason, decision.score) if decision else ("joined", 0.0)
    assigned = _assigned(state, post, cls, t, reason, score)
    out = caught_up.then(Outcome(state=state, events=(assigned,)))
    out = out.then(_refine_place(out.state, cls, router, t))
    sources = _sources_after(out.state, cls, heat, params)
    if router is None and sources.fact != out.state.grades.fact:
        # without a router, the gravest post's own routing is the best we know
        out = _with_state(out, msgspec.structs.replace(out.state, responsible=cls.responsible))
    return out.then(set_grade(out.state, sources, t, seen, router, f"post {post.id}"))


def trimmed(state: IncidentState, params: IncidentParams) -> IncidentState:
    """The state within the caps a post keeps it in (members, kept texts, recent ids and
    times). A merge adds one incident's lists to another's; without this, merging many
    incidents into one would grow its state without limit. The first members are kept, as
    add_post keeps them; the counts (heat) stay whole."""
    policy = params.assign
    keep = params.heat.velocity_keep
    if (
        len(state.members) <= policy.max_members
        and len(state.texts) <= policy.max_texts
        and len(state.recent_ids) <= RECENT_IDS
        and len(state.heat.recent) <= keep
    ):
        return state
    head = policy.max_texts // 2
    texts = state.texts
    if len(texts) > policy.max_texts:
        texts = (*texts[:head], *texts[len(texts) - (policy.max_texts - head) :])
    heat = msgspec.structs.replace(state.heat, recent=state.heat.recent[-keep:])
    return msgspec.structs.replace(
        state, members=state.members[: policy.max_members], texts=texts,
        recent_ids=state.recent_ids[-RECENT_IDS:], heat=heat,
    )  # fmt: skip


def _with_state(out: Outcome, state: IncidentState) -> Outcome:
    return Outcome(state=state, events=out.events, notifications=out.notifications)


def _sources_after(
    state: IncidentState, cls: Classification, heat: Heat, params: IncidentParams
) -> GradeSources:
    old = state.grades
    hgrade, hbasis = heat_grade(heat, params.heat)
    fact = _graver(old.fact, cls.grade)
    new_heat = _graver(old.heat, hgrade)
    return msgspec.structs.replace(
        old, fact=fact, fact_basis=old.fact_basis if fact == old.fact else cls.grade_basis,
        heat=new_heat, heat_basis=old.heat_basis if new_heat == old.heat else hbasis,
    )  # fmt: skip


def _refine_place(
    state: IncidentState, cls: Classification, router: Router | None, t: datetime
) -> Outcome:
    """An incident opened with no county takes the first county a later post names."""
    location = _refine_location(state.location, cls.location)
    if location == state.location:
        return Outcome(state=state)
    responsible = router(state.category, location, state.grade) if router else cls.responsible
    state = msgspec.structs.replace(state, location=location, responsible=responsible)
    event = Event(
        id=f"{state.id}:updated:{state.rev}",
        kind=EventKind.UPDATED,
        incident_id=state.id,
        at=t,
        data={
            "county": location.county, "county_code": location.county_code,
            "town": location.town, "bodies": list(responsible.bodies),
        },
    )  # fmt: skip
    return Outcome(state=state, events=(event,))
