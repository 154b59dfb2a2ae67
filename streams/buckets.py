"""The incident agent's state in its Table: one entry per incident and one head per key.

    buckets = Buckets(table.data)
    bucket = buckets.get(key)                 # the Bucket the Processor works on, or None
    writes = buckets.put(before, after)       # table writes, also for the changelog

A key's head (`b:` + key) lists its incidents and carries its watermark and input count; each
incident is its own entry (`i:` + id). Why not one record per key: a key gathers every
incident of a city and category family, and a flood made that one record ~1 MB (40 incidents
× 320 posts), over the broker's limit, so the agent crashed on every write. One entry per
incident keeps each record to one incident's size, which the domain bounds (members, texts,
recent ids, actions), and a batch writes only the incidents it changed.

The decoded Bucket of each key is cached: Faust resumes the agents before changelog recovery
has finished, and recovery then writes older values over newer ones (seen as posts lost after
a rebalance). The copy with more inputs applied (`seq`) is the newer one; after losing and
regaining a partition, the table's copy wins the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, count
from operator import attrgetter, is_not

import msgspec

from monitor.domain.state import IncidentState
from streams.processor import Bucket

log = logging.getLogger(__name__)

HEAD = b"b:"
INCIDENT = b"i:"


class Head(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    partition: int
    ids: tuple[str, ...]
    watermark: datetime | None = None
    seq: int = 0
    moved: dict[str, str] = {}


@dataclass(frozen=True)
class Write:
    """One table entry to set (or delete: value None), in the partition of its key."""

    key: bytes
    value: bytes | None
    partition: int


_head_decoder = msgspec.json.Decoder(Head)
_state_decoder = msgspec.json.Decoder(IncidentState)
_encoder = msgspec.json.Encoder()


_id = attrgetter("id")


def head_key(key: str) -> bytes:
    return HEAD + key.encode()


def incident_key(incident_id: str) -> bytes:
    return INCIDENT + incident_id.encode()


def encode_state(state: IncidentState) -> bytes:
    return _encoder.encode(state)


class Buckets:
    def __init__(self, data: MutableMapping[bytes, bytes]) -> None:
        self.data = data
        self._cache: dict[str, tuple[bytes, Bucket]] = {}
        self._ids: dict[str, tuple[tuple[IncidentState, ...], tuple[str, ...]]] = {}  # last put
        self._written: dict[int, set[str]] = {}  # partition → the keys `put` wrote there

    def held(self) -> set[str]:
        """Every key with a head here (in the table or only in the cache)."""
        found = {k[len(HEAD) :].decode() for k in list(self.data) if k.startswith(HEAD)}
        return found | set(self._cache)

    def held_in(self, partition: int) -> set[str]:
        """The keys that may have a head in `partition` (a caller checks each bucket's own):
        here every key held, as changelog recovery also writes the table, and its keys carry
        no partition (a table only `put` writes can answer from `_written`)."""
        return self.held()

    def get(self, key: str) -> Bucket | None:
        raw = self.data.get(head_key(key))
        hit = self._cache.get(key)
        if raw is None:
            return hit[1] if hit is not None else None
        if hit is not None and hit[0] is raw:
            return hit[1]
        head = _head_decoder.decode(raw)
        if hit is not None and hit[1].seq > head.seq:
            return hit[1]
        bucket = Bucket(
            key=head.key, partition=head.partition, incidents=tuple(self._states(head)),
            watermark=head.watermark, seq=head.seq, moved=head.moved,
        )  # fmt: skip
        self._cache[key] = (raw, bucket)
        return bucket

    def _states(self, head: Head) -> Iterator[IncidentState]:
        for ident in head.ids:
            raw = self.data.get(incident_key(ident))
            if raw is None:
                # a head is written after its incidents, in one partition, so recovery
                # cannot show one without the other; say so loudly if it ever does
                log.error("bucket %s lists incident %s, which the table lacks", head.key, ident)
                continue
            yield _state_decoder.decode(raw)

    def put(
        self,
        before: Bucket | None,
        after: Bucket,
        encoded: dict[str, tuple[IncidentState, bytes]],
    ) -> list[Write]:
        """Write `after` over `before`: changed incidents, dropped ones (deleted), then the
        head. `encoded`: incident id → (state, its encoding), used when the state is the same
        object and filled with what this encodes, so each state is encoded once."""
        old = before.incidents if before is not None else ()
        new = after.incidents
        dropped: list[IncidentState] = []
        same_places = self._in_place(after.key, old, new)
        if same_places is not None:
            changed, ids = same_places
        else:  # incidents dropped or moved: compare by identity, as a set
            unchanged = set(map(id, old))
            changed = [s for s in new if id(s) not in unchanged]
            ids = tuple(map(_id, new))
            kept = set(ids)
            dropped = [s for s in old if s.id not in kept]
        writes: list[Write] = []
        for s in changed:
            hit = encoded.get(s.id)
            if hit is None or hit[0] is not s:
                hit = (s, encode_state(s))
                encoded[s.id] = hit
            writes.append(Write(incident_key(s.id), hit[1], after.partition))
        writes.extend(Write(incident_key(s.id), None, after.partition) for s in dropped)
        self._ids[after.key] = (new, ids)
        head = Head(
            key=after.key, partition=after.partition, ids=ids,
            watermark=after.watermark, seq=after.seq, moved=after.moved,
        )  # fmt: skip
        raw_head = _encoder.encode(head)
        writes.append(Write(head_key(after.key), raw_head, after.partition))
        for w in writes:
            if w.value is None:
                self.data.pop(w.key, None)
            else:
                self.data[w.key] = w.value
        self._cache[after.key] = (raw_head, after)
        self._written.setdefault(after.partition, set()).add(after.key)
        return writes

    def _in_place(
        self, key: str, old: tuple[IncidentState, ...], new: tuple[IncidentState, ...]
    ) -> tuple[list[IncidentState], tuple[str, ...]] | None:
        """When `new` is `old` with some incidents replaced in place (same id) and some added
        after them, as a post, a tick or an action leaves a bucket: the replaced and added
        ones, and the ids of `new`; None otherwise. A key gathers thousands of open incidents
        in a month and a batch changes a few: the objects are compared in C (`is not`), and
        the ids are those of the last write plus the added ones."""
        if len(new) < len(old):
            return None
        at = list(compress(count(), map(is_not, new, old)))
        if any(new[i].id != old[i].id for i in at):
            return None
        hit = self._ids.get(key)
        if hit is not None and hit[0] is old:
            ids = hit[1] + tuple(map(_id, new[len(old) :]))
        else:
            ids = tuple(map(_id, new))
        return [new[i] for i in at] + list(new[len(old) :]), ids
