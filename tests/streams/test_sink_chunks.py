"""The archive sink writes a take of posts.classified in bounded transactions: a take of 1,000
records can hold 1,000 batches of posts, and one list of all their rows was a flooded worker's
largest allocation. Every post is archived once, in the order read, however it is chunked."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from monitor.metrics import Metrics
from monitor.store import Store
from streams import sink
from streams.records import Classified, ClassifiedBatch
from streams.sink import StoreWriter
from tests.integration.helpers import BLAST, classifier, post

encoder = msgspec.json.Encoder()


def _batches(n_batches: int, per: int) -> list[bytes]:
    clf = classifier()
    out = []
    for b in range(n_batches):
        items = tuple(
            msgspec.Raw(encoder.encode(Classified("k", p, clf.classify(p))))
            for p in (post(f"b{b}-{i}", BLAST, i) for i in range(per))
        )
        out.append(encoder.encode(ClassifiedBatch(key="k", items=items)))
    return out


def test_a_take_of_batches_is_archived_in_bounded_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "ARCHIVE_CHUNK", 7)
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    sizes: list[int] = []
    real = store.archive_many

    def spy(rows):  # type: ignore[no-untyped-def]
        sizes.append(len(rows))
        return real(rows)

    monkeypatch.setattr(store, "archive_many", spy)
    writer = StoreWriter(store, Metrics.create())
    batch = _batches(6, 5)  # 30 posts
    assert writer.inputs(batch) == 30
    assert max(sizes) < 7 + 5  # a chunk is flushed once it reaches 7: at most one batch over
    assert len(sizes) > 1
    ids = [r.id for r in store.archived() if r.kind == "input"]
    assert ids == [f"post:b{b}-{i}" for b in range(6) for i in range(5)]
    assert writer.inputs(batch) == 0  # a redelivered take changes nothing
