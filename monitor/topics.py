"""The pipeline's topics and the one record every component puts on `dlq`.

Every producer, consumer, CLI command, benchmark and test names a topic through this table, so a
name is written once. A deployment may prefix every name (tests use a unique prefix each):
`topic(Topic.RAW, prefix)`.

    posts.raw ──classify──▶ posts.classified ──incidents──▶ incident.events, notifications,
    actions ──route──────▶      (key = incident key)            incident.state (read model)
    bad records from anywhere ─▶ dlq (DeadLetter)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec


class Topic(StrEnum):
    RAW = "posts.raw"  # posts from the sources, keyed by post id
    CLASSIFIED = "posts.classified"  # the incident agent's input, keyed by incident key
    EVENTS = "incident.events"  # facts about incidents, keyed by incident id
    NOTIFICATIONS = "notifications"  # notification intents (the outbox's input)
    STATE = "incident.state"  # the read model the store writer saves
    ACTIONS = "actions"  # answers from the API and `monitor act`
    DLQ = "dlq"  # DeadLetter records


ALL: tuple[Topic, ...] = tuple(Topic)


def topic(name: Topic, prefix: str = "") -> str:
    """The broker's name of `name` under a deployment's prefix."""
    return f"{prefix}{name.value}"


# A record larger than this is never written: well under Kafka's and aiokafka's 1 MiB default
# request limit, so a refusal is ours, with a reason, never the broker's MessageSizeTooLargeError.
MAX_RECORD_BYTES = 512 * 1024
# How much of a refused record a dead letter keeps.
DEAD_LETTER_RAW_CHARS = 10_000


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A record refused anywhere (a connector, the worker, the notifier bridge, a replay), with
    where it came from and why. The one schema of the `dlq` topic and of dead-letter files.

    `source`: the topic or the connector source that held it; `where`: the position within it
    (a URL, a file:line, a JSON path); `partition`/`offset` for a topic record."""

    source: str
    reason: str
    raw: str
    at: datetime
    where: str | None = None
    partition: int | None = None
    offset: int | None = None

    @property
    def kind(self) -> str:
        """The reason's first word group, for a metric label of bounded cardinality."""
        return self.reason.split(":", 1)[0][:60]


def excerpt(raw: bytes | str | None, limit: int = DEAD_LETTER_RAW_CHARS) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
    return text[:limit]
