"""Records on the topics `streams/` owns. msgspec: validated on decode, fast to encode.

`posts.classified` carries a tagged union so that posts, actions and clock ticks for one
incident key pass through one partition in one order: that order is what makes a replay give
the same `incident.events` as the live run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import msgspec

from monitor.domain.model import Classification, Post
from monitor.domain.state import Action, IncidentState


class Classified(msgspec.Struct, frozen=True, tag="post"):
    """`accepted_at`: when the monitor took the post in (the classify stage's clock, or the
    archive's for a post replayed before it was classified). The post's own times are trusted
    only up to this plus the configured skew (streams/processor.py), and a replay carries it,
    so the guard gives the same result live and in a replay. None on records written before
    it existed: then only the live worker's wall clock bounds the post.

    `forwarded_from`: set when another key's worker sent the post on, because the incident
    it joins was merged into an incident of this key. Such a copy is not archived: replaying
    the original makes it again."""

    key: str
    post: Post
    cls: Classification
    forwarded_from: str | None = None
    accepted_at: datetime | None = None


class ClassifiedBatch(msgspec.Struct, frozen=True, tag="posts"):
    """Several posts of one incident key, in the order the classify agent read them.

    Each item is an encoded `Classified`, kept raw so the incident agent decodes (and
    dead-letters) them one by one and the archive stores each as it would a single record.
    Why batches: Faust's per-record cost on the consuming side (~60 µs) was larger than the
    incident domain's work for a post; one record per key per classify batch pays it once."""

    key: str
    items: tuple[msgspec.Raw, ...]
    # when the classify stage took these posts from posts.raw: the start of the processing
    # latency (monitor_post_to_event_seconds). Replays send single records, never a batch, so
    # a replayed post is never counted as slow.
    taken_at: datetime | None = None


class ActionIn(msgspec.Struct, frozen=True, tag="action"):
    """`recorded_at` is when the monitor accepted the action: the action's `now`.
    `target_key`: a merge's target lives under another key (see `Absorb`)."""

    key: str
    action: Action
    recorded_at: datetime
    target_key: str | None = None


class Absorb(msgspec.Struct, frozen=True, tag="absorb"):
    """The second half of a merge across keys (another city or category family).

    The source's worker merges the source out and sends its final state here, keyed by the
    target's key, for the target's worker to absorb: no worker holds both. Derived from the
    archived merge action, so not archived itself."""

    key: str
    action: Action
    source: IncidentState
    recorded_at: datetime


class Tick(msgspec.Struct, frozen=True, tag="tick"):
    """Advance the clocks of every incident on this partition to `watermark`."""

    watermark: datetime


Input = Classified | ClassifiedBatch | ActionIn | Absorb | Tick


class ActionRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The `actions` topic: an action plus the incident key the store knew it under."""

    key: str
    action: Action
    recorded_at: datetime
    target_key: str | None = None  # a merge into an incident of another key


input_decoder = msgspec.json.Decoder(Input)
_classified_decoder = msgspec.json.Decoder(Classified)
post_decoder = msgspec.json.Decoder(Post)
action_request_decoder = msgspec.json.Decoder(ActionRequest)
encoder = msgspec.json.Encoder()


def unbatch(batch: ClassifiedBatch) -> Iterator[tuple[bytes, Classified | str]]:
    """Each item's bytes with its post, or with why it does not decode (naming the item)."""
    for n, item in enumerate(batch.items):
        body = bytes(item)
        try:
            yield body, _classified_decoder.decode(body)
        except msgspec.DecodeError as exc:
            yield body, f"bad input in batch: $.items[{n}]: {exc}"
